import type { Event } from '../event/model.js'
import type { InstanceStats } from './instances.js'

/**
 * The store interfaces. A store is a `Sink` (the pipeline writes batches to it) and a `Reader`
 * (getEvent / getEvents / queryEvents / streamEvents). The three stores — MongoDB, an Event
 * Manager over HTTP, and an NDJSON file — implement both, so everything above them (logger,
 * analyzers, export, the server adapter) has one interface for three stores.
 */

/**
 * An event on its way through the pipeline. It is an `Event`; when `dataJson` is present it is the
 * JSON text of `event_data`, made once when the event was logged, so sinks that write JSON
 * (HTTP, file, spool) never serialize the data twice.
 */
export interface PipelineEvent extends Event {
  readonly dataJson?: string
}

/** What a sink reports for one batch. */
export interface WriteResult {
  /** Events now stored (duplicates of already-stored ids count as delivered: writes are idempotent). */
  delivered: number
  /** Events the store refused for good (it will never accept them as they are); not retried. */
  rejected: Array<{ event: PipelineEvent; error: Error }>
  /**
   * Ids of the batch that were (MongoDB), or may have been (the file store: not above its
   * greatest id), already stored and left unchanged; every other id was new. Absent when the
   * store cannot tell.
   */
  duplicates?: string[]
}

export interface Sink {
  /** Short name for stats and messages: `mongodb`, `http`, `file`. */
  readonly kind: string
  /** A stable identity of the destination (URL without credentials, path); names its spool. */
  readonly target: string
  /** Connect and prepare (indexes, discovery). Called once by the pipeline before the first write. */
  open(): Promise<void>
  /**
   * Write a batch idempotently (`event_id` is the key). Throws `StoreUnavailableError` when the
   * whole batch should be retried later (with `retryAfterMs` when the store said how long).
   * Per-event permanent refusals are returned in `rejected`.
   */
  write(batch: readonly PipelineEvent[], signal?: AbortSignal): Promise<WriteResult>
  /** Release connections. `force`: don't wait for requests still running (close after a timeout). */
  close(options?: { force?: boolean }): Promise<void>
  /**
   * Optional, for local sinks (the file): write a batch synchronously. The pipeline then writes
   * with it, so what is queued at `process.exit` can still be written, and nothing is written twice.
   */
  writeSync?(batch: readonly PipelineEvent[]): WriteResult
  /**
   * Optional: let go of connections while the sink is idle; the next write makes them again. A
   * finished program is then not kept alive by a connection pool (a MongoDB client's sockets).
   */
  release?(): Promise<void>
  /** A sink spreading over several servers: each one's health and counts (in `stats().sinks[].instances`). */
  instances?(): InstanceStats[] | undefined
}

/** Options of `Reader.getEvents`, as MADSci's `GET /events`. */
export interface GetEventsOptions {
  /** Maximum number of events; 0 means no limit. Default 100. */
  number?: number
  /** Events to skip. Default 0. */
  offset?: number
  /** Minimum level (`log_level >= level`). Default 0. */
  level?: number
  /** Inclusive lower bound on `event_timestamp` (compared as MADSci does: as strings). */
  startTime?: string
  /** Inclusive upper bound on `event_timestamp`. */
  endTime?: string
  /** Include archived events. Default false. */
  includeArchived?: boolean
}

/** Options of `Reader.queryEvents`. */
export interface QueryOptions {
  /** Maximum number of events; 0 or absent means no limit (MADSci applies none). */
  limit?: number
  /** Events to skip. */
  skip?: number
  /** Sort on one field: e.g. `{ event_timestamp: -1 }`. Default: store order (MADSci applies none). */
  sort?: Record<string, 1 | -1>
}

/** Options of `Reader.streamEvents`: a time range of stored events, oldest first, in constant memory. */
export interface StreamOptions {
  /** Inclusive lower bound on `event_timestamp` (string comparison). */
  startTime?: string
  /** Inclusive upper bound on `event_timestamp`. */
  endTime?: string
  /** Only events with `event_id` greater than this (ULIDs sort by time: resume a stream). */
  afterId?: string
  /** An extra MongoDB-style selector, validated like `queryEvents`. */
  selector?: Record<string, unknown>
  /** Include archived events. Default true (analyzers see everything, as MADSci's do). */
  includeArchived?: boolean
  /** Order: by `event_timestamp` (default) or by `event_id`. */
  orderBy?: 'event_timestamp' | 'event_id'
  /** Events per round trip. Default 1000. */
  batchSize?: number
}

export interface Reader {
  /** One event by id, or `null`. */
  getEvent(id: string): Promise<Event | null>
  /** Recent events, newest first, as MADSci's `GET /events`. */
  getEvents(options?: GetEventsOptions): Promise<Event[]>
  /** Events matching a MongoDB selector. Operators that run JavaScript are refused. */
  queryEvents(selector: Record<string, unknown>, options?: QueryOptions): Promise<Event[]>
  /** Stored events in a range, oldest first, without holding them all in memory. */
  streamEvents(options?: StreamOptions): AsyncIterable<Event>
}

/** Archive and retention operations, as MADSci's `/events/archive` family. */
export interface ArchiveOptions {
  eventIds?: string[]
  /** Archive events with `event_timestamp` before this (string comparison, as MADSci). */
  beforeDate?: string
  /** Ids per update. Default 1000. */
  batchSize?: number
  /** Stop after this many batches (0 = unlimited). Default 0. */
  maxBatches?: number
}

export interface StoreHealth {
  connected: boolean
  totalEvents: number | null
  error?: string
}

/** A store the server adapter can manage: archive, purge, count, back up. */
export interface ManagedStore extends Sink, Reader {
  archiveEvents(options: ArchiveOptions): Promise<number>
  /** Archived events, newest `archived_at` first. */
  getArchivedEvents(options?: { number?: number; offset?: number }): Promise<Event[]>
  /** Delete archived events whose `archived_at` is older than `olderThanDays`. */
  purgeArchived(olderThanDays: number): Promise<number>
  health(): Promise<StoreHealth>
  countEvents(selector?: Record<string, unknown>): Promise<number>
}
