import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { MADSCI_SCHEMA_VERSION, MongoStore, QueryRefusedError, createEventLogger, parseEvent } from '../../src/index.js'

const url = inject('mongoUrl')
const db = (name: string): string => `t_mongo_${name}_${process.pid}`
let client: MongoClient
beforeAll(async () => {
  client = await MongoClient.connect(url)
})
afterAll(async () => {
  await client.close()
})

describe('MongoStore', () => {
  it('stores documents exactly as MADSci does, with _id, string timestamps and escaped keys', async () => {
    const store = new MongoStore(url, { database: db('shape') })
    const e = parseEvent({ event_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TY', event_type: 'test', event_timestamp: '2026-04-09T14:47:11.123456', source: { node_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' }, event_data: { 'a.b': 1, $x: { y: 2 }, ok: true } })
    expect(await store.write([e])).toEqual({ delivered: 1, rejected: [], duplicates: [] })
    const doc = await client.db(db('shape')).collection('events').findOne({})
    expect(doc).toEqual({
      _id: '01JRB6Z6B1T3V7M9Q2W4E8R5TY',
      event_type: 'test',
      log_level: 20,
      alert: false,
      event_timestamp: '2026-04-09T14:47:11.123456',
      source: { node_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' },
      event_data: { 'a%2Eb': 1, '%24x': { y: 2 }, ok: true },
      trace_id: null,
      span_id: null,
      archived: false,
      archived_at: null,
    })
    expect(await store.getEvent(e.event_id)).toEqual(e)
    await store.close()
  })

  it('is idempotent: a retried batch never duplicates (duplicate keys count as delivered)', async () => {
    const store = new MongoStore(url, { database: db('idem') })
    const events = Array.from({ length: 50 }, (_, i) => parseEvent({ event_data: { i } }))
    await store.write(events.slice(0, 20))
    const r = await store.write(events)
    expect(r.delivered).toBe(50)
    expect(r.rejected).toEqual([])
    expect(await client.db(db('idem')).collection('events').countDocuments()).toBe(50)
    await store.close()
  })

  it('initializes MADSci schema_versions on a fresh database, creates the indexes, and warns on refused ones', async () => {
    const warnings: string[] = []
    const store = new MongoStore(url, { database: db('schema'), onWarning: (w) => warnings.push(w.code) })
    await store.open()
    const versions = await client.db(db('schema')).collection('schema_versions').find().toArray()
    expect(versions).toHaveLength(1)
    expect(versions[0].version).toBe(MADSCI_SCHEMA_VERSION)
    expect(versions[0].applied_at).toBeInstanceOf(Date)
    const names = (await client.db(db('schema')).collection('events').indexes()).map((i) => i.name)
    expect(names).toEqual(expect.arrayContaining(['event_timestamp_1', 'log_level_1', 'archived_1', 'archived_1_archived_at_1']))
    const ttl = await store.ensureRetentionIndex(365)
    if (inject('mongoKind') === 'ferretdb') {
      expect(ttl).toBe(false)
      expect(warnings).toContain('MADSCI_WARN_NO_TTL')
    } else expect(ttl).toBe(true)
    await store.close()
  })

  it('reads as MADSci: newest first, level and time filters, archived excluded; selectors validated', async () => {
    const store = new MongoStore(url, { database: db('read') })
    const events = [1, 2, 3, 4, 5].map((d) =>
      parseEvent({ log_level: d % 2 ? 40 : 20, event_timestamp: `2026-01-0${d}T00:00:00`, event_data: { test: d * 10 } }),
    )
    await store.write(events)
    const recent = await store.getEvents({ number: 3 })
    expect(recent.map((e) => e.event_timestamp)).toEqual(['2026-01-05T00:00:00', '2026-01-04T00:00:00', '2026-01-03T00:00:00'])
    expect((await store.getEvents({ level: 40 })).length).toBe(3)
    expect((await store.getEvents({ startTime: '2026-01-02T00:00:00', endTime: '2026-01-04T00:00:00' })).length).toBe(3)
    expect((await store.queryEvents({ 'event_data.test': { $gte: 30 } })).length).toBe(3)
    await expect(store.queryEvents({ $where: 'true' })).rejects.toThrow(QueryRefusedError)
    expect(await store.archiveEvents({ eventIds: [events[0].event_id, events[1].event_id] })).toBe(2)
    expect((await store.getEvents()).length).toBe(3)
    expect((await store.getEvents({ includeArchived: true })).length).toBe(5)
    const archived = await store.getEvent(events[0].event_id)
    expect(archived?.archived).toBe(true)
    expect(archived?.archived_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    const streamed: string[] = []
    for await (const e of store.streamEvents({ startTime: '2026-01-02T00:00:00' })) streamed.push(e.event_timestamp)
    expect(streamed).toEqual(['2026-01-02T00:00:00', '2026-01-03T00:00:00', '2026-01-04T00:00:00', '2026-01-05T00:00:00'])
    expect(await store.purgeArchived(0)).toBe(2)
    expect(await store.getEvent(events[0].event_id)).toBeNull()
    await store.close()
  })

  it('100 000 events through the logger arrive exactly once', async () => {
    const database = db('100k')
    const logger = createEventLogger({ mongodb: { url, database }, spool: false, queue: { maxEvents: 200_000, maxBytes: 1 << 30 }, env: {}, onWarning: () => {} })
    const ids: string[] = []
    for (let i = 0; i < 100_000; i++) ids.push(logger.info('bulk', { i }) as string)
    const report = await logger.close({ timeoutMs: 240_000 })
    expect(report).toMatchObject({ delivered: 100_000, lost: 0, spooled: 0 })
    const stored = await client.db(database).collection('events').find({}, { projection: { _id: 1 } }).toArray()
    expect(stored.length).toBe(100_000)
    expect(new Set(stored.map((d) => String(d._id)))).toEqual(new Set(ids))
  }, 300_000)
})
