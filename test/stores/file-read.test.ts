import { spawn } from 'node:child_process'
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { type Event, eventToJson, FileStore, parseEvent, QueryRefusedError } from '../../src/index.js'

/**
 * The FileStore's reads go through the files line by line, holding a bounded number of events when
 * the store is in order (or nearly), and resolving updates, deletions, duplicates and stores far
 * out of order exactly as before. Each case is checked against a model computed here from the
 * lines written: the first insert of an id wins, order by time (ties in write order) or by id.
 */

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'madsci-file-read-'))
  dirs.push(d)
  return d
}

/** A deterministic shuffle. */
function shuffle<T>(list: T[], seed: number): T[] {
  let a = seed
  const rand = (): number => {
    a = (a * 1103515245 + 12345) % 2147483648
    return a / 2147483648
  }
  const out = [...list]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

/** `n` events, one a second from 2025-01-01, every 7th sharing its time with the one before. */
function makeEvents(n: number): Event[] {
  const t0 = Date.UTC(2025, 0, 1)
  return Array.from({ length: n }, (_, i) => {
    const sec = i % 7 === 6 ? i - 1 : i
    const ts = new Date(t0 + sec * 1000).toISOString().replace('Z', '000')
    return parseEvent({
      event_id: `ID${String(i).padStart(6, '0')}`,
      event_timestamp: ts,
      event_type: i % 5 === 0 ? 'workflow_start' : 'log',
      log_level: i % 3 === 0 ? 40 : 20,
      event_data: { i, tag: i % 4 === 0 ? 'even-four' : 'other' },
    })
  })
}

/** The stored events of lines written in this order (first insert wins), in write order. */
function model(written: Event[]): Event[] {
  const seen = new Set<string>()
  return written.filter((e) => (seen.has(e.event_id) ? false : (seen.add(e.event_id), true)))
}
const byTime = (list: Event[]): Event[] => [...list].sort((a, b) => (a.event_timestamp < b.event_timestamp ? -1 : a.event_timestamp > b.event_timestamp ? 1 : 0))
const byId = (list: Event[]): Event[] => [...list].sort((a, b) => (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0))
const ids = (list: Event[]): string[] => list.map((e) => e.event_id)

async function collect(it: AsyncIterable<Event>): Promise<Event[]> {
  const out: Event[] = []
  for await (const e of it) out.push(e)
  return out
}

async function storeOf(written: Event[], options: { maxBytes?: number } = {}): Promise<FileStore> {
  const file = join(await tmp(), 'e.ndjson')
  await writeFile(file, written.map((e) => `${eventToJson(e)}\n`).join(''))
  return new FileStore(file, { maxFiles: 0, ...options })
}

/** Every read compared with the model. */
async function checkReads(store: FileStore, written: Event[]): Promise<void> {
  const stored = model(written)
  expect(ids(await collect(store.streamEvents()))).toEqual(ids(byTime(stored)))
  expect(await collect(store.streamEvents({ orderBy: 'event_id' }))).toEqual(byId(stored))
  const mid = byId(stored)[Math.floor(stored.length / 2)].event_id
  expect(ids(await collect(store.streamEvents({ orderBy: 'event_id', afterId: mid })))).toEqual(ids(byId(stored).filter((e) => e.event_id > mid)))
  const range = { startTime: '2025-01-01T00:10:00', endTime: '2025-01-01T00:40:00.000000' }
  const inRange = (e: Event): boolean => e.event_timestamp >= range.startTime && e.event_timestamp <= range.endTime
  const sel = { 'event_data.tag': 'even-four', log_level: { $gte: 40 } }
  const matches = (e: Event): boolean => (e.event_data as { tag: string }).tag === 'even-four' && e.log_level >= 40
  expect(ids(await collect(store.streamEvents({ ...range, selector: sel })))).toEqual(ids(byTime(stored).filter((e) => inRange(e) && matches(e))))
  expect(await store.countEvents()).toBe(stored.length)
  expect(await store.countEvents(sel)).toBe(stored.filter(matches).length)
  // queryEvents: store order without sort; a sort (stable) with skip + limit.
  expect(ids(await store.queryEvents(sel))).toEqual(ids(stored.filter(matches)))
  expect(ids(await store.queryEvents(sel, { skip: 3, limit: 5 }))).toEqual(ids(stored.filter(matches).slice(3, 8)))
  const newestFirst = [...stored].sort((a, b) => (a.event_timestamp < b.event_timestamp ? 1 : a.event_timestamp > b.event_timestamp ? -1 : 0))
  expect(ids(await store.queryEvents({}, { sort: { event_timestamp: -1 }, skip: 4, limit: 10 }))).toEqual(ids(newestFirst.slice(4, 14)))
  expect(ids(await store.queryEvents({}, { sort: { event_timestamp: 1 }, limit: 1 }))).toEqual(ids(byTime(stored).slice(0, 1)))
  expect(ids(await store.queryEvents({ event_type: 'workflow_start' }, { sort: { 'event_data.i': -1 }, limit: 4 }))).toEqual(
    ids([...stored].filter((e) => e.event_type === 'workflow_start').sort((a, b) => (b.event_data as { i: number }).i - (a.event_data as { i: number }).i).slice(0, 4)),
  )
  // getEvents: newest first, ties in store order, level filter, offset.
  expect(ids(await store.getEvents({ number: 25, offset: 5, level: 40 }))).toEqual(ids(newestFirst.filter((e) => e.log_level >= 40).slice(5, 30)))
  expect(ids(await store.getEvents({ number: 0, ...range }))).toEqual(ids(newestFirst.filter(inRange)))
  const one = stored[Math.floor(stored.length / 3)]
  expect(await store.getEvent(one.event_id)).toEqual(one)
  expect(await store.getEvent('nope')).toBeNull()
}

describe('FileStore reads', () => {
  it('a store written in order (the usual case) reads back in every order, with ties in write order', async () => {
    const written = makeEvents(9000)
    const store = await storeOf(written)
    await checkReads(store, written)
    await store.close()
  })

  it('a store nearly in order (batches of writers interleaved) and one far out of order (a spool replayed late) read back the same', async () => {
    // Nearly: blocks of 300 lines reversed (within the reorder window).
    const events = makeEvents(9000)
    const nearly: Event[] = []
    for (let i = 0; i < events.length; i += 300) nearly.push(...events.slice(i, i + 300).reverse())
    const a = await storeOf(nearly)
    await checkReads(a, nearly)
    await a.close()
    // Far: shuffled, and the first 2000 events written again at the end (a late replay).
    const far = [...shuffle(events, 7), ...events.slice(0, 2000)]
    const b = await storeOf(far)
    await checkReads(b, far)
    await b.close()
  })

  it('a duplicate far from its first write leaves the event unchanged; archive and purge over a larger store', async () => {
    const events = makeEvents(6000)
    const dup = { ...events[10], event_data: { changed: true } }
    const written = [...events, dup]
    const store = await storeOf(written)
    await checkReads(store, written)
    expect((await store.getEvent(events[10].event_id))?.event_data).toEqual(events[10].event_data)
    // Archive the first hour: the stream (archived included by default) gives the new versions.
    const archived = await store.archiveEvents({ beforeDate: '2025-01-01T01:00:00' })
    const stored = model(written)
    expect(archived).toBe(stored.filter((e) => e.event_timestamp < '2025-01-01T01:00:00').length)
    const all = await collect(store.streamEvents())
    expect(ids(all)).toEqual(ids(byTime(stored)))
    expect(all.filter((e) => e.archived).length).toBe(archived)
    expect(ids(await collect(store.streamEvents({ includeArchived: false })))).toEqual(ids(byTime(stored).filter((e) => e.event_timestamp >= '2025-01-01T01:00:00')))
    expect((await store.getArchivedEvents({ number: 0 })).length).toBe(archived)
    expect(await store.purgeArchived(0)).toBe(archived)
    expect(await store.countEvents()).toBe(stored.length - archived)
    expect(await store.getEvent(events[10].event_id)).toBeNull()
    await store.close()
  })

  it('CRLF lines, blank lines, a line that is not an event and a torn last line', async () => {
    const events = makeEvents(50)
    const file = join(await tmp(), 'e.ndjson')
    const body = events.map((e) => eventToJson(e)).join('\r\n')
    await writeFile(file, `${body}\r\n\r\nnot json\n${eventToJson(makeEvents(51)[50]).slice(0, 40)}`)
    const store = new FileStore(file)
    expect(await collect(store.streamEvents({ orderBy: 'event_id' }))).toEqual(events)
    expect(store.skippedLines).toBe(2)
    expect(await store.countEvents()).toBe(50)
    expect(store.skippedLines).toBe(4)
    await store.close()
  })

  it('a read sees the store as it was when it began, while writes and rotations go on', async () => {
    const events = makeEvents(3000)
    const dir = await tmp()
    const store = new FileStore(join(dir, 'e.ndjson'), { maxFiles: 0, maxBytes: 64 * 1024 })
    await store.write(events.slice(0, 2000))
    const got: Event[] = []
    for await (const e of store.streamEvents()) {
      // Writes while the stream runs, rotating the files it reads (64 KiB each).
      if (got.length % 200 === 0) await store.write(events.slice(2000 + got.length / 2, 2000 + got.length / 2 + 100))
      got.push(e)
    }
    expect(ids(got)).toEqual(ids(events.slice(0, 2000)))
    // Everything written is there for the next read, once, in order.
    await store.write(events.slice(2000))
    expect(ids(await collect(store.streamEvents()))).toEqual(ids(events))
    // Lines appended by another process are seen by the next read.
    const extra = parseEvent({ event_id: 'ZZZ', event_timestamp: '2030-01-01T00:00:00' })
    await appendFile(join(dir, 'e.ndjson'), `${eventToJson(extra)}\n`)
    expect((await store.queryEvents({}, { sort: { event_timestamp: -1 }, limit: 1 }))[0]).toEqual(extra)
    await store.close()
  })

  it('selectors keep their guard: server-side JavaScript and unsafe $regex are refused', async () => {
    const store = await storeOf(makeEvents(10))
    await expect(store.queryEvents({ $where: 'true' })).rejects.toThrow(QueryRefusedError)
    await expect(collect(store.streamEvents({ selector: { event_type: { $regex: '(a+)+$' } } }))).rejects.toThrow(QueryRefusedError)
    await expect(store.countEvents({ $where: 'true' })).rejects.toThrow(QueryRefusedError)
    expect(await store.countEvents({ event_type: { $regex: '^workflow' } })).toBe(2)
    await store.close()
  })
})

const fixture = fileURLToPath(new URL('./fixtures/file-read-memory.ts', import.meta.url))

describe('FileStore read memory', () => {
  // With retried writes of early ids too (issue 21): one used to make every read hold the store (48 MB here).
  it.each([0, 200])('reads over 60 000 events (~30 MB), %i duplicate writes, hold a bounded number of events, not the store', async (duplicates) => {
    const file = join(await tmp(), 'e.ndjson')
    const total = 60_000
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, JSON.stringify({ file, total, duplicates })], { stdio: ['ignore', 'pipe', 'pipe'] })
      let o = ''
      let err = ''
      child.stdout.on('data', (d: Buffer) => (o += d.toString()))
      child.stderr.on('data', (d: Buffer) => (err += d.toString()))
      child.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(`fixture exited ${code}:\n${err.slice(-3000)}`))))
    })
    const line = out.split('\n').find((l) => l.startsWith('RESULT '))
    const r = JSON.parse((line ?? 'RESULT {}').slice(7)) as { heapHeldMB: number; counts: Record<string, number>; top: string[]; recent: string[] }
    expect(r.counts).toEqual({ streamTime: total, streamId: total, streamSelector: total / 10, count: total })
    const id = (k: number): string => `E${String(k).padStart(9, '0')}`
    expect(r.top).toEqual([id(total - 1), id(total - 2), id(total - 3)])
    expect(r.recent).toEqual([3, 4, 5, 6, 7].map((k) => id(total - k)))
    // Holding the matches (as the reads did) is ~50 MB of heap here; a bounded read holds a few MB.
    expect(r.heapHeldMB).toBeLessThan(12)
  }, 60_000)
})
