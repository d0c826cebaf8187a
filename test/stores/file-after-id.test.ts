import { appendFile, mkdtemp, rename, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { type Event, eventToJson, FileStore, parseEvent } from '../../src/index.js'

/**
 * `streamEvents({ afterId })` on a FileStore starts where its after-id index says no earlier line
 * mentions a greater id (the live stream's poll). Whatever the files hold — inserts out of order,
 * duplicates, updates, deletion markers, lines without an id, torn and CRLF lines, rotations and
 * deleted files between reads — it must give exactly what a full read of every line (no `afterId`,
 * so no index) gives once filtered by the same id.
 */

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const T0 = Date.UTC(2025, 0, 1)
/** Ids below every ULID made now, as stored ids are below the ones a read makes for a line without one. */
const idOf = (n: number): string => `00ID${String(n).padStart(6, '0')}`
const PAD = 'p'.repeat(700) // ~1 KiB lines: a few hundred make several index checkpoints (64 KiB)
function event(n: number, extra: Record<string, unknown> = {}): Event {
  return parseEvent({
    event_id: idOf(n),
    event_timestamp: new Date(T0 + (n % 50) * 1000).toISOString().replace('Z', '000'),
    event_type: 'log',
    log_level: 20,
    event_data: { n, pad: PAD, ...extra },
  })
}

type Line =
  | { kind: 'insert'; n: number }
  | { kind: 'update'; n: number }
  | { kind: 'delete'; n: number }
  | { kind: 'noId'; n: number }
  | { kind: 'garbage' }
  | { kind: 'crlf'; n: number }

function text(line: Line): string {
  switch (line.kind) {
    case 'insert':
      return `${eventToJson(event(line.n))}\n`
    case 'crlf':
      return `${eventToJson(event(line.n))}\r\n`
    case 'update':
      return `{"updated_event":${eventToJson({ ...event(line.n, { updated: true }), archived: true, archived_at: '2025-02-01T00:00:00.000000' })}}\n`
    case 'delete':
      return `{"deleted_event_id":"${idOf(line.n)}"}\n`
    case 'noId':
      return `${JSON.stringify({ event_type: 'log', log_level: 20, event_data: { noId: line.n } })}\n`
    case 'garbage':
      return '{"event_id": "torn\n'
  }
}

// Ids mostly grow as a store is written (`n` is relative to the lines written so far, a little out
// of order); updates, deletions and duplicates refer back anywhere (a fraction of what was written).
type Gen = { kind: 'insert' | 'crlf'; rel: number } | { kind: 'update' | 'delete' | 'dup'; back: number } | { kind: 'noId' | 'garbage' }
const genArb: fc.Arbitrary<Gen> = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: -40, max: 40 }).map((rel) => ({ kind: 'insert' as const, rel })) },
  { weight: 1, arbitrary: fc.integer({ min: -40, max: 40 }).map((rel) => ({ kind: 'crlf' as const, rel })) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((back) => ({ kind: 'update' as const, back })) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((back) => ({ kind: 'delete' as const, back })) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((back) => ({ kind: 'dup' as const, back })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'noId' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'garbage' as const }) },
)

type Step =
  | { kind: 'append'; lines: Gen[] }
  | { kind: 'rotate'; keep: number }
  | { kind: 'read'; at: number; byId: boolean }
  // A line being written: an event without its newline yet (the next append may end it, or run into it).
  | { kind: 'unterminated'; ended: boolean }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.array(genArb, { minLength: 1, maxLength: 250, size: 'max' }).map((lines) => ({ kind: 'append' as const, lines })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((keep) => ({ kind: 'rotate' as const, keep })) },
  { weight: 1, arbitrary: fc.boolean().map((ended) => ({ kind: 'unterminated' as const, ended })) },
  // `at`: where afterId falls among the ids written so far (below all, ..., above all).
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), at: fc.double({ min: -0.05, max: 1.05, noNaN: true }), byId: fc.boolean() }) },
)

