import { ConfigError } from '../src/errors.js'
import { parseLevel } from '../src/event/levels.js'
import type { OwnershipInfo } from '../src/event/model.js'
import type { TimestampMode } from '../src/event/timestamp.js'
import type { EventLoggerOptions } from '../src/logger/create.js'
import type { OverflowPolicy } from '../src/pipeline/delivery.js'
import type { SpoolConfig } from '../src/pipeline/pipeline.js'

/**
 * Options of `madsci-events/transport`. They are plain data: pino clones them into the worker
 * thread, where functions cannot go. Every one is optional; with none the transport configures
 * itself from MADSci's environment variables exactly as `createEventLogger()` does
 * (`EVENT_DB_URL` → MongoDB, else `EVENT_SERVER_URL` → Event Manager, else the NDJSON file).
 */
export interface MadsciTransportOptions {
  /** MongoDB sink: a URL or `{ url, database, collection, writeConcern, clientOptions }`. */
  mongodb?: string | { url: string; database?: string; collection?: string; writeConcern?: Record<string, unknown>; clientOptions?: Record<string, unknown>; createIndexes?: boolean; initSchemaVersion?: boolean }
  /** Event Manager sink (HTTP): a URL, several (array or comma-separated: spread with failover), or `{ url, mode, concurrency, timeoutMs, token, headers }`. */
  eventManager?: string | string[] | { url: string | string[]; mode?: 'auto' | 'batch' | 'single'; concurrency?: number; timeoutMs?: number; token?: string; headers?: Record<string, string>; connections?: number }
  /** NDJSON file sink: `true`, a path, or `{ path, maxBytes, maxFiles }`. */
  file?: boolean | string | { path?: string; maxBytes?: number; maxFiles?: number }
  /** On-disk spool for the network sinks: a directory, options, or `false`. */
  spool?: string | SpoolConfig | false
  queue?: { maxEvents?: number; maxBytes?: number }
  batch?: { maxEvents?: number; maxBytes?: number; flushIntervalMs?: number; maxInFlight?: number }
  /** When a sink's memory queue is full: `spool`, `drop-oldest`, `drop-newest` or `block`. */
  overflow?: OverflowPolicy
  retry?: { baseMs?: number; maxMs?: number; maxRetries?: number }
  /** Timestamps of lines without `time`, and of the transport's own events: `local` (naive, as MADSci) or `utc`. */
  timestamps?: TimestampMode
  /** Lines below this MADSci level are not shipped (counted as `below_min_level`). Default: every line pino sends. */
  minLevel?: number | string
  /** Ownership stamped on every event; fields of the line or its bindings win. Default `EVENT_CLIENT_SOURCE__*`. */
  source?: OwnershipInfo
  /** Keep pino's `pid` and `hostname` in `event_data`. Default true. */
  keepPinoFields?: boolean
  /**
   * How long closing may take, counted from the moment pino ends the transport (at exit pino
   * waits at most 10 s for the worker, then kills it). Default 8000: 2 s of margin for writing
   * the rest to the spool. What is not delivered by then is spooled, and the count is printed.
   */
  closeTimeoutMs?: number
  /**
   * How long `logger.flush(cb)` waits for delivery before calling back anyway (the events stay
   * queued or spooled). Default 30000.
   */
  flushTimeoutMs?: number
  /**
   * Alerts, in the worker: `{ alertLevel, notifiers: [...], ...delivery and storm-control options }`
   * as `createEventLogger({ alerts })` takes them. Notifiers are specs (`{ type: 'email' | 'webhook'
   * | 'console', ... }`, or `{ module: 'my-notifier', options }` for your own module), not objects.
   */
  alerts?: Record<string, unknown>
  /** Live analyzers, in the worker: `[{ module: 'builtin:error-rate', options }, { module: 'my-analyzer', options }]`. */
  analyzers?: Array<{ module: string; options?: Record<string, unknown> }>
  /** Options of the analyzer host (`{ queueSize, tickIntervalMs }`). */
  analyzerHost?: Record<string, unknown>
}

/**
 * The defaults the transport adds to `createEventLogger()`'s (which are documented there).
 * - `closeTimeoutMs` 8000: pino's exit window is 10 s; the last 2 s are for spooling and closing.
 * - `keepPinoFields` true: pid and hostname tell apart processes and machines in a shared store.
 * - `flushTimeoutMs` 30000: a program waiting on `logger.flush()` must not hang when a store is
 *   down; 30 s delivers a full memory queue (10 000 events) to MongoDB or our server many times over.
 */
export const TRANSPORT_DEFAULTS = Object.freeze({
  closeTimeoutMs: 8000,
  flushTimeoutMs: 30_000,
  keepPinoFields: true,
})

