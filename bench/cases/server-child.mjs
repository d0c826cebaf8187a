// Our server adapter in its own process (as it is deployed), for the HTTP benchmarks: MongoDB
// (FerretDB) or the embedded file store. Answers { type: 'count', selector } with the stored count.
import { childParams, failChild } from '../lib/child.mjs'
import { loadServer } from '../lib/load.mjs'

try {
  const p = childParams()
  const { createServer } = await loadServer()
  const settings =
    p.backend === 'mongo'
      ? { document_db_url: p.mongoUrl, database_name: p.db, collection_name: 'events' }
      : { document_db_url: null, data_file: p.file }
  Object.assign(settings, p.settings)
  const server = createServer({ settings, env: {}, onWarning: () => {} })
  const { url } = await server.listen(0, '127.0.0.1')
  process.on('message', async (m) => {
    try {
      if (m?.type === 'count') process.send({ type: 'count', id: m.id, value: await server.store.countEvents(m.selector) })
      else if (m?.type === 'stop') {
        await server.close({ timeoutMs: 5000 })
        if (p.backend === 'mongo') {
          const client = server.store.client
          await client?.db(p.db).dropDatabase().catch(() => undefined)
        }
        process.exit(0)
      }
    } catch (err) {
      process.send({ type: 'count', id: m.id, error: String(err?.stack ?? err) })
    }
  })
  process.send({ type: 'ready', url })
} catch (err) {
  failChild(err)
}
