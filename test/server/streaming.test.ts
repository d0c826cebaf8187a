import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, eventually, type Running, startServer, type StoreKind, STORE_KINDS } from './helpers.js'
import { SseClient, WsClient } from './stream-clients.js'

/**
 * Live streaming (beyond MADSci): `GET /events/stream` (Server-Sent Events) and `/events/ws`
 * (WebSocket). Filters (min_level, event_type, source.<field>, alerts_only), resume after a
 * reconnect with Last-Event-ID / last_event_id without gaps or duplicates (events that arrived
 * while disconnected included, from memory or, past the buffer, from the store), and a client
 * that stops reading is disconnected without holding the server's memory.
 */

type Transport = 'sse' | 'ws'
type Client = SseClient | WsClient

async function open(t: Transport, r: Running, query = '', lastId?: string): Promise<Client> {
  if (t === 'sse') {
    const c = await SseClient.connect(`${r.url}/events/stream${query ? `?${query}` : ''}`, lastId ? { 'last-event-id': lastId } : {})
    await c.waitLive()
    return c
  }
  const q = new URLSearchParams(query)
  if (lastId) q.set('last_event_id', lastId)
  const c = await WsClient.connect(`${r.url.replace('http', 'ws')}/events/ws?${q}`)
  await c.waitLive()
  return c
}

async function postAll(r: Running, bodies: Array<Record<string, unknown>>): Promise<string[]> {
  const ids: string[] = []
  for (const b of bodies) {
    const res = await call(r.url, 'POST', '/event', b)
    expect(res.status).toBe(200)
    ids.push(res.json()._id)
  }
  return ids
}

const NODE = '01JRB6Z6B1T3V7M9Q2W4E8R5TA'
const OTHER = '01JRB6Z6B1T3V7M9Q2W4E8R5TB'

describe.each(['sse', 'ws'] as const)('live stream over %s', (t) => {
  let r: Running
  beforeAll(async () => {
    r = await startServer('file', `stream-${t}`)
  })
  afterAll(async () => {
    await r?.close()
  })

  it('sends exactly the events matching min_level, event_type (comma list) and source.<field>, in order, in the _id form', async () => {
    const c = await open(t, r, `min_level=WARNING&event_type=node_error,test&source.node_id=${NODE}`)
    const alerts = await open(t, r, 'alerts_only=true')
    const all = await open(t, r)
    try {
      const cases = [
        { event_type: 'node_error', log_level: 40, source: { node_id: NODE } }, // match
        { event_type: 'node_error', log_level: 20, source: { node_id: NODE } }, // level too low
        { event_type: 'workflow_start', log_level: 40, source: { node_id: NODE } }, // type
        { event_type: 'test', log_level: 50, source: { node_id: OTHER } }, // source
        { event_type: 'test', log_level: 30, source: { node_id: NODE, workflow_id: OTHER } }, // match
        { event_type: 'test', log_level: 30 }, // no source
        { event_type: 'test', log_level: 10, alert: true, source: { node_id: NODE } }, // alert, level too low
        { event_type: 'node_error', log_level: 50, source: { node_id: NODE }, event_data: { last: true } }, // match
      ]
      const ids = await postAll(r, cases)
      await all.waitFor(cases.length)
      await c.waitFor(3)
      expect(c.ids).toEqual([ids[0], ids[4], ids[7]])
      expect(all.ids).toEqual(ids)
      await alerts.waitFor(1)
      expect(alerts.ids).toEqual([ids[6]])
      // The streamed event is byte-for-byte what GET /event/{id} returns.
      const text = (await call(r.url, 'GET', `/event/${ids[7]}`)).text
      expect(JSON.stringify(c.events[2].event)).toBe(text)
    } finally {
      for (const x of [c, alerts, all]) x.close()
    }
  })

  it('a bad filter is refused with a FastAPI 422 before streaming', async () => {
    if (t === 'sse') {
      const c = await SseClient.connect(`${r.url}/events/stream?min_level=loud&event_type=nope`)
      await eventually(() => (c.closed || c.body.endsWith('}') ? true : undefined))
      expect(c.status).toBe(422)
      expect(JSON.parse(c.body).detail.map((d: { loc: string[] }) => d.loc)).toEqual([
        ['query', 'min_level'],
        ['query', 'event_type'],
      ])
      c.close()
    } else {
      const err = await WsClient.connect(`${r.url.replace('http', 'ws')}/events/ws?min_level=loud`).catch((e: { status: number; body: string }) => e)
      expect((err as { status: number }).status).toBe(422)
      expect(JSON.parse((err as { body: string }).body).detail[0].loc).toEqual(['query', 'min_level'])
    }
  })

  it('resumes after a reconnect with the last id: exactly the events missed while disconnected, then live ones, no duplicates', async () => {
    const first = await open(t, r, 'event_type=test')
    const before = await postAll(r, Array.from({ length: 5 }, (_, i) => ({ event_type: 'test', event_data: { phase: 'before', i } })))
    await first.waitFor(5)
    expect(first.ids).toEqual(before)
    const last = first.ids[4]
    first.close()
    // Arrive while the client is away (some not matching the filter).
    const missed = await postAll(r, Array.from({ length: 7 }, (_, i) => ({ event_type: 'test', event_data: { phase: 'missed', i } })))
    await postAll(r, [{ event_type: 'node_error', log_level: 40 }])
    const second = await open(t, r, 'event_type=test', last)
    // Everything missed was sent before the stream went live.
    expect(second.ids).toEqual(missed)
    const after = await postAll(r, Array.from({ length: 3 }, (_, i) => ({ event_type: 'test', event_data: { phase: 'after', i } })))
    await second.waitFor(10)
    expect(second.ids).toEqual([...missed, ...after])
    expect(new Set(second.ids).size).toBe(second.ids.length)
    second.close()
    // Without a last id, a new client gets only what arrives from now on.
    const fresh = await open(t, r, 'event_type=test')
    expect(fresh.events).toEqual([])
    fresh.close()
  })

  it('a client that stops reading is disconnected once 4 MiB wait for it; it resumes with its last id, the catch-up going at its pace', async () => {
    const slow = await open(t, r, 'event_type=data_store')
    const watcher = await open(t, r, 'event_type=data_store')
    const [first] = await postAll(r, [{ event_type: 'data_store', event_data: { first: true } }])
    await slow.waitFor(1)
    slow.pause()
    const big = 'x'.repeat(64 * 1024)
    const ids: string[] = [first]
    // ~19 MiB in all, far beyond the socket buffers and the 4 MiB limit.
    for (let b = 0; b < 6; b++) {
      const res = await call(r.url, 'POST', '/events/batch', Array.from({ length: 50 }, (_, i) => ({ event_type: 'data_store', event_data: { b, i, big } })))
      ids.push(...res.json<Array<{ event_id: string }>>().map((x) => x.event_id))
    }
    await watcher.waitFor(ids.length)
    expect(watcher.ids).toEqual(ids)
    // The server dropped the slow one: once it reads again, it gets what was in flight, then the end.
    slow.resume()
    await eventually(() => (slow.closed ? true : undefined))
    expect(watcher.closed).toBe(false)
    // What it got before the cut is a prefix.
    const got = slow.ids
    expect(got).toEqual(ids.slice(0, got.length))
    expect(got.length).toBeLessThan(ids.length)
    // Reconnecting with its last id replays the rest (far more than 4 MiB) without being cut again.
    const again = await open(t, r, 'event_type=data_store', got.at(-1))
    expect(again.ids).toEqual(ids.slice(got.length))
    const [live] = await postAll(r, [{ event_type: 'data_store', event_data: { live: true } }])
    await eventually(() => (again.ids.includes(live) ? true : undefined))
    expect(again.closed).toBe(false)
    again.close()
    watcher.close()
  })
})