/** Above this, pino kills the worker before the transport's close could finish. */
export const MAX_CLOSE_TIMEOUT_MS = 9000

type Shape = 'string' | 'strings' | 'number' | 'boolean' | 'object' | 'level' | 'ownership'

interface Spec {
  /** Accepted types at the top of the option. */
  types: Array<'string' | 'boolean' | 'object' | 'number' | 'false' | 'array'>
  /** For an object value: its known keys and their types. */
  keys?: Record<string, Shape | Array<Shape>>
  /** Which key an object value must have. */
  required?: string
  /** Accepted values of a string option. */
  values?: readonly string[]
  /** A sentence telling what the option accepts. */
  accepts: string
}

const SPECS: Record<keyof MadsciTransportOptions, Spec> = {
  mongodb: {
    types: ['string', 'object'],
    keys: { url: 'string', database: 'string', collection: 'string', writeConcern: 'object', clientOptions: 'object', createIndexes: 'boolean', initSchemaVersion: 'boolean' },
    required: 'url',
    accepts: 'a MongoDB URL (mongodb://host:port) or { url, database, collection, writeConcern, clientOptions }',
  },
  eventManager: {
    types: ['string', 'array', 'object'],
    keys: { url: ['string', 'strings'], mode: 'string', concurrency: 'number', timeoutMs: 'number', token: 'string', headers: 'object', connections: 'number' },
    required: 'url',
    accepts: 'an Event Manager URL (http://host:8001), several (an array, or comma-separated), or { url, mode, concurrency, timeoutMs, token, headers }',
  },
  file: {
    types: ['boolean', 'string', 'object'],
    keys: { path: 'string', maxBytes: 'number', maxFiles: 'number' },
    accepts: 'true, a file path, or { path, maxBytes, maxFiles }',
  },
  spool: {
    types: ['false', 'string', 'object'],
    keys: { dir: 'string', mode: 'string', fsync: 'string', fsyncIntervalMs: 'number', maxBytes: 'number', segmentBytes: 'number' },
    required: 'dir',
    accepts: 'a directory, false, or { dir, mode, fsync, fsyncIntervalMs, maxBytes, segmentBytes }',
  },
  queue: { types: ['object'], keys: { maxEvents: 'number', maxBytes: 'number' }, accepts: '{ maxEvents, maxBytes }' },
  batch: {
    types: ['object'],
    keys: { maxEvents: 'number', maxBytes: 'number', flushIntervalMs: 'number', maxInFlight: 'number' },
    accepts: '{ maxEvents, maxBytes, flushIntervalMs, maxInFlight }',
  },
  overflow: { types: ['string'], values: ['spool', 'drop-oldest', 'drop-newest', 'block'], accepts: 'spool, drop-oldest, drop-newest or block' },
  retry: { types: ['object'], keys: { baseMs: 'number', maxMs: 'number', maxRetries: 'number' }, accepts: '{ baseMs, maxMs, maxRetries }' },
  timestamps: { types: ['string'], values: ['local', 'utc'], accepts: 'local or utc' },
  minLevel: { types: ['number', 'string'], accepts: '0, 10, 20, 30, 40, 50 or a level name (DEBUG, INFO, WARNING, ERROR, CRITICAL; pino names too)' },
  source: { types: ['object'], accepts: 'an object of MADSci ownership fields ({ node_id: "01J...", ... })' },
  keepPinoFields: { types: ['boolean'], accepts: 'true or false' },
  closeTimeoutMs: { types: ['number'], accepts: `a number of milliseconds from 0 to ${MAX_CLOSE_TIMEOUT_MS}` },
  flushTimeoutMs: { types: ['number'], accepts: 'a number of milliseconds ≥ 0' },
  alerts: { types: ['object'], accepts: '{ alertLevel, notifiers: [{ type: "email" | "webhook" | "console", ... } or { module, options }], ... }' },
  analyzers: { types: ['array'], accepts: 'an array of { module, options } (e.g. { module: "builtin:error-rate" })' },
  analyzerHost: { types: ['object'], accepts: '{ queueSize, tickIntervalMs }' },
}

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function checkShape(option: string, value: unknown, shape: Shape | Shape[]): void {
  const shapes = Array.isArray(shape) ? shape : [shape]
  for (const s of shapes) {
    if (s === 'strings' && Array.isArray(value) && value.every((v) => typeof v === 'string')) return
    if (s === 'object' ? isPlainObject(value) : s === 'number' ? typeof value === 'number' && Number.isFinite(value) : typeof value === s) return
  }
  throw new ConfigError(option, `${JSON.stringify(value) ?? typeOf(value)} is not a ${shapes.map((s) => (s === 'strings' ? 'list of strings' : s)).join(' or ')}`)
}

