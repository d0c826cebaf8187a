import { describe, expect, it } from 'vitest'
import { call, naiveDaysAgo, orderedKeys, STORE_KINDS, withServer } from './helpers.js'

/**
 * SPEC §12 items 24-28 (pagination and time filters of GET /events) and the query-parameter
 * rules of FastAPI (pydantic lax integers, level names, booleans, 422 shapes), on both stores.
 */

describe.each(STORE_KINDS)('conformance items 24-28 on the %s store', (kind) => {
  it('24: number/offset pages do not overlap; number=0 means no limit; a negative number is its absolute value (MongoDB limit)', async () => {
    await withServer(kind, 'pages', async (r) => {
      for (let i = 0; i < 12; i++) await call(r.url, 'POST', '/event', { event_timestamp: `2026-03-01T00:00:${String(i).padStart(2, '0')}`, event_data: { i } })
      const p1 = orderedKeys((await call(r.url, 'GET', '/events?number=5&offset=0')).text)
      const p2 = orderedKeys((await call(r.url, 'GET', '/events?number=5&offset=5')).text)
      expect(p1).toHaveLength(5)
      expect(p2).toHaveLength(5)
      expect(p1.filter((id) => p2.includes(id))).toEqual([])
      expect(orderedKeys((await call(r.url, 'GET', '/events?number=0')).text)).toHaveLength(12)
      expect(orderedKeys((await call(r.url, 'GET', '/events?number=-2')).text)).toEqual(p1.slice(0, 2))
      // pydantic's lax integers: a zero fraction, whitespace, a sign and underscores.
      expect(orderedKeys((await call(r.url, 'GET', '/events?number=3.0')).text)).toHaveLength(3)
      expect(orderedKeys((await call(r.url, 'GET', '/events?number=%203%20')).text)).toHaveLength(3)
      expect(orderedKeys((await call(r.url, 'GET', '/events?number=1_0')).text)).toHaveLength(10)
      for (const bad of ['5.5', '1e3', '0x10', '']) {
        const res = await call(r.url, 'GET', `/events?number=${encodeURIComponent(bad)}`)
        expect(res.status).toBe(422)
        expect(res.json()).toEqual({ detail: [{ type: 'int_parsing', loc: ['query', 'number'], msg: 'Input should be a valid integer, unable to parse string as an integer', input: bad }] })
      }
      // MADSci answers a negative offset with a plain-text 500 (a database error); ours is a FastAPI 422.
      const neg = await call(r.url, 'GET', '/events?offset=-1')
      expect(neg.status).toBe(422)
      expect(neg.json()).toEqual({ detail: [{ type: 'greater_than_equal', loc: ['query', 'offset'], msg: 'Input should be greater than or equal to 0', input: '-1', ctx: { ge: 0 } }] })
    })
  })

  it('25-28: start_time / end_time take Python-naive ISO strings and compare as MADSci does', async () => {
    await withServer(kind, 'times', async (r) => {
      const ids: Record<string, string> = {}
      for (const [name, days] of [['d20', 20], ['d10', 10], ['now', 0]] as const) {
        ids[name] = (await call(r.url, 'POST', '/event', { event_type: 'test', event_timestamp: naiveDaysAgo(days) })).json()._id
      }
      const get = async (q: string): Promise<string[]> => orderedKeys((await call(r.url, 'GET', `/events?${q}`)).text)
      const since5 = await get(`start_time=${naiveDaysAgo(5)}`)
      expect(since5).toContain(ids.now)
      expect(since5).not.toContain(ids.d10)
      const until5 = await get(`end_time=${naiveDaysAgo(5)}`)
      expect(until5).toContain(ids.d10)
      expect(until5).not.toContain(ids.now)
      expect(await get(`start_time=${naiveDaysAgo(15)}&end_time=${naiveDaysAgo(5)}`)).toEqual([ids.d10])
      // A date alone is midnight; an aware bound compares as Python's isoformat() (+00:00).
      expect(await get('start_time=2000-01-01&end_time=2000-01-02')).toEqual([])
      const bad = await call(r.url, 'GET', '/events?start_time=bad')
      expect(bad.status).toBe(422)
      expect(bad.json().detail[0]).toMatchObject({ type: 'datetime_from_date_parsing', loc: ['query', 'start_time'], input: 'bad' })
    })
  })

  it('level filters by number (any integer) or MADSci level name, never by pino aliases; booleans are FastAPI booleans', async () => {
    await withServer(kind, 'levels', async (r) => {
      for (const l of [10, 20, 30, 40, 50]) await call(r.url, 'POST', '/event', { log_level: l, event_data: { l } })
      const count = async (q: string): Promise<number> => orderedKeys((await call(r.url, 'GET', `/events?${q}`)).text).length
      expect(await count('level=30')).toBe(3)
      expect(await count('level=25')).toBe(3)
      expect(await count('level=warning')).toBe(3)
      expect(await count('level=EventLogLevel.ERROR')).toBe(2)
      expect(await count('level=Critical')).toBe(1)
      const warn = await call(r.url, 'GET', '/events?level=warn')
      expect(warn.status).toBe(422)
      expect(warn.text).toBe(
        '{"detail":[{"type":"int_parsing","loc":["query","level","int"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"warn"},{"type":"enum","loc":["query","level","int-enum[EventLogLevel]"],"msg":"Input should be 0, 10, 20, 30, 40 or 50","input":"warn","ctx":{"expected":"0, 10, 20, 30, 40 or 50"}}]}',
      )
      for (const yes of ['true', 'TRUE', '1', 'yes', 'on', 't', 'y']) expect((await call(r.url, 'GET', `/events?include_archived=${yes}`)).status).toBe(200)
      const maybe = await call(r.url, 'GET', '/events?include_archived=maybe')
      expect(maybe.text).toBe('{"detail":[{"type":"bool_parsing","loc":["query","include_archived"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}')
      // Several bad parameters: one issue each, in one 422.
      expect((await call(r.url, 'GET', '/events?number=x&offset=y')).json().detail.map((d: { loc: string[] }) => d.loc[1])).toEqual(['number', 'offset'])
    })
  })
})
