/**
 * Hostile input (issue 9), the live streams: `GET /events/stream` (SSE) and `/events/ws`
 * (WebSocket) never end by themselves, so test/security/fuzz.test.ts leaves them out. Here
 * fast-check sends them hostile filters (`min_level`, `event_type`, `source.<field>` including
 * `source.__proto__`, `alerts_only`) and resume ids (`Last-Event-ID` header or `last_event_id`),
 * each client subscribing and then dropping the connection. Properties: a 4xx with a JSON body or
 * a live subscription, never a 5xx; no prototype pollution; every subscription released (the
 * `madsci_stream_clients` gauge back to 0); and a well-behaved client still gets new events.
 */
import { request } from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { call, eventually, type Running, startServer, STORE_KINDS } from '../server/helpers.js'
import { SseClient } from '../server/stream-clients.js'

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort()

const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', '-1', '1e309', '99999999999999999999', 'NaN', 'ERROR', 'warning', '55', 'log_info,,nope', 'LOG_INFO', 'true', '1', '\ud800', '%', '../..'),
  fc.nat({ max: 3 }).map((n) => 'z'.repeat(10 ** n)),
)
/** Header-safe text (Node refuses control characters in outgoing headers). */
const headerString = fc.oneof(
  fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
  fc.constantFrom('01JRB6Y0000000000000000001', '00000000000000000000000000', 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ', '~', '0'),
  fc.nat({ max: 3 }).map((n) => '9'.repeat(10 ** n)),
)
const params = fc
  .dictionary(
    fc.constantFrom('min_level', 'level', 'event_type', 'alerts_only', 'last_event_id', 'source.node_id', 'source.__proto__', 'source.constructor', 'source.prototype', 'x'),
    hostileString,
    { maxKeys: 4 },
  )
  .map((q) => new URLSearchParams(q).toString())
const lastId = fc.option(headerString, { nil: undefined })

/** Open an SSE request, wait for the status (and for 200 the `: live` mark), then drop it. */
function sseOnce(base: string, query: string, last: string | undefined): Promise<{ status: number; text: string }> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: `/events/stream${query ? `?${query}` : ''}`, agent: false, headers: last === undefined ? {} : { 'last-event-id': last } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        text += d
        if (res.statusCode === 200 && text.includes(': live')) {
          req.destroy()
          resolve({ status: 200, text })
        }
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      res.on('error', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Open a WebSocket, wait for it to open or be refused, then drop it. */
function wsOnce(base: string, query: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/events/ws${query ? `?${query}` : ''}`)
    ws.on('open', () => {
      ws.terminate()
      resolve({ status: 101, text: '' })
    })
    ws.on('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    ws.on('error', () => resolve({ status: 0, text: '' }))
  })
}

async function streamClients(url: string): Promise<number> {
  return Number(/^madsci_stream_clients (\d+)$/m.exec((await call(url, 'GET', '/metrics')).text)?.[1])
}

describe.each(STORE_KINDS)('the live streams under hostile filters (%s store)', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await startServer(kind, `sec-stream-${kind}`)
    // Something to replay after a resume id.
    expect((await call(r.url, 'POST', '/events/batch', Array.from({ length: 20 }, (_, i) => ({ event_type: 'log_info', event_data: { i } })))).status).toBe(200)
    await r.server.flush()
  })
  afterAll(async () => {
    await r?.close()
  })

  it('SSE (200 runs) and WebSocket (100 runs): a live subscription or a JSON 4xx, never 5xx; every subscription released; still streaming', async () => {
    const statuses = new Map<number, number>()
    const count = (s: number): void => void statuses.set(s, (statuses.get(s) ?? 0) + 1)
    await fc.assert(
      fc.asyncProperty(params, lastId, fc.boolean(), async (query, last, inQuery) => {
        const q = inQuery && last !== undefined ? `${query}${query ? '&' : ''}last_event_id=${encodeURIComponent(last)}` : query
        const res = await sseOnce(r.url, q, inQuery ? undefined : last)
        count(res.status)
        expect([q, res.status < 500], res.text.slice(0, 300)).toEqual([q, true])
        if (res.status !== 200) expect(() => JSON.parse(res.text), `${res.status} ${q}`).not.toThrow()
      }),
      { numRuns: 200 },
    )
    await fc.assert(
      fc.asyncProperty(params, async (query) => {
        const res = await wsOnce(r.url, query)
        count(res.status)
        expect([query, res.status === 101 || (res.status >= 400 && res.status < 500)], res.text.slice(0, 300)).toEqual([query, true])
      }),
      { numRuns: 100 },
    )
    // Both outcomes were exercised.
    expect(statuses.get(200)).toBeGreaterThan(20)
    expect([...statuses].filter(([s]) => s >= 400).reduce((a, [, n]) => a + n, 0)).toBeGreaterThan(20)
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTO_KEYS)
    // Every dropped client was unsubscribed.
    await eventually(async () => ((await streamClients(r.url)) === 0 ? true : undefined))
    // A well-behaved client still gets what is posted now.
    const sse = await SseClient.connect(`${r.url}/events/stream?event_type=log_error`)
    await sse.waitLive()
    const posted = await call(r.url, 'POST', '/event', { event_type: 'log_error', log_level: 40, event_data: { after: 'fuzz' } })
    expect(posted.status).toBe(200)
    await eventually(() => (sse.ids.includes(posted.json()._id) ? true : undefined))
    sse.close()
  })
})