/**
 * Check the transport's options: unknown names, wrong types and unknown nested keys fail with a
 * `ConfigError` naming the option and what it accepts. The worker runs this before anything
 * starts, and pino reports the error on the main thread; a program may also call it itself
 * before creating the logger.
 */
export function validateTransportOptions(options: unknown): MadsciTransportOptions {
  if (options === undefined || options === null) return {}
  if (!isPlainObject(options)) throw new ConfigError('options', `transport options must be an object, not ${typeOf(options)}`)
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options)) {
    // Keys pino and thread-stream add to every transport's options.
    if (key.startsWith('$') || key === 'pinoWillSendConfig') continue
    const spec = SPECS[key as keyof MadsciTransportOptions]
    if (!spec) throw new ConfigError(key, `unknown transport option; the options are ${Object.keys(SPECS).join(', ')}`)
    if (value === undefined) continue
    const t = value === false ? 'false' : Array.isArray(value) ? 'array' : isPlainObject(value) ? 'object' : typeof value
    if (!(spec.types as string[]).includes(t) && !(t === 'false' && spec.types.includes('boolean'))) {
      throw new ConfigError(key, `${JSON.stringify(value) ?? typeOf(value)} is not accepted; use ${spec.accepts}`)
    }
    if (spec.values && !spec.values.includes(value as string)) throw new ConfigError(key, `${JSON.stringify(value)}; use ${spec.accepts}`)
    if (isPlainObject(value) && spec.keys) {
      for (const [k, v] of Object.entries(value)) {
        const shape = spec.keys[k]
        if (!shape) throw new ConfigError(`${key}.${k}`, `unknown option; ${key} accepts ${spec.accepts}`)
        if (v !== undefined) checkShape(`${key}.${k}`, v, shape)
      }
      // Its type was checked with the other keys.
      if (spec.required && value[spec.required] === undefined) throw new ConfigError(`${key}.${spec.required}`, `is required; ${key} accepts ${spec.accepts}`)
    }
    out[key] = value
  }
  const o = out as MadsciTransportOptions
  if (o.minLevel !== undefined && parseLevel(o.minLevel, { aliases: true }) === undefined) {
    throw new ConfigError('minLevel', `${JSON.stringify(o.minLevel)}; use ${SPECS.minLevel.accepts}`)
  }
  if (o.closeTimeoutMs !== undefined && !(o.closeTimeoutMs >= 0 && o.closeTimeoutMs <= MAX_CLOSE_TIMEOUT_MS)) {
    throw new ConfigError('closeTimeoutMs', `${o.closeTimeoutMs}; use ${SPECS.closeTimeoutMs.accepts} (pino stops waiting for the transport 10 s after exit begins)`)
  }
  if (o.flushTimeoutMs !== undefined && !(o.flushTimeoutMs >= 0)) throw new ConfigError('flushTimeoutMs', `${o.flushTimeoutMs}; use ${SPECS.flushTimeoutMs.accepts}`)
  if (o.analyzers) {
    o.analyzers.forEach((a, i) => {
      if (!isPlainObject(a) || typeof a.module !== 'string') throw new ConfigError(`analyzers[${i}]`, `${JSON.stringify(a)}; use ${SPECS.analyzers.accepts}`)
    })
  }
  if (Array.isArray(o.eventManager) && !o.eventManager.every((u) => typeof u === 'string')) throw new ConfigError('eventManager', `${JSON.stringify(o.eventManager)}; use ${SPECS.eventManager.accepts}`)
  if (isPlainObject(o.eventManager) && o.eventManager.headers) {
    for (const [h, v] of Object.entries(o.eventManager.headers)) if (typeof v !== 'string') throw new ConfigError(`eventManager.headers.${h}`, 'header values must be strings')
  }
  return o
}

/** The `createEventLogger()` options for validated transport options. */
export function loggerOptionsFor(options: MadsciTransportOptions): EventLoggerOptions {
  return {
    mongodb: options.mongodb as EventLoggerOptions['mongodb'],
    eventManager: options.eventManager,
    file: options.file,
    spool: options.spool,
    queue: options.queue,
    batch: options.batch,
    overflow: options.overflow,
    retry: options.retry,
    timestamps: options.timestamps,
    source: options.source,
    // The plugins check their own options (ConfigError naming the notifier or analyzer).
    alerts: options.alerts as EventLoggerOptions['alerts'],
    analyzers: options.analyzers,
    analyzerHost: options.analyzerHost as EventLoggerOptions['analyzerHost'],
    // The transport filters by `minLevel` itself; the core's level applies to logger calls only.
    level: 0,
    // The transport closes the pipeline itself within pino's exit window.
    saveOnExit: true,
    otel: false,
  }
}
