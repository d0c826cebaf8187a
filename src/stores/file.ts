import { createReadStream, existsSync, mkdirSync } from 'node:fs'
import { type FileHandle, open, readdir, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { Query } from 'mingo'
import { StoreUnavailableError } from '../errors.js'
import type { Event } from '../event/model.js'
import { eventToJson } from '../event/serialize.js'
import { formatDateNaiveUtc } from '../event/timestamp.js'
import { parseEvent } from '../event/validate.js'
import { pipelineEventJson } from '../pipeline/record.js'
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

export class FileStore implements ManagedStore {
  readonly kind = 'file'
  readonly path: string
  readonly #opts: Required<FileStoreOptions>
  #fh: FileHandle | undefined
  #size = 0
  #lock: Promise<unknown> = Promise.resolve()
  #skippedLines = 0

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
    if (this.#fh) return
    try {
      mkdirSync(dirname(this.path), { recursive: true })
      this.#fh = await open(this.path, 'a')
      this.#size = (await this.#fh.stat()).size
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
    const text = batch.map((e) => pipelineEventJson(e) + '\n').join('')
    await this.#append(text)
    return { delivered: batch.length, rejected: [] }
  }

  #append(text: string): Promise<void> {
    return this.#exclusive(async () => {
      await this.open()
      try {
        const buf = Buffer.from(text)
        await (this.#fh as FileHandle).write(buf)
        this.#size += buf.length
      } catch (err) {
        throw new StoreUnavailableError('file', `cannot write ${this.path}: ${(err as Error).message}`, { cause: err })
      }
      if (this.#size >= this.#opts.maxBytes) await this.#rotate()
    })
  }

  async #rotate(): Promise<void> {
    await this.#fh?.close()
    this.#fh = undefined
    const rotated = await this.#rotatedFiles()
    const keep = this.#opts.maxFiles
    const numbers = rotated.map((f) => Number(f.slice(this.path.length + 1)))
    // As RotatingFileHandler: .n → .n+1 from the oldest, base → .1, nothing past maxFiles kept.
    for (let k = numbers.length - 1; k >= 0; k--) {
      const i = numbers[k]
      const from = `${this.path}.${i}`
      if (keep > 0 && i >= keep) await unlink(from).catch(() => undefined)
      else await rename(from, `${this.path}.${i + 1}`).catch(() => undefined)
    }
    await rename(this.path, `${this.path}.1`).catch(() => undefined)
    this.#fh = await open(this.path, 'a')
    this.#size = 0
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

  /** Every line in write order: inserted events, updates and deletion markers. */
  async *#lines(): AsyncGenerator<Line> {
    await this.#lock
    for (const file of await this.#files()) {
      let stream
      try {
        stream = createReadStream(file, { encoding: 'utf8' })
      } catch {
        continue
      }
      const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })
      try {
        for await (const line of rl) {
          if (!line) continue
          let obj: unknown
          try {
            obj = JSON.parse(line)
          } catch {
            this.#skippedLines++
            continue
          }
          if (obj && typeof obj === 'object' && Object.keys(obj).length === 1) {
            if (typeof (obj as DeletedMarker).deleted_event_id === 'string') {
              yield obj as DeletedMarker
              continue
            }
            const upd = (obj as { updated_event?: unknown }).updated_event
            if (upd && typeof upd === 'object') {
              try {
                yield { updated: parseEvent(upd) }
              } catch {
                this.#skippedLines++
              }
              continue
            }
          }
          try {
            yield parseEvent(obj)
          } catch {
            this.#skippedLines++
          }
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      } finally {
        rl.close()
        stream.destroy()
      }
    }
  }

  /** The current version of every event passing `keep`, in first-write order. */
  async #collect(keep: (e: Event) => boolean): Promise<Map<string, Event>> {
    const out = new Map<string, Event>()
    // Ids present (stored and not deleted), whether or not they pass `keep`.
    const present = new Set<string>()
    for await (const item of this.#lines()) {
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

  async getEvent(id: string): Promise<Event | null> {
    const found = await this.#collect((e) => e.event_id === id)
    return found.get(id) ?? null
  }

  async getEvents(options: GetEventsOptions = {}): Promise<Event[]> {
    const number = options.number ?? 100
    const offset = options.offset ?? 0
    const level = options.level ?? 0
    const found = await this.#collect(
      (e) =>
        e.log_level >= level &&
        (options.includeArchived || e.archived !== true) &&
        (options.startTime === undefined || e.event_timestamp >= options.startTime) &&
        (options.endTime === undefined || e.event_timestamp <= options.endTime),
    )
    const sorted = [...found.values()].sort((a, b) => (a.event_timestamp < b.event_timestamp ? 1 : a.event_timestamp > b.event_timestamp ? -1 : 0))
    return number === 0 ? sorted.slice(offset) : sorted.slice(offset, offset + number)
  }

  async queryEvents(selector: Record<string, unknown>, options: QueryOptions = {}): Promise<Event[]> {
    const query = new Query(validateSelector(selector, { safeRegex: true }))
    const found = await this.#collect((e) => query.test(eventToQueryable(e)))
    let list = [...found.values()]
    if (options.sort) {
      const [[field, dir]] = Object.entries(options.sort)
      list.sort((a, b) => {
        const av = getPath(eventToQueryable(a), field) as string | number
        const bv = getPath(eventToQueryable(b), field) as string | number
        return av < bv ? -dir : av > bv ? dir : 0
      })
    }
    const skip = options.skip ?? 0
    list = options.limit ? list.slice(skip, skip + options.limit) : list.slice(skip)
    return list
  }

  async *streamEvents(options: StreamOptions = {}): AsyncIterable<Event> {
    const query = options.selector ? new Query(validateSelector(options.selector, { safeRegex: true })) : undefined
    const found = await this.#collect(
      (e) =>
        (options.includeArchived !== false || e.archived !== true) &&
        (options.startTime === undefined || e.event_timestamp >= options.startTime) &&
        (options.endTime === undefined || e.event_timestamp <= options.endTime) &&
        (options.afterId === undefined || e.event_id > options.afterId) &&
        (query === undefined || query.test(eventToQueryable(e))),
    )
    const list = [...found.values()]
    if (options.orderBy === 'event_id') list.sort((a, b) => (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0))
    else list.sort((a, b) => (a.event_timestamp < b.event_timestamp ? -1 : a.event_timestamp > b.event_timestamp ? 1 : 0))
    yield* list
  }

  async archiveEvents(options: ArchiveOptions): Promise<number> {
    const ids = options.eventIds ? new Set(options.eventIds) : undefined
    const found = await this.#collect(
      (e) =>
        e.archived !== true &&
        (ids ? ids.has(e.event_id) : options.beforeDate !== undefined && e.event_timestamp < options.beforeDate),
    )
    let list = [...found.values()]
    if (options.maxBatches && options.batchSize) list = list.slice(0, options.maxBatches * options.batchSize)
    if (list.length === 0) return 0
    const archivedAt = formatDateNaiveUtc(new Date())
    await this.#append(list.map((e) => `{"updated_event":${eventToJson({ ...e, archived: true, archived_at: archivedAt })}}\n`).join(''))
    return list.length
  }

  async getArchivedEvents(options: { number?: number; offset?: number } = {}): Promise<Event[]> {
    const found = await this.#collect((e) => e.archived === true)
    const sorted = [...found.values()].sort((a, b) => ((a.archived_at ?? '') < (b.archived_at ?? '') ? 1 : (a.archived_at ?? '') > (b.archived_at ?? '') ? -1 : 0))
    const number = options.number ?? 100
    const offset = options.offset ?? 0
    return number === 0 ? sorted.slice(offset) : sorted.slice(offset, offset + number)
  }

  async purgeArchived(olderThanDays: number): Promise<number> {
    const cutoff = formatDateNaiveUtc(new Date(Date.now() - olderThanDays * 86_400_000))
    const found = await this.#collect((e) => e.archived === true && e.archived_at !== null && e.archived_at < cutoff)
    if (found.size === 0) return 0
    await this.#append([...found.keys()].map((id) => JSON.stringify({ deleted_event_id: id }) + '\n').join(''))
    return found.size
  }

  async countEvents(selector?: Record<string, unknown>): Promise<number> {
    const query = selector ? new Query(validateSelector(selector, { safeRegex: true })) : undefined
    const found = await this.#collect((e) => query === undefined || query.test(eventToQueryable(e)))
    return found.size
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
    await this.#fh?.close()
    this.#fh = undefined
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
