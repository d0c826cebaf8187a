/**
 * Duplicate ids must not move the FileStore into reading the whole store into memory (issue 21,
 * item 4). One retried `POST /event` with an `event_id` already stored used to make every later
 * whole-store read (health, GET /events, exports, reports) hold every event. Now a read resolves
 * only the ids that need it (duplicates, late writes, updates, deletions: by position, not by
 * event) and streams the rest.
 *
 * A fast-check property checks every read against a model of the lines written (the first insert
 * of an id wins and keeps its position, an update replaces the version, a deletion removes it),
 * over stores larger than the reorder window with duplicates far from their first write. What the
 * reads hold with duplicates present is measured in test/stores/file-read.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { type Event, eventToJson, FileStore, parseEvent } from '../../src/index.js'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const BASE = 4600
const t0 = Date.UTC(2025, 0, 1)
const ts = (sec: number): string => new Date(t0 + sec * 1000).toISOString().replace('Z', '000')
const idOf = (k: number): string => `E${String(k).padStart(7, '0')}`
const event = (k: number, sec: number, data: Record<string, unknown>): Event =>
  parseEvent({ event_id: idOf(k), event_timestamp: ts(sec), event_type: k % 5 === 0 ? 'workflow_start' : 'log', log_level: k % 3 === 0 ? 40 : 20, event_data: data })

type Op =
  | { kind: 'dup'; k: number; at: number }
  | { kind: 'late'; k: number; sec: number; at: number }
  | { kind: 'update'; k: number; at: number }
  | { kind: 'delete'; k: number; at: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('dup' as const), k: fc.nat({ max: BASE - 1 }), at: fc.nat({ max: BASE }) }),
  fc.record({ kind: fc.constant('late' as const), k: fc.integer({ min: BASE, max: BASE + 50 }), sec: fc.nat({ max: BASE + 100 }), at: fc.nat({ max: BASE }) }),
  fc.record({ kind: fc.constant('update' as const), k: fc.nat({ max: BASE + 50 }), at: fc.nat({ max: BASE }) }),
  fc.record({ kind: fc.constant('delete' as const), k: fc.nat({ max: BASE + 50 }), at: fc.nat({ max: BASE }) }),
)

type Line = { insert: Event } | { update: Event } | { delete: string }

/** The base store (ids and times in order) with the ops spliced in at their positions. */
function linesOf(ops: Op[]): Line[] {
  const lines: Line[] = Array.from({ length: BASE }, (_, k) => ({ insert: event(k, k, { k, v: 0 }) }))
  // Later positions first, so earlier ones keep their index.
  const sorted = ops.map((o, n) => ({ o, n })).sort((a, b) => b.o.at - a.o.at || b.n - a.n)
  for (const { o, n } of sorted) {
    const line: Line =
      o.kind === 'dup'
        ? { insert: event(o.k, o.k, { k: o.k, v: `dup-${n}` }) }
        : o.kind === 'late'
          ? { insert: event(o.k, o.sec, { k: o.k, v: `late-${n}` }) }
          : o.kind === 'update'
            ? { update: parseEvent({ ...event(o.k, o.k, { k: o.k, v: `upd-${n}` }), archived: n % 2 === 0, archived_at: n % 2 === 0 ? ts(BASE + n) : null }) }
            : { delete: idOf(o.k) }
    lines.splice(Math.min(o.at, lines.length), 0, line)
  }
  return lines
}

/** What the store holds after these lines, in store order (first insert's position). */
function model(lines: Line[]): Event[] {
  const present = new Map<string, { pos: number; e: Event }>()
  lines.forEach((l, pos) => {
    if ('delete' in l) present.delete(l.delete)
    else if ('update' in l) {
      const cur = present.get(l.update.event_id)
      if (cur) cur.e = l.update
    } else if (!present.has(l.insert.event_id)) present.set(l.insert.event_id, { pos, e: l.insert })
  })
  return [...present.values()].sort((a, b) => a.pos - b.pos).map((x) => x.e)
}

const byTime = (list: Event[]): Event[] => [...list].sort((a, b) => (a.event_timestamp < b.event_timestamp ? -1 : a.event_timestamp > b.event_timestamp ? 1 : 0))
const byId = (list: Event[]): Event[] => [...list].sort((a, b) => (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0))
const newestFirst = (list: Event[]): Event[] => [...list].sort((a, b) => (a.event_timestamp < b.event_timestamp ? 1 : a.event_timestamp > b.event_timestamp ? -1 : 0))

async function collect(it: AsyncIterable<Event>): Promise<Event[]> {
  const out: Event[] = []
  for await (const e of it) out.push(e)
  return out
}

describe('FileStore reads with duplicates, late writes, updates and deletions', () => {
  it('property: every read equals the model of the lines written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'madsci-file-exc-'))
    dirs.push(dir)
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const lines = linesOf(ops)
        const file = join(dir, `e${run++}.ndjson`)
        await writeFile(file, lines.map((l) => ('insert' in l ? eventToJson(l.insert) : 'update' in l ? `{"updated_event":${eventToJson(l.update)}}` : JSON.stringify({ deleted_event_id: l.delete }))).join('\n') + '\n')
        const store = new FileStore(file, { maxFiles: 0 })
        try {
          const stored = model(lines)
          expect(await collect(store.streamEvents())).toEqual(byTime(stored))
          expect(await collect(store.streamEvents({ orderBy: 'event_id' }))).toEqual(byId(stored))
          const mid = idOf(BASE - 300)
          expect(await collect(store.streamEvents({ orderBy: 'event_id', afterId: mid }))).toEqual(byId(stored).filter((e) => e.event_id > mid))
          expect(await collect(store.streamEvents({ includeArchived: false }))).toEqual(byTime(stored.filter((e) => !e.archived)))
          expect(await store.countEvents()).toBe(stored.length)
          expect(await store.queryEvents({ event_type: 'workflow_start' })).toEqual(stored.filter((e) => e.event_type === 'workflow_start'))
          expect(await store.queryEvents({}, { sort: { event_timestamp: -1 }, skip: 2, limit: 7 })).toEqual(newestFirst(stored).slice(2, 9))
          expect(await store.getEvents({ number: 12, offset: 3, level: 40 })).toEqual(newestFirst(stored.filter((e) => !e.archived && e.log_level >= 40)).slice(3, 15))
          for (const o of ops.slice(0, 5)) expect(await store.getEvent(idOf(o.k))).toEqual(stored.find((e) => e.event_id === idOf(o.k)) ?? null)
        } finally {
          await store.close()
        }
      }),
      { numRuns: 8 },
    )
  }, 120_000)
})
