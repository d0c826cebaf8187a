import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Spool } from '../../src/pipeline/spool.js'

const tmp = (): Promise<string> => mkdtemp(join(tmpdir(), 'madsci-spool-'))
const rec = (i: number): string => JSON.stringify({ event_id: `E${String(i).padStart(6, '0')}`, n: i })

async function readAll(spool: Spool, ack = true): Promise<string[]> {
  const out: string[] = []
  for (;;) {
    const b = await spool.read(100, 1 << 20)
    if (!b) break
    out.push(...b.records)
    if (ack) spool.ack(b)
  }
  return out
}

describe('Spool', () => {
  it('reads back what was appended, in order, across segments', async () => {
    const dir = await tmp()
    const spool = Spool.open(dir, { segmentBytes: 4096, fsync: 'never' })
    const records = Array.from({ length: 500 }, (_, i) => rec(i))
    for (let i = 0; i < records.length; i += 10) {
      spool.append(records.slice(i, i + 10))
      await spool.sync()
    }
    expect(spool.stats.segments).toBeGreaterThan(3)
    expect(await readAll(spool)).toEqual(records)
    expect(spool.empty).toBe(true)
    await spool.close()
    // Delivered segments are deleted.
    expect(readdirSync(join(dir, '0')).filter((f) => f.startsWith('seg-'))).toEqual([])
  })

  it('replays unacknowledged records after a restart, from the cursor', async () => {
    const dir = await tmp()
    const a = Spool.open(dir, { fsync: 'always' })
    a.append(Array.from({ length: 50 }, (_, i) => rec(i)))
    await a.sync()
    const first = await a.read(20, 1 << 20)
    a.ack(first!)
    await a.read(20, 1 << 20) // read but never acknowledged (the process died mid-delivery)
    await a.close()
    const b = Spool.open(dir)
    expect(b.dir).toBe(a.dir)
    const again = await readAll(b)
    expect(again).toEqual(Array.from({ length: 30 }, (_, i) => rec(i + 20)))
    await b.close()
  })

  it('skips and counts a torn last record and a record whose checksum does not match', async () => {
    const dir = await tmp()
    const a = Spool.open(dir, { fsync: 'always' })
    a.append([rec(1), rec(2), rec(3)])
    await a.sync()
    await a.close()
    const seg = join(dir, '0', readdirSync(join(dir, '0')).find((f) => f.startsWith('seg-'))!)
    // Corrupt the second record's payload, keep its checksum.
    const lines = readFileSync(seg, 'utf8').split('\n')
    lines[1] = lines[1].replace('"n":2', '"n":9')
    writeFileSync(seg, lines.join('\n'))
    // A write torn by a crash: no newline at the end.
    appendFileSync(seg, '0badc0de {"event_id":"E0000')
    const b = Spool.open(dir)
    expect(await readAll(b)).toEqual([rec(1), rec(3)])
    expect(b.stats.corrupt).toBe(1)
    expect(b.stats.torn).toBe(1)
    await b.close()
  })

  it('refuses appends past maxBytes with a clear error, and keeps what it has', async () => {
    const dir = await tmp()
    const s = Spool.open(dir, { maxBytes: 2048 })
    s.append([rec(1)])
    expect(() => s.append(Array.from({ length: 100 }, (_, i) => rec(i)))).toThrow(/spool is full/)
    await s.sync()
    expect(await readAll(s)).toEqual([rec(1)])
    await s.close()
  })

  it('gives a second user of the same directory its own slot', async () => {
    const dir = await tmp()
    const a = Spool.open(dir)
    const b = Spool.open(dir)
    expect(a.dir).not.toBe(b.dir)
    await a.close()
    await b.close()
    const c = Spool.open(dir)
    expect(c.dir).toBe(a.dir)
    await c.close()
  })

  it('bounds its memory: a slow disk makes appends synchronous rather than buffering without limit', async () => {
    const dir = await tmp()
    const s = Spool.open(dir, { maxBufferBytes: 64 * 1024, fsync: 'never' })
    for (let i = 0; i < 2000; i++) s.append([rec(i)])
    await s.sync()
    expect(s.stats.appended).toBe(2000)
    expect((await readAll(s)).length).toBe(2000)
    await s.close()
  })
})
