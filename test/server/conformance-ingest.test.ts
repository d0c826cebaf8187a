import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, orderedKeys, runPython, type Running, startServer, STORE_KINDS, withServer } from './helpers.js'

/**
 * SPEC §12 items 1-9 (server: ingest and query) against our server, on FerretDB and on the
 * embedded file store. Requests are plain HTTP as in upstream's test_event_server.py; the event
 * bodies and the equality checks come from the real Python `Event` model (madsci 0.8.1).
 */

const EVENT_KEYS = ['_id', 'event_type', 'log_level', 'alert', 'event_timestamp', 'source', 'event_data', 'trace_id', 'span_id', 'archived', 'archived_at']

describe.each(STORE_KINDS)('conformance items 1-9 on the %s store', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await startServer(kind, 'ingest')
  })
  afterAll(async () => {
    await r?.close()
  })

  it('1, 9: GET /health is 200 with exactly MADSci keys, healthy, db_connected and an integer total_events', async () => {
    const res = await call(r.url, 'GET', '/health')
    expect(res.status).toBe(200)
    expect(orderedKeys(res.text)).toEqual(['healthy', 'description', 'version', 'db_connected', 'total_events', 'otel_enabled', 'otel_exporter_type', 'otel_endpoint'])
    const h = res.json()
    expect(h).toMatchObject({ healthy: true, description: 'Event Manager is running normally', db_connected: true, otel_enabled: null, otel_exporter_type: null, otel_endpoint: null })
    expect(Number.isInteger(h.total_events) && h.total_events >= 0).toBe(true)
    expect(typeof h.version).toBe('string')
  })

  it('2, 3: a client-style body (key event_id) echoes byte-identically to Python, equals the sent Event in Python, and GET /event/{id} returns the same', async () => {
    const out = await runPython(
      `
import httpx, json
from madsci.common.types.event_types import Event, EventType
from madsci_peer import output, server_url
e = Event(event_type=EventType.TEST, event_data={"test": "data"})
body = e.model_dump(mode="json")
assert "event_id" in body and "_id" not in body
posted = httpx.post(server_url() + "/event", json=body)
got = httpx.get(server_url() + "/event/" + e.event_id)
output({
  "sent": body,
  "expected": e.model_dump_json(by_alias=True),
  "post_status": posted.status_code, "post_text": posted.text,
  "get_status": got.status_code, "get_text": got.text,
  "post_equal": Event.model_validate(posted.json()) == e,
  "get_equal": Event.model_validate(got.json()) == e,
})
`,
      { serverUrl: r.url },
    )
    expect(out.sent.event_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/)
    expect(out.post_status).toBe(200)
    expect(out.post_text).toBe(out.expected)
    expect(out.get_status).toBe(200)
    expect(out.get_text).toBe(out.expected)
    expect(orderedKeys(out.get_text)).toEqual(EVENT_KEYS)
    expect(out.post_equal).toBe(true)
    expect(out.get_equal).toBe(true)
  })

  it('4: GET /event/{unknown} is 404 with the exact MADSci detail', async () => {
    for (const id of ['01JRB6Z6B1T3V7M9Q2W4E8R5TZ', 'no-such-id', 'with space']) {
      const res = await call(r.url, 'GET', `/event/${encodeURIComponent(id)}`)
      expect(res.status).toBe(404)
      expect(res.headers.get('content-type')).toBe('application/json')
      expect(res.text).toBe(`{"detail":"Event with ID ${id} not found"}`)
    }
  })

  it('5: after 10 posts, GET /events?number=5 returns exactly the 5 newest with non-increasing timestamps', async () => {
    await withServer(kind, 'ingest5', async (s) => {
      const ids: string[] = []
      for (let i = 0; i < 10; i++) {
        const res = await call(s.url, 'POST', '/event', { event_type: 'test', event_timestamp: `2026-04-09T14:47:1${i}.123456`, event_data: { i } })
        expect(res.status).toBe(200)
        ids.push(res.json()._id)
      }
      const res = await call(s.url, 'GET', '/events?number=5')
      expect(res.status).toBe(200)
      const keys = orderedKeys(res.text)
      expect(keys).toEqual(ids.slice(5).reverse())
      const stamps = Object.values(res.json<Record<string, { event_timestamp: string }>>()).map((e) => e.event_timestamp)
      expect([...stamps].sort().reverse()).toEqual(stamps)
    })
  })

  it('6: POST /events/query with a dotted path and $gte returns exactly the matching events', async () => {
    await withServer(kind, 'ingest6', async (s) => {
      const want: string[] = []
      for (let i = 0; i < 20; i++) {
        const res = await call(s.url, 'POST', '/event', { event_type: 'test', event_data: { test: i } })
        if (i >= 10) want.push(res.json()._id)
      }
      const res = await call(s.url, 'POST', '/events/query', { 'event_data.test': { $gte: 10 } })
      expect(res.status).toBe(200)
      const got = res.json<Record<string, { event_data: { test: number } }>>()
      expect(Object.keys(got).sort()).toEqual(want.sort())
      for (const e of Object.values(got)) expect(e.event_data.test).toBeGreaterThanOrEqual(10)
    })
  })

  it('7: response maps are keyed by id, each value has _id equal to its key, in the server order even for integer-like ids', async () => {
    await withServer(kind, 'ingest7', async (s) => {
      // Newest first: "10", then "2", then "abc", then "1" (a JS object would put "1", "2", "10" first).
      const posted = [
        ['1', '2026-01-01T00:00:01'],
        ['abc', '2026-01-01T00:00:02'],
        ['2', '2026-01-01T00:00:03'],
        ['10', '2026-01-01T00:00:04'],
      ]
      for (const [id, ts] of posted) expect((await call(s.url, 'POST', '/event', { _id: id, event_timestamp: ts })).status).toBe(200)
      for (const path of ['/events', '/events?include_archived=true']) {
        const res = await call(s.url, 'GET', path)
        expect(orderedKeys(res.text)).toEqual(['10', '2', 'abc', '1'])
        for (const [k, v] of Object.entries(res.json<Record<string, { _id: string }>>())) expect(v._id).toBe(k)
      }
      const q = await call(s.url, 'POST', '/events/query', { _id: { $in: ['10', '2'] } })
      for (const [k, v] of Object.entries(q.json<Record<string, { _id: string }>>())) expect(v._id).toBe(k)
      expect(orderedKeys(q.text).sort()).toEqual(['10', '2'])
    })
  })

  it('a duplicate id answers 200 with the stored version and leaves it unchanged (MADSci echoes the posted body; issue 21)', async () => {
    const first = await call(r.url, 'POST', '/event', { _id: 'dup-1', event_data: { v: 1 } })
    const second = await call(r.url, 'POST', '/event', { _id: 'dup-1', event_data: { v: 2 } })
    expect(first.status).toBe(200)
    expect(second.status).toBe(200)
    expect(second.json()).toEqual(first.json())
    expect((await call(r.url, 'GET', '/event/dup-1')).json().event_data).toEqual({ v: 1 })
  })

  it('an event without source gets the server manager_id; server-made timestamps are Python-naive with microseconds', async () => {
    const res = await call(r.url, 'POST', '/event', {})
    const e = res.json()
    expect(e.source).toEqual({ manager_id: r.server.settings.manager_id })
    expect(e.event_type).toBe('unknown')
    expect(e.log_level).toBe(20)
    expect(e.event_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    expect(e._id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
  })
})
