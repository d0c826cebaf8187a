import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs'
import { type FileHandle, open, readdir, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { Query } from 'mingo'
import { StoreUnavailableError } from '../errors.js'
import type { Event } from '../event/model.js'
import { eventToJson } from '../event/serialize.js'
import { formatDateNaiveUtc } from '../event/timestamp.js'
import { parseEvent } from '../event/validate.js'
import { pipelineEventJson } from '../pipeline/record.js'
import { daysBefore } from './time-limits.js'
import { AfterIdIndex, LineCounts, UNSTABLE_ID } from './file-index.js'
import { Heap, lineAt, type LineCursor, type SnapshotFile, snapshotLines, WindowOrder } from './file-scan.js'
import { validateSelector } from './selector.js'
import { fileIdentity, rotateFile, type RotationOutcome, rotationNumbers } from './file-rotation.js'
import { makeWarning, type WarningListener } from '../warnings.js'
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
 * - Size rotation as Python's `RotatingFileHandler`: `events.ndjson` → `events.ndjson.1` → ...,
 *   safe with several processes appending to one file (file-rotation.ts); `maxFiles` rotated
 *   files are kept (0, the default, keeps them all).
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
  /**
   * Rotated files kept; 0 (the default) keeps them all. The file is an event store, often shared
   * (the server reads the library's default file), so nothing is deleted unless asked; MADSci's
   * client log keeps 5.
   */
  maxFiles?: number
  /** Degraded-mode notices (a rotation refused). Default: none. */
  onWarning?: WarningListener
}

export const FILE_STORE_DEFAULTS: Required<Omit<FileStoreOptions, 'onWarning'>> = {
  maxBytes: 10 * 1024 * 1024,
  maxFiles: 0,
}

/** After a failed rotation, the next attempt (a refused rename is rarely fixed in a second). */
const ROTATION_RETRY_MS = 10_000

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
  /** Every line carries its own id and time (else each read makes new ones: resolved in memory). */
  simple: boolean
  /**
   * Ids whose lines a read must resolve: updated, deleted, or inserted where the insert breaks the
   * id order of the others (a duplicate, or a late write). Every other insert is a plain one, in
   * id order within REORDER_WINDOW lines. Held as ids only: one retried write adds one.
   */
  exceptions: Set<string>
  /** Over the plain inserts: `event_timestamp` in order within REORDER_WINDOW lines / on every line. */
  timeSorted: boolean
  timeInOrder: boolean
  /** `event_id` increasing on every plain insert. */
  idInOrder: boolean
}

/**
 * The id at the start of a line in the forms this store writes: an event (`{"event_id":"…"`), a
 * deletion marker, or an update (`{"updated_event":{"event_id":"…"`). Ids with escapes are not
 * matched (those lines are parsed).
 */
