// A minimal Event Manager ingest endpoint for the soak: GET /health (advertising the batch
// route), POST /events/batch and POST /event, storing events by id as MongoDB's unique _id does
// and counting the ids it is sent again (re-deliveries after a crash, which the store absorbs).
import { createServer } from 'node:http'

export async function startReceiver() {
  const events = new Map()
  const rx = { events, duplicates: 0, requests: 0, url: '', close: async () => {} }
  const store = (e) => {
    const id = String(e.event_id ?? e._id)
    if (events.has(id)) {
      rx.duplicates++
      return 'duplicate'
    }
    events.set(id, e.event_data)
    return 'created'
  }
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      rx.requests++
      const send = (status, body) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-madsci-events': 'soak; batch' })
        res.end(JSON.stringify(body))
      }
      const path = (req.url ?? '').split('?')[0]
      if (req.method === 'GET' && path === '/health') return send(200, { healthy: true })
      const text = Buffer.concat(chunks).toString('utf8')
      if (req.method === 'POST' && path === '/events/batch') {
        const list = JSON.parse(text)
        return send(200, list.map((e) => ({ event_id: e.event_id, status: store(e) })))
      }
      if (req.method === 'POST' && path === '/event') {
        const e = JSON.parse(text)
        store(e)
        return send(200, e)
      }
      send(404, { detail: 'Not Found' })
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  rx.url = `http://127.0.0.1:${server.address().port}`
  rx.close = async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  return rx
}
