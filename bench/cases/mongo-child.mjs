// One MongoDB throughput run in a fresh process, against a fresh database:
// - ours: createEventLogger({ mongodb }) with its defaults (memory queue, spool on disk for what
//   the queue cannot hold, batches of 1000, 4 in flight): N calls in bursts of 1000 with a yield,
//   then flush(); events/s = N / (first call → flush resolved);
// - raw-seq / raw-par: the same documents (what MongoStore stores), built before the clock starts,
//   written with insertMany({ ordered: false }) in batches of 1000, one at a time or 4 at once,
//   into a collection with the same indexes MongoStore creates.
// Then every event is counted in the database: lost = N − stored (ids are _id, so none can be twice).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { MongoClient } from 'mongodb'
import { childParams, failChild, sendResult, tick } from '../lib/child.mjs'
import { loadCore } from '../lib/load.mjs'

const INDEXES = [
  [{ event_timestamp: 1 }, 'event_timestamp_1'],
  [{ log_level: 1 }, 'log_level_1'],
  [{ archived: 1 }, 'archived_1'],
  [{ archived: 1, archived_at: 1 }, 'archived_1_archived_at_1'],
]

async function ours(p, client) {
  const { createEventLogger } = await loadCore()
  const spool = mkdtempSync(join(tmpdir(), 'madsci-bench-spool-'))
  const logger = createEventLogger({ mongodb: { url: p.url, database: p.db, collection: 'events' }, spool, onWarning: () => {}, env: {} })
  try {
    const t0 = performance.now()
    for (let i = 0; i < p.n; ) {
      const m = Math.min(1000, p.n - i)
      for (let j = 0; j < m; j++, i++) logger.info('bench mongo throughput', { i })
      await tick()
    }
    await logger.flush()
    const seconds = (performance.now() - t0) / 1000
    const s = logger.stats()
    const stored = await client.db(p.db).collection('events').countDocuments({ event_type: 'log_info' })
    await logger.close()
    return { seconds, eventsPerSecond: p.n / seconds, stored, lost: p.n - stored, spooled: s.spooled, replayed: s.replayed, retried: s.retried, dropped: s.dropped }
  } finally {
    rmSync(spool, { recursive: true, force: true })
  }
}

async function raw(p, client, inFlight) {
  const { newUlid, eventToDocument, nowTimestamp } = await loadCore()
  const coll = client.db(p.db).collection('events')
  for (const [keys, name] of INDEXES) await coll.createIndex(keys, { name })
  const docs = []
  for (let i = 0; i < p.n; i++) {
    docs.push(
      eventToDocument({
        event_id: newUlid(),
        event_type: 'log_info',
        log_level: 20,
        alert: false,
        event_timestamp: nowTimestamp('local'),
        source: {},
        event_data: { message: 'bench mongo throughput', i },
        trace_id: null,
        span_id: null,
        archived: false,
        archived_at: null,
      }),
    )
  }
  const batches = []
  for (let i = 0; i < docs.length; i += 1000) batches.push(docs.slice(i, i + 1000))
  const t0 = performance.now()
  let next = 0
  const worker = async () => {
    while (next < batches.length) await coll.insertMany(batches[next++], { ordered: false })
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const seconds = (performance.now() - t0) / 1000
  const stored = await coll.countDocuments({ event_type: 'log_info' })
  return { seconds, eventsPerSecond: p.n / seconds, stored, lost: p.n - stored }
}

try {
  const p = childParams()
  const client = new MongoClient(p.url)
  await client.connect()
  await client.db(p.db).dropDatabase()
  try {
    const r = p.mode === 'ours' ? await ours(p, client) : await raw(p, client, p.mode === 'raw-par' ? 4 : 1)
    await sendResult(r)
  } finally {
    await client.db(p.db).dropDatabase().catch(() => undefined)
    await client.close()
  }
  process.exit(0)
} catch (err) {
  failChild(err)
}
