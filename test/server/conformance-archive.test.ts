import { describe, expect, it } from 'vitest'
import { call, naiveDaysAgo, orderedKeys, type Running, STORE_KINDS, withServer } from './helpers.js'

/**
 * SPEC §12 items 10-19 (server: archive and purge) and defect D9 (archiving by id stops after one
 * batch upstream; ours archives every id), on FerretDB and on the embedded file store.
 */

async function post(r: Running, body: Record<string, unknown>): Promise<string> {
  const res = await call(r.url, 'POST', '/event', body)
  expect(res.status).toBe(200)
  return res.json()._id
}

describe.each(STORE_KINDS)('conformance items 10-19 on the %s store', (kind) => {
  it('10-12, 16-18: archiving by id, then reading with and without archived events', async () => {
    await withServer(kind, 'arch', async (r) => {
      const a = await post(r, { event_type: 'test', event_data: { n: 'a' } })
      const b = await post(r, { event_type: 'test', event_data: { n: 'b' } })
      const c = await post(r, { event_type: 'test', event_data: { n: 'c' } })

      const res = await call(r.url, 'POST', '/events/archive', { event_ids: [a, b] })
      expect(res.status).toBe(200)
      expect(res.text).toBe('{"archived_count":2,"message":"Successfully archived 2 events"}')

      const ea = (await call(r.url, 'GET', `/event/${a}`)).json()
      expect(ea.archived).toBe(true)
      expect(ea.archived_at).not.toBeNull()
      // 12: parses as an ISO datetime once a trailing Z is replaced by +00:00 (Python fromisoformat).
      expect(ea.archived_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)?$/)
      expect(Number.isNaN(Date.parse(ea.archived_at.replace(/Z$/, '+00:00')))).toBe(false)
      const ec = (await call(r.url, 'GET', `/event/${c}`)).json()
      expect(ec.archived).toBe(false)
      expect(ec.archived_at).toBeNull()

      // Archiving again counts only events not archived yet.
      expect((await call(r.url, 'POST', '/events/archive', { event_ids: [a, b, c] })).json().archived_count).toBe(1)

      const visible = orderedKeys((await call(r.url, 'GET', '/events?number=100')).text)
      expect(visible).not.toContain(a)
      expect(visible).not.toContain(b)
      const all = orderedKeys((await call(r.url, 'GET', '/events?number=100&include_archived=true')).text)
      expect(all).toEqual(expect.arrayContaining([a, b, c]))

      const archived = (await call(r.url, 'GET', '/events/archived')).json<Record<string, { archived: boolean }>>()
      expect(Object.keys(archived).sort()).toEqual([a, b, c].sort())
      for (const e of Object.values(archived)) expect(e.archived).toBe(true)
      // number/offset page the archived list, newest archived_at first.
      expect(orderedKeys((await call(r.url, 'GET', '/events/archived?number=1')).text)).toEqual([c])
      expect(orderedKeys((await call(r.url, 'GET', '/events/archived?number=1&offset=1')).text)).toHaveLength(1)
    })
  })

  it('13, 14: before_date archives old events only, looping over batches of batch_size', async () => {
    await withServer(kind, 'archdate', async (r) => {
      const old = await post(r, { event_type: 'test', event_timestamp: naiveDaysAgo(100) })
      const fresh = await post(r, { event_type: 'test', event_timestamp: naiveDaysAgo(0) })
      const res = await call(r.url, 'POST', '/events/archive', { before_date: naiveDaysAgo(50) })
      expect(res.status).toBe(200)
      expect(res.json().archived_count).toBeGreaterThanOrEqual(1)
      expect((await call(r.url, 'GET', `/event/${old}`)).json().archived).toBe(true)
      expect((await call(r.url, 'GET', `/event/${fresh}`)).json().archived).toBe(false)

      for (let i = 0; i < 5; i++) await post(r, { event_type: 'test', event_timestamp: naiveDaysAgo(200 + i) })
      const batched = await call(r.url, 'POST', '/events/archive', { before_date: naiveDaysAgo(150), batch_size: 2 })
      expect(batched.text).toBe('{"archived_count":5,"message":"Successfully archived 5 events"}')
    })
  })

  it('D9: archiving by event_ids archives every id, however many batches that takes', async () => {
    await withServer(kind, 'archids', async (r) => {
      const events = Array.from({ length: 25 }, (_, i) => ({ event_id: `d9-${String(i).padStart(2, '0')}`, event_type: 'test' }))
      const batch = await call(r.url, 'POST', '/events/batch', events)
      expect(batch.status).toBe(200)
      const res = await call(r.url, 'POST', '/events/archive', { event_ids: events.map((e) => e.event_id), batch_size: 4 })
      // MADSci stops after one batch (4); every id is archived here.
      expect(res.text).toBe('{"archived_count":25,"message":"Successfully archived 25 events"}')
      expect(Object.keys((await call(r.url, 'GET', '/events/archived?number=0')).json())).toHaveLength(25)
    })
  })

  it('when both event_ids and before_date are given, event_ids wins', async () => {
    await withServer(kind, 'archboth', async (r) => {
      const old = await post(r, { event_timestamp: naiveDaysAgo(100) })
      const chosen = await post(r, {})
      const res = await call(r.url, 'POST', '/events/archive', { event_ids: [chosen], before_date: naiveDaysAgo(50) })
      expect(res.json().archived_count).toBe(1)
      expect((await call(r.url, 'GET', `/event/${old}`)).json().archived).toBe(false)
      expect((await call(r.url, 'GET', `/event/${chosen}`)).json().archived).toBe(true)
    })
  })

  it('15: an archive request with neither event_ids nor before_date is a FastAPI 422 with MADSci message', async () => {
    await withServer(kind, 'arch422', async (r) => {
      for (const body of [{}, { event_ids: [] }, { event_ids: null, before_date: null }]) {
        const res = await call(r.url, 'POST', '/events/archive', body)
        expect(res.status).toBe(422)
        expect(res.json()).toEqual({
          detail: [{ type: 'value_error', loc: ['body'], msg: 'Value error, Either event_ids or before_date must be provided', input: body, ctx: { error: {} } }],
        })
      }
      // Field types are validated as pydantic does.
      expect((await call(r.url, 'POST', '/events/archive', { event_ids: 'x' })).json().detail).toEqual([{ type: 'list_type', loc: ['body', 'event_ids'], msg: 'Input should be a valid list', input: 'x' }])
      expect((await call(r.url, 'POST', '/events/archive', { event_ids: [1] })).json().detail).toEqual([{ type: 'string_type', loc: ['body', 'event_ids', 0], msg: 'Input should be a valid string', input: 1 }])
      expect((await call(r.url, 'POST', '/events/archive', { event_ids: ['a'], batch_size: 5.5 })).json().detail[0].type).toBe('int_from_float')
      expect((await call(r.url, 'POST', '/events/archive', { event_ids: ['a'], batch_size: '5' })).status).toBe(200)
      expect((await call(r.url, 'POST', '/events/archive', 'null')).json().detail[0].type).toBe('model_attributes_type')
      expect((await call(r.url, 'POST', '/events/archive', '')).json().detail).toEqual([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }])
    })
  })

  it('19: DELETE /events/archived?older_than_days=0 purges archived events (exact message), and a purged id is then 404', async () => {
    await withServer(kind, 'purge', async (r) => {
      const gone = await post(r, { event_type: 'test' })
      const kept = await post(r, { event_type: 'test' })
      await call(r.url, 'POST', '/events/archive', { event_ids: [gone] })
      // The age counts from the archive time: a year-old threshold keeps it.
      expect((await call(r.url, 'DELETE', '/events/archived')).text).toBe('{"deleted_count":0,"message":"Permanently deleted 0 archived events older than 365 days"}')
      const res = await call(r.url, 'DELETE', '/events/archived?older_than_days=0')
      expect(res.status).toBe(200)
      expect(res.text).toBe('{"deleted_count":1,"message":"Permanently deleted 1 archived events older than 0 days"}')
      expect((await call(r.url, 'GET', `/event/${gone}`)).text).toBe(`{"detail":"Event with ID ${gone} not found"}`)
      expect((await call(r.url, 'GET', `/event/${kept}`)).status).toBe(200)
    })
  })
})
