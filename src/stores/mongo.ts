import {
  type Collection,
  type Db,
  type Document,
  MongoBulkWriteError,
  MongoClient,
  type MongoClientOptions,
  MongoServerError,
  type WriteConcernSettings,
} from 'mongodb'
import { ConfigError, StoreRejectedError, StoreUnavailableError } from '../errors.js'
import type { Event } from '../event/model.js'
import { documentToEvent, eventToDocument } from '../event/serialize.js'
import { makeWarning, type WarningListener } from '../warnings.js'
import { redactUrl } from '../config/env.js'
import { mongoUrlDatabase } from '../config/mongo-url.js'
import { daysBefore } from './time-limits.js'
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
 * MongoDB store, with the official driver. Database: the `database` option, else the one named in
 * the URL's path (`mongodb://host/labdb`, as the driver reads it), else `madsci_events`; collection
 * `events` by default. Documents exactly as MADSci's `Event.to_mongo()` (the event id is `_id`,
 * `event_timestamp` a string), so a Python Event Manager can share the database.
 *
 * - Writes: `insertMany({ ordered: false })`; a duplicate `_id` (E11000) counts as delivered, so a
 *   retried batch never duplicates. Network and "not primary" errors make the pipeline retry.
 * - Indexes as MADSci creates them; one the server refuses (FerretDB has no TTL) is a warning.
 * - First writer of a fresh database: writes the `schema_versions` record MADSci's startup check
 *   expects, so a Python Event Manager can later start on it.
 */

export interface MongoStoreOptions {
  /** Default: the database named in the URL's path, else `madsci_events` (MADSci's `database_name`). */
  database?: string
  /** Default `events` (MADSci's `collection_name`). */
  collection?: string
  /** e.g. `{ w: 'majority', journal: true }`. Default: the server's/URL's. */
  writeConcern?: WriteConcernSettings
  /** Passed to `new MongoClient(url, options)` untouched (TLS, auth, pool...). */
  clientOptions?: MongoClientOptions
  /** Create MADSci's indexes on open. Default true. */
  createIndexes?: boolean
  /** Write MADSci's schema version record when first to write a fresh database. Default true. */
  initSchemaVersion?: boolean
  /** Degraded-mode notices (index refused, no TTL...). */
  onWarning?: WarningListener
  /**
   * Open for reading only: nothing is created (no database, collection, index or
   * `schema_versions` record) and writes are refused with a `ConfigError`. Default false.
   */
  readOnly?: boolean
}

/** How old the health count may get before it is counted again (in the background). */
const COUNT_MAX_AGE_MS = 30_000

/** MADSci's schema version (its `schema.json`). */
export const MADSCI_SCHEMA_VERSION = '1.0.0'

/** Server error codes that mean "try again", not "this document is bad". */
const RETRYABLE_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 50, 63, 150, 234])

function isNetworkish(err: unknown): boolean {
  const name = (err as Error)?.name ?? ''
  return (
    /MongoNetwork|MongoServerSelection|MongoNotConnected|MongoTopologyClosed|MongoPoolClosed|MongoNetworkTimeout|MongoWaitQueueTimeout|MongoOperationTimeout/.test(name) ||
    (err instanceof MongoServerError && (RETRYABLE_CODES.has(Number(err.code)) || err.hasErrorLabel('RetryableWriteError')))
  )
}

export class MongoStore implements ManagedStore {
  readonly kind = 'mongodb'
  readonly url: string
  readonly #opts: MongoStoreOptions
  readonly #client: MongoClient
  #db: Db | undefined
  #events: Collection | undefined
  #opened: Promise<void> | undefined
  #ttl: boolean | undefined
  #count: { value: number; at: number } | undefined
  #counting: Promise<number> | undefined
  /** Indexes and the schema record are made once; a connection made again after `release()` skips them. */
  #prepared = false
  #releasing: Promise<void> | undefined
  /** Operations running (a release waits for none). */
  #active = 0
  #releaseAfter = false
  #connectError: string | undefined

