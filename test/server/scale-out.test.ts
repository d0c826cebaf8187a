import { describe, expect, it } from 'vitest'
import { call, eventually, runPython, startServer } from './helpers.js'
import { SseClient, WsClient } from './stream-clients.js'

/**
 * Scale-out: several instances share one database. FerretDB has no change streams, so each
 * instance polls the store (by `_id`) for what the others ingest; a client streaming from one
 * instance sees events posted to any of them, once each, and can resume on another instance.
 */

describe('two instances on one FerretDB database', () => {
  it('a client streaming from B sees what A ingests (single, batch, and from the Python EventClient), once each, in order', async () => {
    const a = await startServer('ferretdb', 'scale', { keepDatabase: true, settings: { live_poll_interval_ms: 100 } })
    const b = await startServer('ferretdb', 'scale', { database: a.database, settings: { live_poll_interval_ms: 100 } })
    try {
      expect(b.warnings.map((w) => w.code)).toContain('MADSCI_WARN_NO_CHANGE_STREAMS')
      const sse = await SseClient.connect(`${b.url}/events/stream?event_type=test,log_info`)
      await sse.waitLive()
      const ws = await WsClient.connect(`${b.url.replace('http', 'ws')}/events/ws?min_level=ERROR`)
      await ws.waitLive()

      const viaA: string[] = []
      for (let i = 0; i < 5; i++) viaA.push((await call(a.url, 'POST', '/event', { event_type: 'test', event_data: { i, on: 'A' } })).json()._id)
      const batch = await call(a.url, 'POST', '/events/batch', Array.from({ length: 20 }, (_, i) => ({ event_type: 'test', log_level: i % 2 ? 40 : 20, event_data: { i, on: 'A-batch' } })))
      const batchIds = batch.json<Array<{ event_id: string }>>().map((x) => x.event_id)
      const viaB = (await call(b.url, 'POST', '/event', { event_type: 'test', event_data: { on: 'B' } })).json()._id
      const py = await runPython(
        `
from madsci_peer import event_client, output, wait_for_sends
c = event_client()
c.info("from python via A", n=1)
wait_for_sends()
output(list(c.get_events(number=1).keys()))
`,
        { serverUrl: a.url },
      )
      const expected = [...viaA, ...batchIds, viaB, ...py]
      await eventually(() => (expected.every((id) => sse.ids.includes(id)) ? true : undefined))
      // Each once; A's events in the order A stored them.
      expect(new Set(sse.ids).size).toBe(sse.ids.length)
      expect(sse.ids.sort()).toEqual(expected.sort())
      const fromA = sse.ids.filter((id) => [...viaA, ...batchIds].includes(id))
      expect(fromA).toEqual([...viaA, ...batchIds].sort())
      // The WebSocket filter applies to events from the other instance too.
      const errors = batchIds.filter((_, i) => i % 2)
      await eventually(() => (errors.every((id) => ws.ids.includes(id)) ? true : undefined))
      expect(ws.ids).toEqual(errors)

      // A client resumes on A with the last id it got from B, and misses nothing posted meanwhile.
      const last = sse.ids.at(-1) as string
      sse.close()
      const later = (await call(b.url, 'POST', '/event', { event_type: 'test', event_data: { later: true } })).json()._id
      await a.server.core.flush()
      await b.server.core.flush()
      const resumed = await SseClient.connect(`${a.url}/events/stream?event_type=test,log_info`, { 'last-event-id': last })
      await resumed.waitLive()
      await eventually(() => (resumed.ids.includes(later) ? true : undefined))
      expect(resumed.ids).toEqual([later])
      resumed.close()
      ws.close()

      // Both instances read the same store.
      const onA = Object.keys((await call(a.url, 'GET', '/events?number=0')).json()).sort()
      const onB = Object.keys((await call(b.url, 'GET', '/events?number=0')).json()).sort()
      expect(onA).toEqual(onB)
      expect(onA).toHaveLength(expected.length + 1)
    } finally {
      await b.close()
      await a.close()
    }
  })
})

describe('polling the shared database only while someone listens', () => {
  it('an instance without clients does not read the store; a client resuming there still gets what the other instance stored meanwhile', async () => {
    const a = await startServer('ferretdb', 'scale-idle', { keepDatabase: true, settings: { live_poll_interval_ms: 50 } })
    const b = await startServer('ferretdb', 'scale-idle', { database: a.database, settings: { live_poll_interval_ms: 50 } })
    try {
      const first = (await call(a.url, 'POST', '/event', { event_type: 'test', event_data: { on: 'A' } })).json()._id
      const fromB: string[] = []
      for (let i = 0; i < 3; i++) fromB.push((await call(b.url, 'POST', '/event', { event_type: 'test', event_data: { i, on: 'B' } })).json()._id)
      await b.server.core.flush()
      // Many poll intervals with nobody listening on A: no reads.
      const polls = a.server.context.live.polls
      expect(await a.server.store.countEvents({})).toBe(4)
      await new Promise((r) => setTimeout(r, 500))
      expect(a.server.context.live.polls).toBe(polls)
      // A new client on A starts the polls again; the first one reads B's events, which are history
      // to this client: buffered, not sent.
      const fresh = await SseClient.connect(`${a.url}/events/stream?event_type=test`)
      await fresh.waitLive()
      await eventually(() => (a.server.context.live.polls >= polls + 3 ? true : undefined))
      expect(fresh.ids).toEqual([])
      // `first` is in A's buffer, but B's events were not when it was buffered: the resume reads the store.
      const resumed = await SseClient.connect(`${a.url}/events/stream?event_type=test`, { 'last-event-id': first })
      await resumed.waitLive()
      await eventually(() => (fromB.every((id) => resumed.ids.includes(id)) ? true : undefined))
      expect(resumed.ids).toEqual(fromB)
      // B's new events arrive live.
      const live = (await call(b.url, 'POST', '/event', { event_type: 'test', event_data: { live: true } })).json()._id
      await eventually(() => (resumed.ids.includes(live) ? true : undefined))
      expect(resumed.ids).toEqual([...fromB, live])
      await eventually(() => (fresh.ids.includes(live) ? true : undefined))
      expect(fresh.ids).toEqual([live])
      fresh.close()
      resumed.close()
    } finally {
      await b.close()
      await a.close()
    }
  })
})

describe('an event id from the future', () => {
  it('a client-chosen ULID of year 10889 does not move the poll past every real id: later events from A still reach a client on B', async () => {
    const a = await startServer('ferretdb', 'scale-future', { keepDatabase: true, settings: { live_poll_interval_ms: 50 } })
    const b = await startServer('ferretdb', 'scale-future', { database: a.database, settings: { live_poll_interval_ms: 50 } })
    try {
      const sse = await SseClient.connect(`${b.url}/events/stream?event_type=test`)
      await sse.waitLive()
      // The greatest ULID there is: its time (2^48 − 1 ms) is in year 10889.
      const future = '7ZZZZZZZZZZZZZZZZZZZZZZZZZ'
      expect((await call(a.url, 'POST', '/event', { event_id: future, event_type: 'test' })).status).toBe(200)
      await eventually(() => (sse.ids.includes(future) ? true : undefined))
      const polls = b.server.context.live.polls
      await eventually(() => (b.server.context.live.polls >= polls + 2 ? true : undefined))
      const later = (await call(a.url, 'POST', '/event', { event_type: 'test', event_data: { after: 'future' } })).json()._id
      await eventually(() => (sse.ids.includes(later) ? true : undefined))
      expect(sse.ids).toEqual([future, later])
      sse.close()
    } finally {
      await b.close()
      await a.close()
    }
  })
})
