import { mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FileStore, parseEvent } from '../../src/index.js'

const tmp = (): Promise<string> => mkdtemp(join(tmpdir(), 'madsci-filestore-'))

describe('FileStore', () => {
  it('writes one event per line in the client form, readable by anyone', async () => {
    const file = join(await tmp(), 'events.ndjson')
    const store = new FileStore(file)
    const e = parseEvent({ event_type: 'test', event_data: { a: 1 } })
    await store.write([e])
    await store.close()
    const lines = (await readFile(file, 'utf8')).trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0])).toEqual({ ...e })
    expect(lines[0].startsWith(`{"event_id":"${e.event_id}","event_type":"test"`)).toBe(true)
  })

  it('rotates by size like RotatingFileHandler and keeps maxFiles rotated files', async () => {
    const dir = await tmp()
    const file = join(dir, 'events.ndjson')
    const store = new FileStore(file, { maxBytes: 2048, maxFiles: 2 })
    const all = Array.from({ length: 60 }, (_, i) => parseEvent({ event_data: { i, pad: 'x'.repeat(100) } }))
    for (const e of all) await store.write([e])
    await store.close()
    expect((await readdir(dir)).sort()).toEqual(['events.ndjson', 'events.ndjson.1', 'events.ndjson.2'])
    // What is left reads back in order (the oldest were rotated away, as configured).
    const left = await store.getEvents({ number: 0 })
    expect(left.length).toBeGreaterThan(10)
    expect(left.length).toBeLessThan(60)
  })

  it('an option given as undefined keeps its default (10 MiB rotation through the logger)', async () => {
    const dir = await tmp()
    const store = new FileStore(join(dir, 'e.ndjson'), { maxBytes: undefined, maxFiles: undefined })
    const big = 'z'.repeat(4000)
    for (let i = 0; i < 30; i++) await store.write(Array.from({ length: 100 }, (_, k) => parseEvent({ event_data: { i, k, big } })))
    await store.close()
    expect((await readdir(dir)).sort()).toEqual(['e.ndjson', 'e.ndjson.1'])
  })

  it('keeps every file with maxFiles 0 (the server\'s embedded store never deletes)', async () => {
    const dir = await tmp()
    const store = new FileStore(join(dir, 'e.ndjson'), { maxBytes: 1024, maxFiles: 0 })
    for (let i = 0; i < 40; i++) await store.write([parseEvent({ event_data: { i, pad: 'y'.repeat(100) } })])
    expect((await store.getEvents({ number: 0 })).length).toBe(40)
    await store.close()
  })

  it('a duplicate write leaves the stored event unchanged (as MongoDB), archive updates it, purge deletes it', async () => {
    const store = new FileStore(join(await tmp(), 'e.ndjson'), { maxFiles: 0 })
    const e = parseEvent({ event_id: 'E1', event_timestamp: '2020-01-01T00:00:00', event_data: { v: 1 } })
    await store.write([e])
    await store.write([{ ...e, event_data: { v: 2 } }])
    expect((await store.getEvent('E1'))?.event_data).toEqual({ v: 1 })
    expect(await store.archiveEvents({ beforeDate: '2021-01-01T00:00:00' })).toBe(1)
    const archived = await store.getEvent('E1')
    expect(archived?.archived).toBe(true)
    expect(archived?.archived_at).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect((await store.getEvents()).length).toBe(0)
    expect((await store.getArchivedEvents()).map((x) => x.event_id)).toEqual(['E1'])
    expect(await store.purgeArchived(0)).toBe(1)
    expect(await store.getEvent('E1')).toBeNull()
    // A purged id can be written again.
    await store.write([e])
    expect((await store.getEvent('E1'))?.archived).toBe(false)
    expect(await store.countEvents()).toBe(1)
    await store.close()
  })

  it('skips lines that are not events and counts them', async () => {
    const dir = await tmp()
    const file = join(dir, 'e.ndjson')
    await mkdir(dir, { recursive: true })
    const { writeFile } = await import('node:fs/promises')
    const e = parseEvent({ event_id: 'OK' })
    await writeFile(file, `not json\n{"event_type":"bogus"}\n${JSON.stringify(e)}\n`)
    const store = new FileStore(file)
    expect((await store.getEvents()).map((x) => x.event_id)).toEqual(['OK'])
    expect(store.skippedLines).toBe(2)
    await store.close()
  })
})
