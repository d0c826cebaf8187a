import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createServer, type MadsciServer } from '../../adapters/server/index.js'
import { type Event, FileStore, HttpStore, MongoStore, parseEvent, QueryRefusedError, type Reader, type Sink } from '../../src/index.js'

/**
 * Every read method on every store: MongoDB (FerretDB), the NDJSON file, an Event Manager over HTTP
 * (the Python one, and ours). The same events are written through each store's sink, then read back.
 */
const run = `${process.pid}_${Date.now()}`
const N = 'N1' // marker so each store's events can be told apart on the shared Python server

function dataset(store: string): Event[] {
  return [1, 2, 3, 4, 5, 6].map((d) =>
    parseEvent({
      event_type: d % 2 ? 'node_status_update' : 'test',
      log_level: d >= 5 ? 40 : 20,
      event_timestamp: `2030-0${d}-01T00:00:00`,
      event_data: { test: d * 10, run, store, marker: N },
      source: { node_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' },
    }),
  )
}

let ours: MadsciServer
let oursUrl: string
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'madsci-readers-'))
  ours = createServer({ env: {}, settings: { data_file: join(dir, 'events.ndjson'), backup_dir: join(dir, 'b') } })
  oursUrl = (await ours.listen(0)).url
})
afterAll(async () => {
  await ours?.close()
})

const stores: Array<[string, () => Promise<Sink & Reader>]> = [
  ['MongoDB (FerretDB)', async () => new MongoStore(inject('mongoUrl'), { database: `t_readers_${run}` })],
  ['NDJSON file', async () => new FileStore(join(await mkdtemp(join(tmpdir(), 'madsci-file-')), 'e.ndjson'))],
  ['Python Event Manager over HTTP', async () => new HttpStore(inject('pythonEventManagerUrl'), { onWarning: () => {} })],
  ['our server over HTTP (batch route)', async () => new HttpStore(oursUrl + '/')],
]

describe.each(stores)('reading from %s', (name, make) => {
  let store: Sink & Reader
  let events: Event[]
  const mine = { 'event_data.run': run, 'event_data.store': name }
  beforeAll(async () => {
    store = await make()
    events = dataset(name)
    await store.open()
    const r = await store.write(events)
    expect(r.delivered).toBe(events.length)
    // Writing twice is idempotent: no duplicates.
    await store.write(events)
  })
  afterAll(async () => {
    await store.close()
  })

  it('getEvent finds one by id, and null for an unknown id', async () => {
    expect(await store.getEvent(events[2].event_id)).toEqual(events[2])
    expect(await store.getEvent('01ZZZZZZZZZZZZZZZZZZZZZZZZ')).toBeNull()
  })

  it('queryEvents takes a MongoDB selector (dotted paths, $gte, $in) and refuses server-side JavaScript', async () => {
    const found = await store.queryEvents({ ...mine, 'event_data.test': { $gte: 30 } })
    expect(found.map((e) => e.event_data).sort((a, b) => (a as { test: number }).test - (b as { test: number }).test)).toEqual(events.slice(2).map((e) => e.event_data))
    expect((await store.queryEvents({ ...mine, event_type: { $in: ['test'] } })).length).toBe(3)
    expect((await store.queryEvents(mine, { sort: { event_timestamp: -1 }, limit: 2 })).map((e) => e.event_id)).toEqual([events[5].event_id, events[4].event_id])
    await expect(store.queryEvents({ $where: 'sleep(1000)' })).rejects.toThrow(QueryRefusedError)
  })

  it('getEvents gives the newest first with level and time filters (MADSci semantics)', async () => {
    const newest = await store.getEvents({ number: 2, startTime: '2030-01-01T00:00:00', endTime: '2030-12-31T00:00:00' })
    expect(newest.map((e) => e.event_id)).toEqual([events[5].event_id, events[4].event_id])
    const errors = await store.getEvents({ number: 0, level: 40, startTime: '2030-01-01T00:00:00', endTime: '2030-12-31T00:00:00' })
    expect(errors.filter((e) => (e.event_data as { run: string }).run === run).length).toBe(2)
  })

  it('streamEvents gives a time range oldest first', async () => {
    const got: string[] = []
    for await (const e of store.streamEvents({ startTime: '2030-02-01T00:00:00', endTime: '2030-05-01T00:00:00', selector: mine })) got.push(e.event_timestamp)
    expect(got).toEqual(['2030-02-01T00:00:00', '2030-03-01T00:00:00', '2030-04-01T00:00:00', '2030-05-01T00:00:00'])
  })
})