describe.each(STORE_KINDS)('resume beyond the in-memory buffer on the %s store', (kind: StoreKind) => {
  it('an id older than the buffer resumes from the store, by id order, with nothing missing', async () => {
    const r = await startServer(kind, 'stream-store', { settings: { live_buffer_events: 5 } })
    try {
      const c = await open('sse', r)
      const [first] = await postAll(r, [{ event_type: 'test', event_data: { n: 0 } }])
      await c.waitFor(1)
      c.close()
      // 20 events while away: the 5-event buffer no longer holds the client's last id.
      const missed = await postAll(r, Array.from({ length: 20 }, (_, i) => ({ event_type: 'test', event_data: { n: i + 1 } })))
      // Wait until the pipeline stored them (the store is where the resume reads).
      await r.server.core.flush()
      for (const t of ['sse', 'ws'] as const) {
        const again = await open(t, r, '', first)
        expect(again.ids).toEqual(missed)
        const live = await postAll(r, [{ event_type: 'test', event_data: { live: t } }])
        await again.waitFor(21)
        expect(again.ids).toEqual([...missed, ...live])
        again.close()
        missed.push(...live)
      }
    } finally {
      await r.close()
    }
  })
})

describe('the live hub publishes each event once', () => {
  it('a store poll re-reading recent events does not resend the ones the small buffer has dropped', async () => {
    // FerretDB has no change streams: the hub polls the store every 50 ms, re-reading the last 5 s.
    const r = await startServer('ferretdb', 'stream-dedup', { settings: { live_buffer_events: 5, live_poll_interval_ms: 50 } })
    try {
      const c = await open('sse', r)
      const ids = await postAll(r, Array.from({ length: 20 }, (_, i) => ({ event_type: 'test', event_data: { i } })))
      await r.server.core.flush()
      // Several polls after the events were stored: each one reads all 20 again.
      const polls = r.server.context.live.polls
      await eventually(() => (r.server.context.live.polls >= polls + 3 ? true : undefined))
      const [last] = await postAll(r, [{ event_type: 'test', event_data: { last: true } }])
      await eventually(() => (c.ids.includes(last) ? true : undefined))
      expect(c.ids).toEqual([...ids, last])
      c.close()
    } finally {
      await r.close()
    }
  })
})
