import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEventLogger } from '../../src/index.js'
import { call, recordingFront, type Running, startServer, STORE_KINDS } from './helpers.js'

/**
 * `POST /events/batch` (beyond MADSci): an array of events, one result per item in input order,
 * idempotent on event id; invalid items are refused one by one with FastAPI's detail; the HTTP sink
 * of our logger finds and uses it.
 */

describe.each(STORE_KINDS)('POST /events/batch on the %s store', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await startServer(kind, 'batch')
  })
  afterAll(async () => {
    await r?.close()
  })

  it('stores every valid item and answers one result per item, in order; invalid items are refused with their FastAPI detail', async () => {
    const body = [
      { event_id: 'b-1', event_type: 'test', event_data: { n: 1 } },
      { _id: 'b-2', event_type: 'LOG_INFO', log_level: 'warning' },
      { event_id: 'b-bad', log_level: 25 },
      { event_type: 'nonsense' },
      'not an event',
      { event_id: 'b-3', source: { node_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' } },
      {},
    ]
    const res = await call(r.url, 'POST', '/events/batch', body)
    expect(res.status).toBe(200)
    const results = res.json<Array<{ event_id: string | null; status: string; error?: Array<{ type: string; loc: unknown[] }> }>>()
    expect(results.map((x) => [x.event_id, x.status])).toEqual([
      ['b-1', 'stored'],
      ['b-2', 'stored'],
      ['b-bad', 'rejected'],
      [null, 'rejected'],
      [null, 'rejected'],
      ['b-3', 'stored'],
      [results[6].event_id, 'stored'],
    ])
    expect(results[6].event_id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
    expect(results[2].error).toEqual([{ type: 'enum', loc: ['body', 2, 'log_level'], msg: 'Input should be 0, 10, 20, 30, 40 or 50', input: 25, ctx: { expected: '0, 10, 20, 30, 40 or 50' } }])
    expect(results[3].error?.[0]).toMatchObject({ type: 'enum', loc: ['body', 3, 'event_type'] })
    expect(results[4].error?.[0]).toMatchObject({ type: 'model_attributes_type', loc: ['body', 4] })
    expect((await call(r.url, 'GET', '/event/b-2')).json()).toMatchObject({ event_type: 'log_info', log_level: 30 })
    expect((await call(r.url, 'GET', '/event/b-bad')).status).toBe(404)
  })

  it('is idempotent on event id: posting the same batch again stores nothing twice and keeps the first version', async () => {
    const events = Array.from({ length: 200 }, (_, i) => ({ event_id: `idem-${i}`, event_type: 'test', event_data: { i, v: 1 } }))
    const first = await call(r.url, 'POST', '/events/batch', events)
    expect(first.json().every((x: { status: string }) => x.status === 'stored')).toBe(true)
    const again = await call(r.url, 'POST', '/events/batch', events.map((e) => ({ ...e, event_data: { ...e.event_data, v: 2 } })))
    expect(again.json().every((x: { status: string }) => x.status === 'stored')).toBe(true)
    const got = (await call(r.url, 'POST', '/events/query', { _id: { $regex: '^idem-' } })).json<Record<string, { event_data: { v: number } }>>()
    expect(Object.keys(got)).toHaveLength(200)
    for (const e of Object.values(got)) expect(e.event_data.v).toBe(1)
    // Duplicates inside one batch are one event too.
    const dup = await call(r.url, 'POST', '/events/batch', [{ event_id: 'twice' }, { event_id: 'twice' }])
    expect(dup.json().map((x: { status: string }) => x.status)).toEqual(['stored', 'stored'])
    expect(Object.keys((await call(r.url, 'POST', '/events/query', { _id: 'twice' })).json())).toHaveLength(1)
  })

  it('refuses a body that is not a list (422), an empty body (422), and more than 10 000 items (413)', async () => {
    expect((await call(r.url, 'POST', '/events/batch', { event_id: 'x' })).json()).toEqual({ detail: [{ type: 'list_type', loc: ['body'], msg: 'Input should be a valid list', input: { event_id: 'x' } }] })
    expect((await call(r.url, 'POST', '/events/batch', '')).status).toBe(422)
    const big = await call(r.url, 'POST', '/events/batch', JSON.stringify(Array.from({ length: 10_001 }, () => ({}))))
    expect(big.status).toBe(413)
    expect(big.json().detail).toMatch(/at most 10000/)
    expect((await call(r.url, 'POST', '/events/batch', [])).json()).toEqual([])
  })

  it('the HTTP sink of our logger finds the batch route (x-madsci-events) and sends batches there', async () => {
    const front = await recordingFront(r.server)
    const logger = createEventLogger({ eventManager: front.url, env: {}, spool: false, batch: { maxEvents: 50, flushIntervalMs: 5 } })
    try {
      for (let i = 0; i < 120; i++) logger.info(`via sink ${i}`, { sink_test: kind })
      await logger.flush()
      const posts = front.requests.filter((q) => q.method === 'POST')
      expect(posts.length).toBeGreaterThan(0)
      expect(posts.every((q) => q.url === '/events/batch')).toBe(true)
      expect(posts.length).toBeLessThan(120)
      const stored = (await call(r.url, 'POST', '/events/query', { 'event_data.sink_test': kind })).json()
      expect(Object.keys(stored)).toHaveLength(120)
    } finally {
      await logger.close()
      await front.close()
    }
  })
})
