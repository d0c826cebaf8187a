import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { FileStore, parseEvent, type MadsciWarning } from '../../src/index.js'

/**
 * One event file, several writers: the library's default file is also `serve`'s default store and
 * several programs of a project log to it. Rotation by several processes at once must lose nothing
 * (two of them shifting `.1 → .2` at the same moment renamed one file over another).
 */

const writer = fileURLToPath(new URL('fixtures/file-writer.ts', import.meta.url))

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('exit', (code) => resolve({ code, out, err }))
  })
}

describe('a file shared by several writing processes', () => {
  it('four processes rotating one small file at once: every event kept exactly once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'madsci-shared-'))
    const file = join(dir, 'events.ndjson')
    const perWriter = 1500
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((tag) => run([file, tag, String(perWriter), '8192', '0'])))
    for (const r of results) expect(r.code, r.err).toBe(0)
    const files = await readdir(dir)
    expect(files.some((f) => f.endsWith('.rotating'))).toBe(false)
    // Many rotations happened (each writer alone would write ~190 KB).
    expect(files.length).toBeGreaterThan(40)
    const lines: string[] = []
    for (const f of files) lines.push(...(await readFile(join(dir, f), 'utf8')).split('\n').filter(Boolean))
    const seen = new Map<string, number>()
    for (const line of lines) {
      const e = JSON.parse(line) as { event_data: { tag: string; i: number } }
      const key = `${e.event_data.tag}:${e.event_data.i}`
      seen.set(key, (seen.get(key) ?? 0) + 1)
    }
    expect(seen.size).toBe(4 * perWriter)
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
    // And through the store's reader.
    const store = new FileStore(file)
    expect(await store.countEvents({})).toBe(4 * perWriter)
    await store.close()
  }, 120_000)

  it('a writer notices another process rotated the file and appends to the new one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'madsci-shared-'))
    const file = join(dir, 'events.ndjson')
    const mine = new FileStore(file, { maxBytes: 1024 * 1024 })
    mine.writeSync([parseEvent({ event_data: { n: 1 } })])
    // Another process rotated it (as RotatingFileHandler does).
    const other = new FileStore(file, { maxBytes: 100 })
    other.writeSync([parseEvent({ event_data: { n: 2, pad: 'x'.repeat(200) } })])
    await other.close()
    expect((await readdir(dir)).sort()).toEqual(['events.ndjson', 'events.ndjson.1'])
    await new Promise((r) => setTimeout(r, 1100))
    mine.writeSync([parseEvent({ event_data: { n: 3 } })])
    await mine.close()
    const current = (await readFile(file, 'utf8')).trim().split('\n')
    expect(current.map((l) => (JSON.parse(l) as { event_data: { n: number } }).event_data.n)).toEqual([3])
  })

  it('a line torn by a killed writer is ended before the next append, so the next event stays readable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'madsci-shared-'))
    const file = join(dir, 'events.ndjson')
    const first = parseEvent({ event_data: { n: 1 } })
    await writeFile(file, JSON.stringify(first) + '\n' + JSON.stringify(parseEvent({ event_data: { n: 2 } })).slice(0, 40))
    const store = new FileStore(file)
    const third = parseEvent({ event_data: { n: 3 } })
    store.writeSync([third])
    expect((await store.getEvents({ number: 0 })).map((e) => e.event_id).sort()).toEqual([first.event_id, third.event_id].sort())
    expect(store.skippedLines).toBe(1)
    await store.close()
  })

  it('a refused rotation is a warning and a count, the events are still written, and it is tried again later', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'madsci-shared-'))
    const file = join(dir, 'events.ndjson')
    // `events.ndjson.1` is a directory: with maxFiles 1 rotation must delete it, and unlink refuses
    // a directory (EISDIR) whoever we are (permissions would not stop root).
    await mkdir(`${file}.1`)
    await writeFile(join(`${file}.1`, 'keep'), 'x')
    const warnings: MadsciWarning[] = []
    const store = new FileStore(file, { maxBytes: 512, maxFiles: 1, onWarning: (w) => warnings.push(w) })
    for (let i = 0; i < 20; i++) store.writeSync([parseEvent({ event_data: { i, pad: 'q'.repeat(100) } })])
    expect(store.rotationErrors).toBe(1) // tried once, then not again for 10 s
    expect(warnings.map((w) => w.code)).toEqual(['MADSCI_WARN_ROTATION_FAILED'])
    expect(warnings[0].message).toContain(file)
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(20)
    await store.close()
  })
})