/**
 * The lines of an append, with `written` lines before it. A line without an id stops every skip
 * after it (its id is made on each read), so most runs have none (`noIds` false: such lines are
 * written as plain inserts).
 */
function lines(gens: Gen[], written: number, noIds: boolean): Line[] {
  return gens.map((g, i): Line => {
    const here = written + i
    switch (g.kind) {
      case 'insert':
      case 'crlf':
        return { kind: g.kind, n: Math.max(0, here + g.rel) }
      case 'dup':
        return { kind: 'insert', n: Math.floor(g.back * here) }
      case 'update':
      case 'delete':
        return { kind: g.kind, n: Math.floor(g.back * here) }
      case 'noId':
        return noIds ? { kind: 'noId', n: here } : { kind: 'insert', n: here }
      case 'garbage':
        return { kind: 'garbage' }
    }
  })
}

/**
 * What a read of events after `afterId` shows of them: stable ids in order, and how many had no id.
 * `full`: the reference, a read of every event (no `afterId`, so no index) filtered here.
 */
async function view(store: FileStore, afterId: string, byId: boolean, full = false): Promise<{ ids: string[]; noId: number; archived: number }> {
  const out = { ids: [] as string[], noId: 0, archived: 0 }
  for await (const e of store.streamEvents({ afterId: full ? undefined : afterId, orderBy: byId ? 'event_id' : undefined })) {
    if (full && !(e.event_id > afterId)) continue
    if ((e.event_data as { noId?: number }).noId !== undefined) out.noId++
    else out.ids.push(e.event_id)
    if (e.archived) out.archived++
  }
  return out
}

/** Rotate as the store does (base → .1 → .2 ...), keeping `keep` rotated files (0: all). */
async function rotate(path: string, keep: number): Promise<void> {
  let last = 0
  while (existsSync(`${path}.${last + 1}`)) last++
  for (let i = last; i >= 1; i--) {
    if (keep > 0 && i >= keep) await unlink(`${path}.${i}`)
    else await rename(`${path}.${i}`, `${path}.${i + 1}`)
  }
  if (existsSync(path)) await rename(path, `${path}.1`)
  await writeFile(path, '')
}

const afterIdOf = (n: number): string => (n < 0 ? '' : idOf(n))