  constructor(url: string, options: MongoStoreOptions = {}) {
    this.url = url
    this.#opts = options
    this.#client = new MongoClient(url, {
      appName: 'madsci-events',
      // Fail a write in 5 s when the server is down (the driver's default is 30 s): the pipeline
      // retries with backoff and spools, which is better than a long silent wait. A timeout in
      // the URL wins (options given here would override it).
      ...(/[?&]serverSelectionTimeoutMS=/i.test(url) ? {} : { serverSelectionTimeoutMS: 5000 }),
      ...options.clientOptions,
    })
    // The driver says why it cannot connect on its first heartbeat, long before an operation times out.
    this.#client.on('serverHeartbeatFailed', (e) => {
      this.#connectError = (e as { failure?: Error }).failure?.message ?? 'no answer'
    })
    this.#client.on('serverHeartbeatSucceeded', () => {
      this.#connectError = undefined
    })
  }

  /** Why the last attempt to reach the server failed (from the driver's monitor), while it does. */
  get connectError(): string | undefined {
    return this.#connectError
  }

  get target(): string {
    return `${redactUrl(this.url)}#${this.databaseName}.${this.collectionName}`
  }

  get databaseName(): string {
    return this.#opts.database ?? mongoUrlDatabase(this.url) ?? 'madsci_events'
  }

  get collectionName(): string {
    return this.#opts.collection ?? 'events'
  }

  /** The driver's client (for operations this store does not wrap). */
  get client(): MongoClient {
    return this.#client
  }

  #warn(code: Parameters<typeof makeWarning>[0], detail?: string): void {
    this.#opts.onWarning?.(makeWarning(code, 'mongodb', detail))
  }

  open(): Promise<void> {
    if (!this.#opened) {
      this.#opened = (async () => {
        if (this.#releasing) await this.#releasing
        if (this.#prepared) await this.#client.connect()
        else await this.#open()
      })().catch((err) => {
        this.#opened = undefined
        throw isNetworkish(err) ? new StoreUnavailableError('MongoDB', (err as Error).message, { cause: err }) : err
      })
    }
    return this.#opened
  }

  async #open(): Promise<void> {
    await this.#client.connect()
    const db = this.#client.db(this.databaseName)
    const create = this.#opts.readOnly !== true
    if (create && this.#opts.initSchemaVersion !== false) await this.#initSchemaVersion(db)
    const events = db.collection(this.collectionName)
    if (create && this.#opts.createIndexes !== false) {
      for (const [keys, name] of [
        [{ event_timestamp: 1 }, 'event_timestamp_1'],
        [{ log_level: 1 }, 'log_level_1'],
        [{ archived: 1 }, 'archived_1'],
        [{ archived: 1, archived_at: 1 }, 'archived_1_archived_at_1'],
      ] as const) {
        try {
          await events.createIndex(keys, { name })
        } catch (err) {
          if (isNetworkish(err)) throw err
          this.#warn('MADSCI_WARN_INDEX_FAILED', `${name}: ${(err as Error).message}`)
        }
      }
    }
    this.#db = db
    this.#events = events
    this.#prepared = true
  }

  /**
   * Close the connections while no operation runs; the next operation connects again. A
   * MongoDB client's sockets and timers keep a process alive: the logger releases an idle store
   * so a program that is done can end.
   */
  async release(): Promise<void> {
    if (this.#active > 0) {
      // An operation still runs (a write the pipeline gave up on): release when it ends.
      this.#releaseAfter = true
      return
    }
    this.#releaseAfter = false
    if (!this.#opened || this.#releasing) return
    const opened = this.#opened
    this.#opened = undefined
    this.#releasing = (async () => {
      await opened.catch(() => undefined)
      await this.#client.close()
    })().finally(() => {
      this.#releasing = undefined
    })
    await this.#releasing
  }

  /** As MADSci's startup check (§1.8): a fresh database gets `schema_versions` and its record. */
  async #initSchemaVersion(db: Db): Promise<void> {
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)
    if (names.length === 0) {
      const versions = db.collection('schema_versions')
      try {
        await versions.createIndex({ version: 1 }, { name: 'version_unique', unique: true })
        await versions.createIndex({ applied_at: -1 }, { name: 'applied_at_desc' })
      } catch (err) {
        if (isNetworkish(err)) throw err
        this.#warn('MADSCI_WARN_INDEX_FAILED', `schema_versions: ${(err as Error).message}`)
      }
      try {
        await versions.insertOne({
          version: MADSCI_SCHEMA_VERSION,
          applied_at: new Date(),
          migration_notes: `Auto-initialized schema version ${MADSCI_SCHEMA_VERSION}`,
        })
      } catch (err) {
        // Another writer initialized it at the same moment: fine.
        if (!(err instanceof MongoServerError && err.code === 11000)) throw err
      }
    } else if (!names.includes('schema_versions')) {
      this.#warn('MADSCI_WARN_SCHEMA_VERSION', `database ${this.databaseName}`)
    }
  }

  async #collection(): Promise<Collection> {
    await this.open()
    return this.#events as Collection
  }

  /** The error for a change to a store opened read-only. */
  #refused(what: string): ConfigError | undefined {
    return this.#opts.readOnly ? new ConfigError('readOnly', `${this.target} was opened read-only; ${what} is refused (open it without readOnly to change it)`) : undefined
  }

  /** The collection for a change; refused when opened read-only. */
  async #writable(what: string): Promise<Collection> {
    const refused = this.#refused(what)
    if (refused) throw refused
    return this.#collection()
  }

  async write(batch: readonly PipelineEvent[]): Promise<WriteResult> {
    this.#active++
    try {
      return await this.#write(batch)
    } finally {
      this.#done()
    }
  }

  async #write(batch: readonly PipelineEvent[]): Promise<WriteResult> {
    const events = await this.#writable('writing events')
    const docs: Document[] = []
    const rejected: WriteResult['rejected'] = []
    const valid: PipelineEvent[] = []
    for (const e of batch) {
      try {
        docs.push(eventToDocument(e))
        valid.push(e)
      } catch (err) {
        rejected.push({ event: e, error: new StoreRejectedError('MongoDB', `event ${e.event_id} cannot be stored: ${(err as Error).message}`) })
      }
    }
    if (docs.length === 0) return { delivered: 0, rejected }
    try {
      const res = await events.insertMany(docs, { ordered: false, writeConcern: this.#opts.writeConcern })
      this.#counted(res.insertedCount)
      return { delivered: res.insertedCount, rejected, duplicates: [] }
    } catch (err) {
      if (err instanceof MongoBulkWriteError) {
        const writeErrors = (Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]).filter((w) => w !== undefined)
        if (err.writeConcernError || writeErrors.some((w) => RETRYABLE_CODES.has(Number(w.code)))) {
          throw new StoreUnavailableError('MongoDB', err.message, { cause: err })
        }
        // With ordered: false the driver reports a lost connection (ECONNREFUSED, a reset, a
        // timeout) as a bulk write error with no per-document errors and nothing inserted. Only
        // documents that were inserted or refused one by one are settled; if any is neither, the
        // batch did not reach the database: retry it whole (stored ids come back as duplicates).
        const inserted = Number(err.result?.insertedCount ?? err.insertedCount ?? 0)
        if (writeErrors.length === 0 || inserted + writeErrors.length < docs.length) {
          throw new StoreUnavailableError('MongoDB', err.message, { cause: err })
        }
        const duplicates: string[] = []
        for (const w of writeErrors) {
          if (Number(w.code) === 11000) {
            const e = valid[w.index]
            if (e) duplicates.push(e.event_id)
          } else {
            const e = valid[w.index]
            if (e) rejected.push({ event: e, error: new StoreRejectedError('MongoDB', `event ${e.event_id}: ${w.errmsg ?? 'write error'} (code ${w.code})`, { cause: err }) })
          }
        }
        this.#counted(inserted)
        const failed = writeErrors.length - duplicates.length
        return { delivered: docs.length - failed, rejected, duplicates }
      }
      // Which ones were duplicates is not said: none is claimed (the caller looks them up).
      if (err instanceof MongoServerError && err.code === 11000) return { delivered: docs.length, rejected }
      if (isNetworkish(err)) throw new StoreUnavailableError('MongoDB', (err as Error).message, { cause: err })
      throw err
    }
  }

  async #read<T>(fn: (c: Collection) => Promise<T>): Promise<T> {
    this.#active++
    try {
      return await fn(await this.#collection())
    } catch (err) {
      if (isNetworkish(err)) throw new StoreUnavailableError('MongoDB', (err as Error).message, { cause: err })
      throw err
    } finally {
      this.#done()
    }
  }

  /** An operation ended: a release asked for meanwhile happens now. */
  #done(): void {
    if (--this.#active === 0 && this.#releaseAfter) void this.release().catch(() => undefined)
  }

  getEvent(id: string): Promise<Event | null> {
    return this.#read(async (c) => {
      const doc = await c.findOne({ _id: id as never })
      return doc ? documentToEvent(doc) : null
    })
  }

  getEvents(options: GetEventsOptions = {}): Promise<Event[]> {
    return this.#read(async (c) => {
      const filter: Document = {}
      if (options.level) filter.log_level = { $gte: options.level }
      if (!options.includeArchived) filter.archived = { $ne: true }
      if (options.startTime !== undefined || options.endTime !== undefined) {
        filter.event_timestamp = {}
        if (options.startTime !== undefined) filter.event_timestamp.$gte = options.startTime
        if (options.endTime !== undefined) filter.event_timestamp.$lte = options.endTime
      }
      const cursor = c
        .find(filter)
        .sort({ event_timestamp: -1 })
        .skip(options.offset ?? 0)
        .limit(options.number ?? 100)
      return (await cursor.toArray()).map(documentToEvent)
    })
  }

  async queryEvents(selector: Record<string, unknown>, options: QueryOptions = {}): Promise<Event[]> {
    const filter = validateSelector(selector)
    return this.#read(async (c) => {
      let cursor = c.find(filter)
      if (options.sort) cursor = cursor.sort(options.sort)
      if (options.skip) cursor = cursor.skip(options.skip)
      if (options.limit) cursor = cursor.limit(options.limit)
      return (await cursor.toArray()).map(documentToEvent)
    })
  }

  async *streamEvents(options: StreamOptions = {}): AsyncIterable<Event> {
    const filter: Document = options.selector ? { ...validateSelector(options.selector) } : {}
    const and: Document[] = []
    if (options.includeArchived === false) and.push({ archived: { $ne: true } })
    if (options.startTime !== undefined) and.push({ event_timestamp: { $gte: options.startTime } })
    if (options.endTime !== undefined) and.push({ event_timestamp: { $lte: options.endTime } })
    if (options.afterId !== undefined) and.push({ _id: { $gt: options.afterId } })
    const query = and.length ? { $and: [filter, ...and] } : filter
    const sort: Record<string, 1> = options.orderBy === 'event_id' ? { _id: 1 } : { event_timestamp: 1, _id: 1 }
    this.#active++
    try {
      const c = await this.#collection()
      const cursor = c.find(query).sort(sort).batchSize(options.batchSize ?? 1000)
      try {
        for await (const doc of cursor) yield documentToEvent(doc)
      } catch (err) {
        if (isNetworkish(err)) throw new StoreUnavailableError('MongoDB', (err as Error).message, { cause: err })
        throw err
      } finally {
        await cursor.close().catch(() => undefined)
      }
    } finally {
      this.#done()
    }
  }

  /** Archive all the given ids, or events before a date, in batches (MADSci's loop, without its one-batch limit for ids). */
  archiveEvents(options: ArchiveOptions): Promise<number> {
    const refused = this.#refused('archiving')
    if (refused) return Promise.reject(refused)
    const batchSize = Math.max(1, options.batchSize ?? 1000)
    const maxBatches = options.maxBatches ?? 0
    return this.#read(async (c) => {
      let total = 0
      let batches = 0
      const archiveIds = async (ids: unknown[]): Promise<void> => {
        const res = await c.updateMany({ _id: { $in: ids as never[] }, archived: { $ne: true } }, { $set: { archived: true, archived_at: new Date() } })
        total += res.modifiedCount
        batches++
      }
      if (options.eventIds && options.eventIds.length) {
        for (let i = 0; i < options.eventIds.length; i += batchSize) {
          if (maxBatches && batches >= maxBatches) break
          await archiveIds(options.eventIds.slice(i, i + batchSize))
        }
        return total
      }
      if (options.beforeDate === undefined) return 0
      for (;;) {
        if (maxBatches && batches >= maxBatches) break
        const ids = (
          await c
            .find({ archived: { $ne: true }, event_timestamp: { $lt: options.beforeDate } }, { projection: { _id: 1 } })
            .limit(batchSize)
            .toArray()
        ).map((d) => d._id)
        if (ids.length === 0) break
        await archiveIds(ids)
      }
      return total
    })
  }

  getArchivedEvents(options: { number?: number; offset?: number } = {}): Promise<Event[]> {
    return this.#read(async (c) => {
      const docs = await c
        .find({ archived: true })
        .sort({ archived_at: -1 })
        .skip(options.offset ?? 0)
        .limit(options.number ?? 100)
        .toArray()
      return docs.map(documentToEvent)
    })
  }

  async purgeArchived(olderThanDays: number): Promise<number> {
    const refused = this.#refused('purging')
    if (refused) throw refused
    const cutoff = daysBefore(olderThanDays, 'olderThanDays')
    return this.#read(async (c) => {
      const res = await c.deleteMany({ archived: true, archived_at: { $lt: cutoff } })
      this.#counted(-res.deletedCount)
      return res.deletedCount
    })
  }

  /**
   * MADSci's retention TTL index (`archived_at_1`, counted from the archive time). Returns false
   * when the server has no TTL indexes (FerretDB v1): the caller then purges periodically.
   */
  async ensureRetentionIndex(hardDeleteAfterDays: number): Promise<boolean> {
    const c = await this.#writable('creating the retention index')
    const expireAfterSeconds = Math.round(hardDeleteAfterDays * 86_400)
    try {
      const existing = (await c.indexes()).find((i) => i.name === 'archived_at_1')
      if (existing && existing.expireAfterSeconds !== expireAfterSeconds) await c.dropIndex('archived_at_1')
      if (!existing || existing.expireAfterSeconds !== expireAfterSeconds) {
        await c.createIndex({ archived_at: 1 }, { name: 'archived_at_1', expireAfterSeconds, partialFilterExpression: { archived: true } })
      }
      const check = (await c.indexes()).find((i) => i.name === 'archived_at_1')
      this.#ttl = check?.expireAfterSeconds === expireAfterSeconds
    } catch (err) {
      if (isNetworkish(err)) throw new StoreUnavailableError('MongoDB', (err as Error).message, { cause: err })
      this.#ttl = false
    }
    if (!this.#ttl) this.#warn('MADSCI_WARN_NO_TTL')
    return this.#ttl
  }

  async countEvents(selector?: Record<string, unknown>): Promise<number> {
    const filter = selector ? validateSelector(selector) : {}
    return this.#read((c) => c.countDocuments(filter))
  }

  /**
   * A ping and an estimated count, in constant time for the caller: `countDocuments({})` (what
   * MADSci's health runs) scans the collection, 15 s per call on FerretDB at 200 000 events, longer
   * than any orchestrator's probe waits. The count comes from `$collStats` (collection metadata on
   * MongoDB; FerretDB counts rows, ~0.1 s per 100 000) or `estimatedDocumentCount`, at most one at
   * a time, kept up to date with this store's own inserts and purges, and refreshed in the
   * background once it is older than COUNT_MAX_AGE_MS (other writers, TTL deletions).
   */
  async health(): Promise<StoreHealth> {
    try {
      await this.open()
      await (this.#db as Db).command({ ping: 1 })
      const known = this.#count
      if (!known) return { connected: true, totalEvents: await this.#recount() }
      if (Date.now() - known.at > COUNT_MAX_AGE_MS) this.#recount().catch(() => undefined)
      return { connected: true, totalEvents: Math.max(0, known.value) }
    } catch (err) {
      return { connected: false, totalEvents: null, error: (err as Error).message }
    }
  }

  /** Count the collection from its statistics (one count at a time, shared by its callers). */
  #recount(): Promise<number> {
    this.#counting ??= (async () => {
      const c = this.#events as Collection
      let n: number
      try {
        const stats = await c.aggregate<{ count?: number }>([{ $collStats: { count: {} } }]).toArray()
        // One document per shard.
        n = stats.reduce((a, s) => a + Number(s.count ?? 0), 0)
      } catch (err) {
        if (isNetworkish(err)) throw err
        n = await c.estimatedDocumentCount()
      }
      this.#count = { value: n, at: Date.now() }
      return n
    })().finally(() => {
      this.#counting = undefined
    })
    return this.#counting
  }

  /** Keep the health count up to date with what this store changed itself. */
  #counted(delta: number): void {
    if (this.#count && delta) this.#count.value += delta
  }

  async close(options: { force?: boolean } = {}): Promise<void> {
    await this.#client.close(options.force === true)
    this.#opened = undefined
  }
}
