import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { type FileHandle, open, readdir, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { Query } from 'mingo'
import { StoreUnavailableError } from '../errors.js'
import type { Event } from '../event/model.js'
import { eventToJson } from '../event/serialize.js'
import { formatDateNaiveUtc } from '../event/timestamp.js'
import { parseEvent } from '../event/validate.js'
import { pipelineEventJson } from '../pipeline/record.js'
import { AfterIdIndex, UNSTABLE_ID } from './file-index.js'
import { Heap, type SnapshotFile, snapshotLines, WindowOrder } from './file-scan.js'
import { validateSelector } from './selector.js'
import type {
  ArchiveOptions,
  GetEventsOptions,
  ManagedStore,
  PipelineEvent,
  QueryOptions,
  StoreHealth,
  StreamOptions,
  WriteResult,
} from './types.js'

/**
 * The NDJSON file store: the zero-configuration default, and the server's embedded store.
 *
 * - One event per line in the client/log form (`event_id`, model key order), as MADSci's
 *   `log()` writes its local file; readable with `cat`, `jq` or `madsci-events tail`.
 * - Size rotation as Python's `RotatingFileHandler`: `events.ndjson` → `events.ndjson.1` → ...;
 *   `maxFiles` rotated files are kept (0 keeps them all: the server's embedded store never deletes).
 * - Writes are inserts: the first line of an id wins, as a duplicate `_id` leaves MongoDB's
 *   document unchanged, so a line written twice by a retried batch is harmless (idempotent).
 *   Archiving appends `{"updated_event": {...}}` (the new version wins) and a purge appends
 *   `{"deleted_event_id": ...}`.
 * - `streamEvents({ afterId })` (the live stream's poll) starts where an index of the files says
 *   no earlier line mentions a greater id (file-index.ts), so it reads only what is new.
 * - Queries use MongoDB semantics through mingo. Reads scan the files; results that must be sorted
 *   (newest first, time ranges) are sorted in memory, which rotation keeps bounded.
 */

export interface FileStoreOptions {
  /** Rotate past this size. 10 MiB, as MADSci's client log. */
  maxBytes?: number
  /** Rotated files kept. 5, as MADSci's client log; 0 keeps all (never deletes events). */
  maxFiles?: number
}

export const FILE_STORE_DEFAULTS: Required<FileStoreOptions> = {
  maxBytes: 10 * 1024 * 1024,
  maxFiles: 5,
}

interface DeletedMarker {
  deleted_event_id: string
}

interface UpdatedEvent {
  updated: Event
}

type Line = Event | DeletedMarker | UpdatedEvent

/** An event with its position in store order (for ties, as the stable sorts this replaces). */
interface Positioned {
  e: Event
  pos: number
}

interface Analysis {
  key: string
  simple: boolean
  /** `event_timestamp` in order within REORDER_WINDOW lines / on every line. */
  timeSorted: boolean
  timeInOrder: boolean
  /** `event_id` increasing on every line. */
  idInOrder: boolean
}

/**
 * Events a read may hold to put a nearly ordered store in order (writers interleaving batches,
 * ids made in the same millisecond). A store out of order by more is resolved in memory.
 */
const REORDER_WINDOW = 4096

/**
 * One line: `undefined` when it is not an event or marker (counted as skipped), `null` for an
 * empty line. `stable`: parsing it again gives the same event (it carries its id and time).
 */
function classify(line: string): { line: Line; stable: boolean } | null | undefined {
  if (!line) return null
  let obj: unknown
  try {
    obj = JSON.parse(line)
  } catch {
    return undefined
  }
  if (obj && typeof obj === 'object' && Object.keys(obj).length === 1) {
    if (typeof (obj as DeletedMarker).deleted_event_id === 'string') return { line: obj as DeletedMarker, stable: true }
    const upd = (obj as { updated_event?: unknown }).updated_event
    if (upd && typeof upd === 'object') {
      try {
        return { line: { updated: parseEvent(upd) }, stable: false }
      } catch {
        return undefined
      }
    }
  }
  try {
    const e = parseEvent(obj)
    const o = obj as Record<string, unknown>
    return { line: e, stable: (o._id !== undefined || o.event_id !== undefined) && o.event_timestamp !== undefined }
  } catch {
    return undefined
  }
}

/** The ids a line mentions, for the after-id index (a line whose id is made on each read: UNSTABLE_ID). */
function mentionedIds(text: string): string[] {
  const item = classify(text)
  if (!item) return []
  const line = item.line
  if ('deleted_event_id' in line) return [line.deleted_event_id]
  // An update of an id made on this read matches no stored event, so its id does not matter.
  if ('updated' in line) return [line.updated.event_id]
  return [item.stable ? line.event_id : UNSTABLE_ID]
}

async function closeAll(files: readonly SnapshotFile[]): Promise<void> {
  await Promise.all(files.map((f) => f.fh.close().catch(() => undefined)))
}

export class FileStore implements ManagedStore {
  readonly kind = 'file'
  readonly path: string
  readonly #opts: Required<FileStoreOptions>
  #fd = -1
  #size = 0
  #lock: Promise<unknown> = Promise.resolve()
  #skippedLines = 0
  #analysis: Analysis | undefined
  readonly #afterIds = new AfterIdIndex(mentionedIds)

  constructor(path: string, options: FileStoreOptions = {}) {
    this.path = resolve(path)
    // An option given as `undefined` keeps its default.
    this.#opts = {
      maxBytes: options.maxBytes ?? FILE_STORE_DEFAULTS.maxBytes,
      maxFiles: options.maxFiles ?? FILE_STORE_DEFAULTS.maxFiles,
    }
  }

  get target(): string {
    return this.path
  }

  /** Lines that were not events (skipped by readers). */
  get skippedLines(): number {
    return this.#skippedLines
  }

  async open(): Promise<void> {
    this.#openSync()
  }

  #openSync(): void {
    if (this.#fd >= 0) return
    try {
      mkdirSync(dirname(this.path), { recursive: true })
      this.#fd = openSync(this.path, 'a')
      this.#size = fstatSync(this.#fd).size
    } catch (err) {
      throw new StoreUnavailableError('file', `cannot open ${this.path}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Serialize writes and rotations within this process. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn)
    this.#lock = run.catch(() => undefined)
    return run
  }

  async write(batch: readonly PipelineEvent[]): Promise<WriteResult> {
    return this.writeSync(batch)
  }

  /**
   * Append a batch synchronously. The pipeline writes with this: local disk takes a batch in well
   * under a millisecond, and a write that is never in flight can be made at `process.exit`, when
   * nothing asynchronous finishes, without writing anything twice.
   */
  writeSync(batch: readonly PipelineEvent[]): WriteResult {
    let text = ''
    for (const e of batch) text += pipelineEventJson(e) + '\n'
    this.#appendSync(text)
    return { delivered: batch.length, rejected: [] }
  }

  #append(text: string): Promise<void> {
    return this.#exclusive(async () => this.#appendSync(text))
  }

  #appendSync(text: string): void {
    this.#openSync()
    try {
      const buf = Buffer.from(text)
      let off = 0
      while (off < buf.length) off += writeSync(this.#fd, buf, off)
      this.#size += buf.length
    } catch (err) {
      throw new StoreUnavailableError('file', `cannot write ${this.path}: ${(err as Error).message}`, { cause: err })
    }
    if (this.#size >= this.#opts.maxBytes) this.#rotateSync()
  }

  #rotateSync(): void {
    closeSync(this.#fd)
    this.#fd = -1
    const dir = dirname(this.path)
    const base = basename(this.path)
    let names: string[] = []
    try {
      names = readdirSync(dir)
    } catch {
      /* none */
    }
    const numbers = names
      .map((n) => (n.startsWith(base + '.') ? Number(n.slice(base.length + 1)) : Number.NaN))
      .filter((n) => Number.isInteger(n) && n > 0)
      .sort((a, b) => a - b)
    const keep = this.#opts.maxFiles
    // As RotatingFileHandler: .n → .n+1 from the oldest, base → .1, nothing past maxFiles kept.
    for (let k = numbers.length - 1; k >= 0; k--) {
      const i = numbers[k]
      const from = `${this.path}.${i}`
      try {
        if (keep > 0 && i >= keep) unlinkSync(from)
        else renameSync(from, `${this.path}.${i + 1}`)
      } catch {
        /* gone meanwhile */
      }
    }
    try {
      renameSync(this.path, `${this.path}.1`)
    } catch {
      /* gone meanwhile */
    }
    this.#openSync()
  }

  async #rotatedFiles(): Promise<string[]> {
    const dir = dirname(this.path)
    const base = basename(this.path)
    let names: string[] = []
    try {
      names = await readdir(dir)
    } catch {
      return []
    }
    return names
      .map((n) => (n.startsWith(base + '.') ? Number(n.slice(base.length + 1)) : Number.NaN))
      .filter((n) => Number.isInteger(n) && n > 0)
      .sort((a, b) => a - b)
      .map((n) => `${this.path}.${n}`)
  }

  /** Files oldest first. */
  async #files(): Promise<string[]> {
    const rotated = (await this.#rotatedFiles()).reverse()
    return existsSync(this.path) ? [...rotated, this.path] : rotated
  }

  /**
   * The files as they are now, opened for one read: each is read up to its present size, so every
   * pass of one read sees the same lines (appends and rotations meanwhile are not seen).
   */
  async #snapshot(): Promise<SnapshotFile[]> {
    await this.#lock
    const out: SnapshotFile[] = []
    try {
      for (const file of await this.#files()) {
        let fh: FileHandle
        try {
          fh = await open(file, 'r')
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
          throw err
        }
        out.push({ fh, size: 0, id: '', inode: '' })
        const st = await fh.stat()
        out[out.length - 1].size = st.size
        out[out.length - 1].id = `${st.dev}:${st.ino}:${st.size}`
        out[out.length - 1].inode = `${st.dev}:${st.ino}`
      }
    } catch (err) {
      await closeAll(out)
      throw err
    }
    return out
  }

  /** Every line in write order: inserted events, updates and deletion markers. */
  async *#lines(files: readonly SnapshotFile[], count = true): AsyncGenerator<Line> {
    for await (const line of snapshotLines(files)) {
      const item = classify(line)
      if (item === undefined) {
        if (count) this.#skippedLines++
        continue
      }
      if (item !== null) yield item.line
    }
  }

  /**
   * Whether the snapshot can be read in one pass with a bounded reorder heap: no updates or
   * deletions, every line carrying its own id and time (a missing one is generated on each read),
   * and ids in order within REORDER_WINDOW lines (so there is no duplicate either). `timeSorted`:
   * `event_timestamp` in order within the window too. Remembered while the files are unchanged
   * (for whole-store reads only: a live poll's tail is small, and must not evict it).
   */
  async #analyze(files: readonly SnapshotFile[], whole = true): Promise<Analysis> {
    const key = files.map((f) => f.id).join('|')
    if (whole && this.#analysis?.key === key) return this.#analysis
    const ids = new WindowOrder(REORDER_WINDOW, true)
    const times = new WindowOrder(REORDER_WINDOW, false)
    let simple = true
    let idInOrder = true
    let timeInOrder = true
    let lastId: string | undefined
    let lastTime: string | undefined
    for await (const line of snapshotLines(files)) {
      const item = classify(line)
      if (!item) continue
      if (!item.stable || !('event_id' in item.line) || !ids.add(item.line.event_id)) {
        simple = false
        break
      }
      const { event_id: id, event_timestamp: time } = item.line
      times.add(time)
      if (lastId !== undefined && id <= lastId) idInOrder = false
      if (lastTime !== undefined && time < lastTime) timeInOrder = false
      lastId = id
      lastTime = time
    }
    const analysis = { key, simple, timeSorted: simple && times.ok, timeInOrder: simple && timeInOrder, idInOrder: simple && idInOrder }
    if (whole) this.#analysis = analysis
    return analysis
  }

  /** The current version of every event passing `keep`, in first-write order. */
  async #collect(files: readonly SnapshotFile[], keep: (e: Event) => boolean): Promise<Map<string, Event>> {
    const out = new Map<string, Event>()
    // Ids present (stored and not deleted), whether or not they pass `keep`.
    const present = new Set<string>()
    for await (const item of this.#lines(files)) {
      if ('deleted_event_id' in item) {
        out.delete(item.deleted_event_id)
        present.delete(item.deleted_event_id)
        continue
      }
      let e: Event
      if ('updated' in item) {
        e = item.updated
        if (!present.has(e.event_id)) continue
      } else {
        e = item
        if (present.has(e.event_id)) continue // a duplicate insert leaves the stored event unchanged
        present.add(e.event_id)
      }
      // Map.set keeps the first-write position (stable order) with the latest content.
      if (keep(e)) out.set(e.event_id, e)
      else out.delete(e.event_id)
    }
    return out
  }

  /**
   * The current version of every event passing `keep`, with its store position, in `order`: store
   * order (`pos`), `event_id`, or `event_timestamp` (ties in store order). A store written in
   * order (the usual case) is read in one pass holding at most REORDER_WINDOW events; one with
   * updates, deletions, duplicates or events far out of order is resolved in memory as before.
   * With `afterId` (which `keep` must also apply), the read starts where the after-id index says
   * no earlier line mentions a greater id: a live poll reads what was written since the last one.
   */
  async *#resolved(keep: (e: Event) => boolean, order: 'pos' | 'id' | 'ts', afterId?: string): AsyncGenerator<Positioned> {
    const snapshot = await this.#snapshot()
    try {
      let files = snapshot
      if (afterId !== undefined) {
        const start = await this.#afterIds.start(snapshot, afterId)
        files = snapshot.slice(start.file)
        if (files.length > 0 && start.offset > 0) files[0] = { ...files[0], start: start.offset }
      }
      const analysis = await this.#analyze(files, files === snapshot)
      if (analysis.simple && (order !== 'ts' || analysis.timeSorted)) {
        // Already in order: no heap (ties keep store order, as the stable sort).
        const inOrder = order === 'pos' || (order === 'id' ? analysis.idInOrder : analysis.timeInOrder)
        const heap =
          inOrder
            ? undefined
            : new Heap<Positioned>(
                order === 'id'
                  ? (a, b) => a.e.event_id < b.e.event_id
                  : (a, b) => a.e.event_timestamp < b.e.event_timestamp || (a.e.event_timestamp === b.e.event_timestamp && a.pos < b.pos),
              )
        let pos = 0
        for await (const item of this.#lines(files)) {
          const e = item as Event
          const p = pos++
          if (!keep(e)) continue
          if (!heap) yield { e, pos: p }
          else {
            heap.push({ e, pos: p })
            if (heap.size > REORDER_WINDOW) yield heap.pop() as Positioned
          }
        }
        if (heap) while (heap.size > 0) yield heap.pop() as Positioned
        return
      }
      const found = await this.#collect(files, keep)
      let pos = 0
      const list: Positioned[] = []
      for (const e of found.values()) list.push({ e, pos: pos++ })
      found.clear()
      if (order === 'id') list.sort((a, b) => (a.e.event_id < b.e.event_id ? -1 : a.e.event_id > b.e.event_id ? 1 : 0))
      else if (order === 'ts') list.sort((a, b) => (a.e.event_timestamp < b.e.event_timestamp ? -1 : a.e.event_timestamp > b.e.event_timestamp ? 1 : 0))
      for (let i = 0; i < list.length; i++) {
        const x = list[i]
        ;(list as unknown[])[i] = undefined
        yield x
      }
    } finally {
      await closeAll(snapshot)
    }
  }

  /** The first `k` events passing `keep` in the order `before` (ties in store order), holding at most `k`. */
  async #top(keep: (e: Event) => boolean, k: number, before: (a: Event, b: Event) => number): Promise<Event[]> {
    const cmp = (a: Positioned, b: Positioned): number => before(a.e, b.e) || a.pos - b.pos
    // A max-heap of the k best: its top is the worst kept, replaced by anything better.
    const heap = new Heap<Positioned>((a, b) => cmp(a, b) > 0)
    for await (const x of this.#resolved(keep, 'pos')) {
      if (heap.size < k) heap.push(x)
      else if (k > 0 && cmp(x, heap.peek() as Positioned) < 0) {
        heap.pop()
        heap.push(x)
      }
    }
    const out: Positioned[] = []
    while (heap.size > 0) out.push(heap.pop() as Positioned)
    return out.reverse().map((x) => x.e)
  }

  /** Every event passing `keep` in the order `before` (a stable sort over store order). */
  async #all(keep: (e: Event) => boolean, before?: (a: Event, b: Event) => number): Promise<Event[]> {
    const list: Event[] = []
    for await (const x of this.#resolved(keep, 'pos')) list.push(x.e)
    if (before) list.sort(before)
    return list
  }

  async getEvent(id: string): Promise<Event | null> {
    for await (const x of this.#resolved((e) => e.event_id === id, 'pos')) return x.e
    return null
  }

  async getEvents(options: GetEventsOptions = {}): Promise<Event[]> {
    const number = options.number ?? 100
    const offset = options.offset ?? 0
    const level = options.level ?? 0
    const keep = (e: Event): boolean =>
      e.log_level >= level &&
      (options.includeArchived || e.archived !== true) &&
      (options.startTime === undefined || e.event_timestamp >= options.startTime) &&
      (options.endTime === undefined || e.event_timestamp <= options.endTime)
    const newest = (a: Event, b: Event): number => (a.event_timestamp < b.event_timestamp ? 1 : a.event_timestamp > b.event_timestamp ? -1 : 0)
    if (number === 0) return (await this.#all(keep, newest)).slice(offset)
    return (await this.#top(keep, offset + number, newest)).slice(offset)
  }

  async queryEvents(selector: Record<string, unknown>, options: QueryOptions = {}): Promise<Event[]> {
    const query = new Query(validateSelector(selector, { safeRegex: true }))
    const keep = (e: Event): boolean => query.test(eventToQueryable(e))
    const skip = options.skip ?? 0
    if (options.sort) {
      const [[field, dir]] = Object.entries(options.sort)
      const before = (a: Event, b: Event): number => {
        const av = getPath(eventToQueryable(a), field) as string | number
        const bv = getPath(eventToQueryable(b), field) as string | number
        return av < bv ? -dir : av > bv ? dir : 0
      }
      if (options.limit) return (await this.#top(keep, skip + options.limit, before)).slice(skip)
      return (await this.#all(keep, before)).slice(skip)
    }
    const out: Event[] = []
    let seen = 0
    for await (const x of this.#resolved(keep, 'pos')) {
      if (seen++ < skip) continue
      out.push(x.e)
      if (options.limit && out.length >= options.limit) break
    }
    return out
  }

  async *streamEvents(options: StreamOptions = {}): AsyncIterable<Event> {
    const query = options.selector ? new Query(validateSelector(options.selector, { safeRegex: true })) : undefined
    const keep = (e: Event): boolean =>
      (options.includeArchived !== false || e.archived !== true) &&
      (options.startTime === undefined || e.event_timestamp >= options.startTime) &&
      (options.endTime === undefined || e.event_timestamp <= options.endTime) &&
      (options.afterId === undefined || e.event_id > options.afterId) &&
      (query === undefined || query.test(eventToQueryable(e)))
    for await (const x of this.#resolved(keep, options.orderBy === 'event_id' ? 'id' : 'ts', options.afterId)) yield x.e
  }

  async archiveEvents(options: ArchiveOptions): Promise<number> {
    const ids = options.eventIds ? new Set(options.eventIds) : undefined
    let list = await this.#all(
      (e) =>
        e.archived !== true &&
        (ids ? ids.has(e.event_id) : options.beforeDate !== undefined && e.event_timestamp < options.beforeDate),
    )
    if (options.maxBatches && options.batchSize) list = list.slice(0, options.maxBatches * options.batchSize)
    if (list.length === 0) return 0
    const archivedAt = formatDateNaiveUtc(new Date())
    await this.#append(list.map((e) => `{"updated_event":${eventToJson({ ...e, archived: true, archived_at: archivedAt })}}\n`).join(''))
    return list.length
  }

  async getArchivedEvents(options: { number?: number; offset?: number } = {}): Promise<Event[]> {
    const newest = (a: Event, b: Event): number => ((a.archived_at ?? '') < (b.archived_at ?? '') ? 1 : (a.archived_at ?? '') > (b.archived_at ?? '') ? -1 : 0)
    const keep = (e: Event): boolean => e.archived === true
    const number = options.number ?? 100
    const offset = options.offset ?? 0
    if (number === 0) return (await this.#all(keep, newest)).slice(offset)
    return (await this.#top(keep, offset + number, newest)).slice(offset)
  }

  async purgeArchived(olderThanDays: number): Promise<number> {
    const cutoff = formatDateNaiveUtc(new Date(Date.now() - olderThanDays * 86_400_000))
    const found = await this.#all((e) => e.archived === true && e.archived_at !== null && e.archived_at < cutoff)
    if (found.length === 0) return 0
    await this.#append(found.map((e) => JSON.stringify({ deleted_event_id: e.event_id }) + '\n').join(''))
    return found.length
  }

  async countEvents(selector?: Record<string, unknown>): Promise<number> {
    const query = selector ? new Query(validateSelector(selector, { safeRegex: true })) : undefined
    let n = 0
    for await (const _ of this.#resolved((e) => query === undefined || query.test(eventToQueryable(e)), 'pos')) n++
    return n
  }

  async health(): Promise<StoreHealth> {
    try {
      await this.open()
      await stat(this.path)
      return { connected: true, totalEvents: await this.countEvents() }
    } catch (err) {
      return { connected: false, totalEvents: null, error: (err as Error).message }
    }
  }

  async close(): Promise<void> {
    await this.#lock
    if (this.#fd >= 0) closeSync(this.#fd)
    this.#fd = -1
  }
}

/** The event as MongoDB would see it (`_id` for the id), for selector matching. */
export function eventToQueryable(e: Event): Record<string, unknown> {
  return {
    _id: e.event_id,
    event_id: e.event_id,
    event_type: e.event_type,
    log_level: e.log_level,
    alert: e.alert,
    event_timestamp: e.event_timestamp,
    source: e.source,
    event_data: e.event_data,
    trace_id: e.trace_id,
    span_id: e.span_id,
    archived: e.archived,
    archived_at: e.archived_at,
  }
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

/** Where the zero-configuration file store writes: `<madsci dir>/events/events.ndjson`. */
export function defaultEventFile(madsciDir: string): string {
  return join(madsciDir, 'events', 'events.ndjson')
}