describe('FileStore streamEvents({ afterId }) through the after-id index', () => {
  it('gives what a full read gives, over random files, appends, rotations and deletions (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), fc.boolean(), async (steps, noIds) => {
        const dir = await mkdtemp(join(tmpdir(), 'madsci-after-id-'))
        dirs.push(dir)
        const path = join(dir, 'e.ndjson')
        await writeFile(path, '')
        const live = new FileStore(path, { maxFiles: 0 })
        let reads = 0
        let written = 0
        let open: boolean | undefined // an unterminated line at the end: ended by the next append?
        for (const step of [...steps, { kind: 'read' as const, at: 0.9, byId: true }]) {
          if (step.kind === 'append') {
            await appendFile(path, (open ? '\n' : '') + lines(step.lines, written, noIds).map(text).join(''))
            written += step.lines.length
            open = undefined
          } else if (step.kind === 'unterminated') {
            await appendFile(path, (open ? '\n' : '') + text({ kind: 'insert', n: written++ }).trimEnd())
            open = step.ended
          } else if (step.kind === 'rotate') {
            await rotate(path, step.keep)
            open = undefined
          }
          else {
            const afterId = afterIdOf(Math.floor(step.at * written))
            const got = await view(live, afterId, step.byId)
            const fresh = new FileStore(path, { maxFiles: 0 })
            const want = await view(fresh, afterId, step.byId, true)
            await fresh.close()
            expect(got).toEqual(want)
            reads++
          }
        }
        await live.close()
        expect(reads).toBeGreaterThan(0)
        await rm(dir, { recursive: true, force: true })
      }),
      { numRuns: 120 },
    )
  }, 120_000)

  it('a poll reads what was written since the last one, not the whole store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'madsci-after-id-'))
    dirs.push(dir)
    const path = join(dir, 'e.ndjson')
    const store = new FileStore(path, { maxBytes: 1024 * 1024, maxFiles: 0 })
    const batch = (from: number, n: number): Event[] =>
      Array.from({ length: n }, (_, i) =>
        parseEvent({
          event_id: `ID${String(from + i).padStart(8, '0')}`,
          event_timestamp: new Date(T0 + (from + i) * 10).toISOString().replace('Z', '000'),
          event_type: 'log',
          log_level: 20,
          event_data: { pad: 'x'.repeat(200) },
        }),
      )
    // Lines that are not events at the very start: every read that goes through them counts them.
    await writeFile(path, 'not an event\n'.repeat(5))
    for (let k = 0; k < 40; k++) await store.write(batch(k * 1000, 1000))
    const size = async (): Promise<number> => {
      let total = 0
      for (let i = 0; existsSync(i === 0 ? path : `${path}.${i}`); i++) total += (await stat(i === 0 ? path : `${path}.${i}`)).size
      return total
    }
    expect(await size()).toBeGreaterThan(8 * 1024 * 1024) // 40 000 events over several rotated files
    let last = 'ID00039999'
    // A full read goes through the first lines.
    let skipped = store.skippedLines
    for await (const _ of store.streamEvents({ orderBy: 'event_id' })) void _
    expect(store.skippedLines - skipped).toBe(5)
    skipped = store.skippedLines
    // The first poll indexes the files once; each poll sees exactly the new events and starts
    // near the end (it never reads the first lines again).
    for (let round = 0; round < 5; round++) {
      const fresh = batch(40_000 + round * 10, 10)
      await store.write(fresh)
      const seen: string[] = []
      for await (const e of store.streamEvents({ afterId: last, orderBy: 'event_id' })) seen.push(e.event_id)
      expect(seen).toEqual(fresh.map((e) => e.event_id))
      last = seen[seen.length - 1]
    }
    expect(store.skippedLines).toBe(skipped)
    await store.close()
  }, 60_000)

  it('extends its index where the last read ended, and notices a file rewritten in place', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'madsci-after-id-'))
    dirs.push(dir)
    const path = join(dir, 'e.ndjson')
    const write = (ns: number[]): string => ns.map((n) => text({ kind: 'insert', n })).join('')
    const check = async (store: FileStore, after: number): Promise<void> => {
      const fresh = new FileStore(path, { maxFiles: 0 })
      expect(await view(store, idOf(after), true)).toEqual(await view(fresh, idOf(after), true, true))
      await fresh.close()
    }
    const store = new FileStore(path, { maxFiles: 0 })
    await writeFile(path, write(Array.from({ length: 100 }, (_, i) => i)))
    await check(store, 50) // indexes the first 100 lines
    // The first line after the indexed part carries the greatest id; ~200 KiB of small ids follow.
    await appendFile(path, write([900, ...Array.from({ length: 200 }, (_, i) => 100 + i)]))
    await check(store, 299)
    await check(store, 899)
    // The same file (same inode) rewritten with other content, longer than what was indexed.
    await writeFile(path, write(Array.from({ length: 400 }, (_, i) => 2000 - i)))
    await check(store, 1700)
    await check(store, 1999)
    await store.close()
    // Reads arriving together on a store not indexed yet (the live poll and a client's request).
    const together = new FileStore(path, { maxFiles: 0 })
    const afters = [1600, 1700, 1800, 1900, 1999, 1650, 1750]
    const got = await Promise.all(afters.map((a) => view(together, idOf(a), true)))
    const reference = new FileStore(path, { maxFiles: 0 })
    for (let i = 0; i < afters.length; i++) expect(got[i]).toEqual(await view(reference, idOf(afters[i]), true, true))
    await together.close()
    await reference.close()
  })
})