const LEADING_ID = /^\{"(?:event_id|deleted_event_id)":"([^"\\]*)"|^\{"updated_event":\{"event_id":"([^"\\]*)"/

/** A line's position in the store, from where it starts: ordered as the lines are (files < 2^12, offsets < 2^40). */
function linePosition(c: LineCursor): number {
  return c.file * 2 ** 40 + c.offset
}

/** What reads sort by: store position, id, time. */
interface SortKeys {
  pos: number
  id: string
  ts: string
}

function sortKeys(x: Positioned): SortKeys {
  return { pos: x.pos, id: x.e.event_id, ts: x.e.event_timestamp }
}

/** An exception's current version: its store position (its first insert's), where the version is, its sort keys once read. */
interface Resolved extends SortKeys {
  file: number
  offset: number
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
  readonly #opts: typeof FILE_STORE_DEFAULTS
  #fd = -1
  /** `dev:ino` of the file appended to, to notice another process's rotation. */
  #identity = ''
  #checkedAt = 0
  #rotateAfter = 0
  #rotationErrors = 0
  readonly #onWarning: WarningListener
  #size = 0
  #lock: Promise<unknown> = Promise.resolve()
  #skippedLines = 0
  #analysis: Analysis | undefined
  readonly #afterIds = new AfterIdIndex(mentionedIds)
  readonly #counts = new LineCounts()
  /** The greatest id in the store, once learnt; `#maxWritten` the greatest this instance appended. */
  #maxId: string | undefined
  #maxWritten = ''
  #learningMaxId = false

  constructor(path: string, options: FileStoreOptions = {}) {
    this.path = resolve(path)
    // An option given as `undefined` keeps its default.
    this.#opts = {
      maxBytes: options.maxBytes ?? FILE_STORE_DEFAULTS.maxBytes,
      maxFiles: options.maxFiles ?? FILE_STORE_DEFAULTS.maxFiles,
    }
    this.#onWarning = options.onWarning ?? (() => undefined)
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
      this.#fd = openSync(this.path, 'a+')
      const st = fstatSync(this.#fd)
      this.#size = st.size
      this.#identity = `${st.dev}:${st.ino}`
      this.#checkedAt = Date.now()
      this.#endTornLine(st.size)
    } catch (err) {
      throw new StoreUnavailableError('file', `cannot open ${this.path}: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * A process killed in the middle of a write leaves a last line without its newline; appending to
   * it would glue the next event onto the torn one and make both unreadable. End it first (readers
   * skip the torn line and count it).
   */
  #endTornLine(size: number): void {
    if (size === 0) return
    const last = Buffer.alloc(1)
    readSync(this.#fd, last, 0, 1, size - 1)
    if (last[0] !== 0x0a) {
      writeSync(this.#fd, '\n')
      this.#size++
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
    const duplicates = this.#possibleDuplicates(batch)
    this.#appendSync(text)
    for (const e of batch) if (e.event_id > this.#maxWritten) this.#maxWritten = e.event_id
    if (this.#maxId !== undefined && this.#maxWritten > this.#maxId) this.#maxId = this.#maxWritten
    return { delivered: batch.length, rejected: [], duplicates }
  }

  /**
   * The ids of `batch` that may already be stored: those not above the greatest id in the store
   * (or repeated in the batch). Undefined while that id is not known yet (it is learnt in the
   * background from the after-id index). A fresh ULID is above every earlier one, so a caller
   * that must answer with what is stored (POST /event) looks up only retries and late writes.
   */
  #possibleDuplicates(batch: readonly PipelineEvent[]): string[] | undefined {
    const max = this.#maxId
    if (max === undefined) {
      this.#learnMaxId()
      return undefined
    }
    const seen = new Set<string>()
    const out: string[] = []
    for (const e of batch) {
      if (e.event_id <= max || seen.has(e.event_id)) out.push(e.event_id)
      seen.add(e.event_id)
    }
    return out
  }

  #learnMaxId(): void {
    if (this.#learningMaxId) return
    this.#learningMaxId = true
    void (async () => {
      const snapshot = await this.#snapshot()
      try {
        const indexed = await this.#afterIds.maxId(snapshot)
        // Writes after the snapshot are in #maxWritten (other processes' writes are missed: the answer
        // to a duplicate is then the posted event, as MADSci's, and readers keep the first line).
        this.#maxId = indexed > this.#maxWritten ? indexed : this.#maxWritten
      } finally {
        await closeAll(snapshot)
      }
    })().catch(() => {
      this.#learningMaxId = false
    })
  }

  #append(text: string): Promise<void> {
    return this.#exclusive(async () => this.#appendSync(text))
  }

  #appendSync(text: string): void {
    this.#openSync()
    this.#followRotation()
    try {
      const buf = Buffer.from(text)
      let off = 0
      while (off < buf.length) off += writeSync(this.#fd, buf, off)
      this.#size += buf.length
    } catch (err) {
      throw new StoreUnavailableError('file', `cannot write ${this.path}: ${(err as Error).message}`, { cause: err })
    }
    if (this.#size >= this.#opts.maxBytes && Date.now() >= this.#rotateAfter) this.#rotateSync()
  }

  /**
   * Other processes may append to the same file and rotate it: at most once a second, check that
   * this process still appends to `path` (else reopen it) and learn its real size.
   */
  #followRotation(): void {
    const now = Date.now()
    if (now - this.#checkedAt < 1000) return
    this.#checkedAt = now
    const current = fileIdentity(this.path)
    if (current && current.id === this.#identity) this.#size = current.size
    else this.#reopen()
  }

  #reopen(): void {
    closeSync(this.#fd)
    this.#fd = -1
    this.#openSync()
  }

  #rotateSync(): void {
    let outcome: RotationOutcome
    try {
      outcome = rotateFile(this.path, this.#identity, this.#opts.maxBytes, this.#opts.maxFiles)
    } catch (err) {
      // The batch is written; the file just grows past its limit. Say so, try again later.
      this.#rotationErrors++
      this.#rotateAfter = Date.now() + ROTATION_RETRY_MS
      this.#onWarning(makeWarning('MADSCI_WARN_ROTATION_FAILED', 'file', `${this.path}: ${(err as Error).message}`))
      return
    }
    if (outcome === 'rotated' || outcome === 'moved') this.#reopen()
    else if (outcome === 'small') this.#size = fileIdentity(this.path)?.size ?? 0
    // 'busy': another process is rotating; the next write checks again.
  }

  /** Rotations that failed (a rename or unlink refused); each was reported as a warning. */
  get rotationErrors(): number {
    return this.#rotationErrors
  }

  async #rotatedFiles(): Promise<string[]> {
    let names: string[]
    try {
      names = await readdir(dirname(this.path))
    } catch {
      return []
    }
    return rotationNumbers(names, this.path).map((n) => `${this.path}.${n}`)
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
  async *#lines(files: readonly SnapshotFile[], count = true, cursor?: LineCursor): AsyncGenerator<Line> {
    for await (const line of snapshotLines(files, cursor)) {
      const item = classify(line)
      if (item === undefined) {
        if (count) this.#skippedLines++
        continue
      }
      if (item !== null) yield item.line
    }
  }

  /**
   * How the snapshot can be read: its exceptions (updates, deletions, duplicates and late writes,
   * by id) apart, every line is a plain insert with ids in order within REORDER_WINDOW lines, so a
   * bounded reorder heap sorts them; `timeSorted`: their times too. A line without its own id or
   * time (one is generated on each read) makes the store not `simple`. Remembered while the files
   * are unchanged (for whole-store reads only: a live poll's tail is small, and must not evict it).
   */
  async #analyze(files: readonly SnapshotFile[], whole = true): Promise<Analysis> {
    const key = files.map((f) => f.id).join('|')
    if (whole && this.#analysis?.key === key) return this.#analysis
    const ids = new WindowOrder(REORDER_WINDOW, true)
    const times = new WindowOrder(REORDER_WINDOW, false)
    const exceptions = new Set<string>()
    let simple = true
    let idInOrder = true
    let timeInOrder = true
    let lastId: string | undefined
    let lastTime: string | undefined
    for await (const line of snapshotLines(files)) {
      const item = classify(line)
      if (!item) continue
      const l = item.line
      if ('deleted_event_id' in l) exceptions.add(l.deleted_event_id)
      else if ('updated' in l) exceptions.add(l.updated.event_id)
      else if (!item.stable) {
        simple = false
        break
      } else if (exceptions.has(l.event_id) || !ids.admit(l.event_id)) exceptions.add(l.event_id)
      else {
        const { event_id: id, event_timestamp: time } = l
        times.add(time)
        if (lastId !== undefined && id <= lastId) idInOrder = false
        if (lastTime !== undefined && time < lastTime) timeInOrder = false
        lastId = id
        lastTime = time
      }
    }
    const analysis = { key, simple, exceptions, timeSorted: simple && times.ok, timeInOrder: simple && timeInOrder, idInOrder: simple && idInOrder }
    if (whole) this.#analysis = analysis
    return analysis
  }

  /**
   * The current version of each exception passing `keep`, sorted by `before`: a pass over the
   * lines that follows only the exceptions' ids (as `#collect` does for all: the first insert wins
   * and sets the position, an update replaces the version, a deletion removes the event), then
   * each version is read back from where it is. Holds positions, not events.
   */
  async #resolveExceptions(files: readonly SnapshotFile[], exceptions: Set<string>, keep: (e: Event) => boolean, before: (a: SortKeys, b: SortKeys) => boolean): Promise<Resolved[]> {
    const found = new Map<string, Resolved>()
    const cursor: LineCursor = { file: 0, offset: 0 }
    for await (const line of snapshotLines(files, cursor)) {
      // Lines in the form this store writes name their id first: the others are passed unparsed.
      const fast = LEADING_ID.exec(line)
      if (fast && !exceptions.has(fast[1] ?? fast[2]) && !line.includes('"_id"')) continue
      const item = classify(line)
      if (!item) continue
      const l = item.line
      const id = 'deleted_event_id' in l ? l.deleted_event_id : 'updated' in l ? l.updated.event_id : l.event_id
      if (!exceptions.has(id)) continue
      const cur = found.get(id)
      if ('deleted_event_id' in l) found.delete(id)
      else if ('updated' in l) {
        if (cur) Object.assign(cur, { file: cursor.file, offset: cursor.offset })
      } else if (!cur) found.set(id, { pos: linePosition(cursor), file: cursor.file, offset: cursor.offset, id, ts: '' })
    }
    const out: Resolved[] = []
    for (const r of found.values()) {
      const e = await this.#versionAt(files, r)
      if (!e || !keep(e)) continue
      r.ts = e.event_timestamp
      out.push(r)
    }
    return out.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0))
  }

  /** The event (or updated version) on the line where `r` points. */
  async #versionAt(files: readonly SnapshotFile[], r: Resolved): Promise<Event | undefined> {
    const item = classify(await lineAt(files[r.file], r.offset))
    if (!item) return undefined
    return 'updated' in item.line ? item.line.updated : 'deleted_event_id' in item.line ? undefined : item.line
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
   * order (`pos`), `event_id`, or `event_timestamp` (ties in store order). The plain inserts are
   * read in one pass holding at most REORDER_WINDOW events, the exceptions (see Analysis) merged in
   * from their positions; lines without their own id or time, and a time order far from the
   * store's, are resolved in memory. With `from` (which `keep` must also apply: ids above it, or
   * at or above it with `inclusive`), the read starts where the after-id index says no earlier
   * line mentions such an id: a live poll reads what was written since the last one, and a
   * lookup of a recent id reads the tail.
   */
  async *#resolved(keep: (e: Event) => boolean, order: 'pos' | 'id' | 'ts', from?: { id: string; inclusive: boolean }): AsyncGenerator<Positioned> {
    const snapshot = await this.#snapshot()
    try {
      let files = snapshot
      if (from !== undefined) {
        const start = await this.#afterIds.start(snapshot, from.id, from.inclusive)
        files = snapshot.slice(start.file)
        if (files.length > 0 && start.offset > 0) files[0] = { ...files[0], start: start.offset }
      }
      const analysis = await this.#analyze(files, files === snapshot)
      if (analysis.simple && (order !== 'ts' || analysis.timeSorted)) {
        const before = (a: SortKeys, b: SortKeys): boolean => (order === 'pos' ? a.pos < b.pos : order === 'id' ? a.id < b.id : a.ts < b.ts || (a.ts === b.ts && a.pos < b.pos))
        // The exceptions' versions, in order, merged into the plain inserts as these go by.
        const special = analysis.exceptions.size ? await this.#resolveExceptions(files, analysis.exceptions, keep, before) : []
        let next = 0
        const pending = (x: Positioned | undefined): boolean => next < special.length && (x === undefined || before(special[next], sortKeys(x)))
        const take = async (): Promise<Positioned> => {
          const r = special[next++]
          return { e: (await this.#versionAt(files, r)) as Event, pos: r.pos }
        }
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
        const cursor: LineCursor = { file: 0, offset: 0 }
        for await (const item of this.#lines(files, true, cursor)) {
          if ('deleted_event_id' in item || 'updated' in item || analysis.exceptions.has(item.event_id) || !keep(item)) continue
          const x = { e: item, pos: linePosition(cursor) }
          let out: Positioned | undefined = x
          if (heap) {
            heap.push(x)
            out = heap.size > REORDER_WINDOW ? (heap.pop() as Positioned) : undefined
          }
          if (!out) continue
          while (pending(out)) yield await take()
          yield out
        }
        while (heap && heap.size > 0) {
          const out = heap.pop() as Positioned
          while (pending(out)) yield await take()
          yield out
        }
        while (pending(undefined)) yield await take()
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
    // Read from where the index says the id may first appear: a recent id reads the tail only.
    for await (const x of this.#resolved((e) => e.event_id === id, 'pos', { id, inclusive: true })) return x.e
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
    const from = options.afterId === undefined ? undefined : { id: options.afterId, inclusive: false }
    for await (const x of this.#resolved(keep, options.orderBy === 'event_id' ? 'id' : 'ts', from)) yield x.e
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
    const cutoff = formatDateNaiveUtc(daysBefore(olderThanDays, 'olderThanDays'))
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

  /**
   * Cheap and constant-memory, whatever the store holds: `totalEvents` is an estimate (inserted
   * lines minus deletions, see LineCounts), read from what was written since the last call. It
   * counted every event with a full read (1.1 s of CPU at 200 000 events; with a duplicate id
   * every event held in memory, 24 concurrent calls exhausted a 4 GiB heap).
   */
  async health(): Promise<StoreHealth> {
    try {
      await this.open()
      await stat(this.path)
      const snapshot = await this.#snapshot()
      try {
        return { connected: true, totalEvents: await this.#counts.estimate(snapshot) }
      } finally {
        await closeAll(snapshot)
      }
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
