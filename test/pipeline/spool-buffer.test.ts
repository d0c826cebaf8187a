import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { Spool } from '../../src/pipeline/spool.js'

// The spool encodes records straight into reused write buffers of `maxBufferBytes`; these cover
// what that must get right: the line format, records larger than the buffer, multi-byte text,
// and appends that outrun the disk (a full buffer written at once, in order with the others).

const tmp = (): Promise<string> => mkdtemp(join(tmpdir(), 'madsci-spool-buf-'))

async function readAll(spool: Spool): Promise<string[]> {
  const out: string[] = []
  for (;;) {
    const b = await spool.read(100, 1 << 20)
    if (!b) break
    out.push(...b.records)
    spool.ack(b)
  }
  return out
}

function segmentText(dir: string): string {
  return readdirSync(dir)
    .filter((f) => f.startsWith('seg-'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('')
}

const texts = ['plain', 'café ünïcödé', '漢字かな交じり', 'emoji 🧪🔬', 'escaped lone surrogate \ud800 and \udfff', 'quote " backslash \\ newline \n tab \t', '']

describe('Spool write buffer', () => {
  it('writes each record as `<crc32 hex> <JSON>\\n`, byte for byte, multi-byte text included', async () => {
    const dir = await tmp()
    const spool = Spool.open(dir, { fsync: 'never' })
    const records = texts.map((t, i) => JSON.stringify({ event_id: `E${i}`, text: t }))
    spool.append(records)
    await spool.sync()
    const expected = records.map((j) => `${crc32(j).toString(16).padStart(8, '0')} ${j}\n`).join('')
    expect(segmentText(spool.dir)).toBe(expected)
    expect(await readAll(spool)).toEqual(records)
    expect(spool.stats.corrupt).toBe(0)
    await spool.close()
  })

  it('takes records larger than its buffer, between small ones, in order, and a next process reads them back', async () => {
    const dir = await tmp()
    const a = Spool.open(dir, { maxBufferBytes: 1024, fsync: 'never' })
    const records: string[] = []
    for (let i = 0; i < 60; i++) {
      const big = i % 7 === 3
      records.push(JSON.stringify({ event_id: `E${i}`, text: texts[i % texts.length], pad: big ? 'é'.repeat(3000 + i) : 'x'.repeat(i) }))
    }
    for (let i = 0; i < records.length; i += 4) a.append(records.slice(i, i + 4))
    await a.sync()
    expect(a.stats.appended).toBe(60)
    expect(a.stats.unwritten).toBe(0)
    const expectedBytes = records.reduce((n, r) => n + Buffer.byteLength(r) + 10, 0)
    expect(a.stats.pendingBytes).toBe(expectedBytes)
    expect(a.writeMark - a.ackMark).toBe(expectedBytes)
    await a.close()
    const b = Spool.open(dir)
    expect(await readAll(b)).toEqual(records)
    expect(b.stats.torn + b.stats.corrupt).toBe(0)
    expect(b.empty).toBe(true)
    await b.close()
  })

  it('appends that outrun the disk: every record written once, none lost, the buffer never holds more than its bound', async () => {
    const dir = await tmp()
    const maxBufferBytes = 16 * 1024
    const spool = Spool.open(dir, { maxBufferBytes, segmentBytes: 64 * 1024, fsync: 'never' })
    const n = 20_000
    let maxWaiting = 0
    for (let i = 0; i < n; i++) {
      // Thousands of appends in one turn of the event loop: the buffer fills, is written at once,
      // and is reused; the turn's rest is written after it.
      spool.append([JSON.stringify({ event_id: `E${i}`, i, text: texts[i % texts.length] })])
      const s = spool.stats
      // Records not in the file yet: at most what one buffer holds.
      maxWaiting = Math.max(maxWaiting, s.unwritten)
      if (i % 5000 === 4999) await new Promise((r) => setImmediate(r))
    }
    await spool.sync()
    expect(spool.stats.unwritten).toBe(0)
    expect(spool.stats.segments).toBeGreaterThan(1)
    // A record here is ~60-90 bytes: two buffers of 16 KiB hold well under 600 of them.
    expect(maxWaiting).toBeGreaterThan(0)
    expect(maxWaiting).toBeLessThan(600)
    const got = (await readAll(spool)).map((r) => (JSON.parse(r) as { i: number }).i)
    // Every record once, in append order (an asynchronous write overtaken by a synchronous one
    // used to put a buffer's records after later ones).
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i))
    expect(spool.stats.torn + spool.stats.corrupt).toBe(0)
    expect(spool.empty).toBe(true)
    await spool.close()
  })
})
