import { join } from 'node:path'
import { writeSync } from 'node:fs'
import { isMainThread } from 'node:worker_threads'
import { envBool, envLevel, envMongoUrl, envNumber, envSource, envValue } from '../config/env.js'
import { defaultEventFile, resolveMadsciDir, resolveMadsciPath } from '../config/madsci-dir.js'
import { ConfigError } from '../errors.js'
import { type EventLogLevel, parseLevel } from '../event/levels.js'
import type { OwnershipInfo } from '../event/model.js'
import type { TimestampMode } from '../event/timestamp.js'
import type { DeliveryOptions, OverflowPolicy } from '../pipeline/delivery.js'
import { type CloseReport, type EventConsumer, Pipeline, type SpoolConfig } from '../pipeline/pipeline.js'
import type { FsyncPolicy } from '../pipeline/spool.js'
import { disableSignalHandling, type ExitParticipant, registerExitParticipant, unregisterExitParticipant } from '../pipeline/exit.js'
import { FileStore, type FileStoreOptions } from '../stores/file.js'
import { HttpStore, type HttpStoreOptions } from '../stores/http.js'
import { parseEventManagerUrls } from '../stores/http-spread.js'
import { MongoStore, type MongoStoreOptions } from '../stores/mongo.js'
import type { Reader, Sink } from '../stores/types.js'
import type { MadsciWarning } from '../warnings.js'
import { type AlertOptions, createAlertDispatcher } from '../notify/index.js'
import { type AnalyzerEntry, type AnalyzerHost, type AnalyzerHostOptions, createAnalyzerHost } from '../analyze/host.js'
import type { EventInput } from '../event/model.js'
import { parseEvent } from '../event/validate.js'
import { EventLogger, type LoggerCore } from './logger.js'
import { activeSpanLookup } from './otel.js'
import { checkOwnership } from './ownership.js'

/**
 * `createEventLogger(options?)`: options in code win; MADSci's environment variables fill the
 * rest; with nothing configured, events go to an NDJSON file under `.madsci/events/`.
 */

export interface MongoSinkOptions extends MongoStoreOptions {
  url: string
}
export interface EventManagerSinkOptions extends HttpStoreOptions {
  /** One URL, several (an array, or comma-separated: `http://a:8001,b:8001`): batches spread over the healthy ones. */
  url: string | string[]
}
export interface FileSinkOptions extends FileStoreOptions {
  path?: string
}

export interface EventLoggerOptions {
  /** Minimum level. Default `EVENT_CLIENT_LOG_LEVEL`, else INFO (20). */
  level?: EventLogLevel | string
  /** Ownership of every event. Default from `EVENT_CLIENT_SOURCE__<FIELD>` variables. */
  source?: OwnershipInfo
  /** MongoDB sink (URL or options). Default `EVENT_DB_URL` / `MONGO_DB_URL` / `DB_URL` (MongoDB URLs only). */
  mongodb?: string | MongoSinkOptions
  /**
   * Event Manager sink: a URL, several (an array or a comma-separated list; batches are spread over
   * the healthy instances, with failover), or options. Default `EVENT_SERVER_URL` (one URL or a
   * comma-separated list) when no MongoDB is configured.
   */
  eventManager?: string | string[] | EventManagerSinkOptions
  /** NDJSON file sink: `true`, a path, or options. Default: used when no other sink is configured. */
  file?: boolean | string | FileSinkOptions
  /** Sink objects of your own (in-process only). */
  sinks?: Sink[]
  /**
   * The on-disk spool for network sinks: a directory, options, or `false`. Default
   * `EVENT_CLIENT_SPOOL_DIR`, else `<project .madsci>/spool` when a MongoDB or Event Manager sink
   * is used (nothing is lost while the store is down); none for a file-only logger.
   */
  spool?: string | SpoolConfig | false
  /** Per-sink memory queue. Defaults: 10 000 events, 16 MiB. */
  queue?: { maxEvents?: number; maxBytes?: number }
  /** Batching. Defaults: 1000 events, 4 MiB, 100 ms, 4 in flight. */
  batch?: { maxEvents?: number; maxBytes?: number; flushIntervalMs?: number; maxInFlight?: number }
  /** When the queue is full. Default `spool` with a spool, else `drop-oldest`. Env `EVENT_CLIENT_OVERFLOW`. */
  overflow?: OverflowPolicy
  /** Backoff: full jitter between 0 and min(maxMs, baseMs·2^n). Defaults 100 ms, 30 s, 5 retries for unexpected errors. */
  retry?: { baseMs?: number; maxMs?: number; maxRetries?: number }
  /** Generated timestamps: `local` (naive local time, as Python clients) or `utc` (with `Z`). Env `EVENT_CLIENT_TIMESTAMPS`. */
  timestamps?: TimestampMode
  /** Take trace/span ids from the active OpenTelemetry span when `@opentelemetry/api` is installed. Default true. */
  otel?: boolean
  /**
   * Take part in the end of the process without a call from the program. Default true: at
   * `process.exit` (and an uncaught exception or unhandled rejection) what is still in memory is
   * written synchronously to the file or the spool; when the program runs out of work
   * (`beforeExit`) or is stopped by SIGTERM/SIGINT, delivery gets `exitTimeoutMs`, then the rest
   * is spooled. `false`: only `close()` delivers.
   */
  saveOnExit?: boolean
  /**
   * SIGTERM and SIGINT in a program that has no handler of its own: deliver within
   * `exitTimeoutMs`, then end the process as the signal would have (same exit status). A program
   * with its own handler keeps full control. Default `EVENT_CLIENT_HANDLE_SIGNALS`, else true;
   * `false` turns it off for the whole process.
   */
  handleSignals?: boolean
  /** How long delivery may take when the program ends without `close()` (natural end, SIGTERM/SIGINT). Default 5000 ms. */
  exitTimeoutMs?: number
  /**
   * Alerts: notifiers (email, webhook, console, `{ module, options }` plugins) and `alertLevel`
   * (default ERROR). An event alerts when `alert: true` or its level ≥ `alertLevel`. Not read from
   * the environment here (MADSci sends email from the server; `madsci-events serve` reads
   * `EVENT_EMAIL_ALERTS`); pass `alertOptionsFromEnv()` to opt in.
   */
  alerts?: AlertOptions
  /**
   * Live analyzers fed every accepted event: built-ins (`{ module: 'builtin:error-rate' }`,
   * `builtin:silence`, `builtin:burst`, `builtin:utilization`), `{ module, options }` plugins, or
   * analyzer objects. Their anomaly events go through this logger (and can alert). Results:
   * `logger.analyzerResults()`.
   */
  analyzers?: readonly AnalyzerEntry[]
  /** Options of the analyzer host (queue size, tick interval). */
  analyzerHost?: AnalyzerHostOptions
  /** In-process consumers of every accepted event (notifier dispatchers, analyzer hosts). */
  consumers?: Array<EventConsumer & { flush?(): Promise<void>; close?(options?: { timeoutMs?: number }): Promise<void> }>
  /** Degraded-mode notices. Default: printed once each to stderr. */
  onWarning?: (warning: MadsciWarning) => void
  /** Environment to read (tests). Default `process.env`. */
  env?: NodeJS.ProcessEnv
}

const OVERFLOW: OverflowPolicy[] = ['spool', 'drop-oldest', 'drop-newest', 'block']
const FSYNC: FsyncPolicy[] = ['always', 'interval', 'never']

function positive(option: string, value: unknown, min = 1): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new ConfigError(option, `${JSON.stringify(value)} is not a number ≥ ${min}`)
  return value
}

export interface ResolvedSinks {
  sinks: Sink[]
  reader: Reader | undefined
  network: boolean
}

/** Build the sinks from options and environment. Exported for the pino transport and the server. */
export function resolveSinks(options: EventLoggerOptions, env: NodeJS.ProcessEnv, onWarning: (w: MadsciWarning) => void): ResolvedSinks {
  const sinks: Sink[] = [...(options.sinks ?? [])]
  let network = false
  let mongo = options.mongodb
  let manager = options.eventManager
  let managerOption = 'eventManager'
  if (mongo === undefined && manager === undefined && options.sinks === undefined && options.file === undefined) {
    const fromEnv = envMongoUrl(env)
    if (fromEnv) mongo = fromEnv.url
    else {
      const server = envValue(env, 'EVENT_SERVER_URL')
      if (server) {
        manager = server
        managerOption = 'EVENT_SERVER_URL'
      }
    }
  }
  if (mongo !== undefined) {
    const o = typeof mongo === 'string' ? { url: mongo } : mongo
    if (!o || typeof o.url !== 'string' || !/^mongodb(\+srv)?:\/\//i.test(o.url)) {
      throw new ConfigError('mongodb', 'must be a MongoDB URL (mongodb://host:port or mongodb+srv://...) or { url, database, collection, writeConcern, clientOptions }')
    }
    const { url, ...rest } = o
    sinks.push(
      new MongoStore(url, {
        database: rest.database ?? envValue(env, 'EVENT_DATABASE_NAME'),
        collection: rest.collection ?? envValue(env, 'EVENT_COLLECTION_NAME'),
        onWarning,
        ...rest,
        // A write fails after 2 s without a server (the driver waits 30 s, the store 5 s): the
        // pipeline retries anyway, and this is how soon an outage is noticed and reported.
        clientOptions: { serverSelectionTimeoutMS: 2000, ...rest.clientOptions },
      }),
    )
    network = true
  }
  if (manager !== undefined) {
    const o: EventManagerSinkOptions = typeof manager === 'string' || Array.isArray(manager) ? { url: manager } : manager
    if (typeof o?.url !== 'string' && !Array.isArray(o?.url)) throw new ConfigError(managerOption, `${JSON.stringify(o?.url)} is not an http(s) URL; use e.g. http://localhost:8001`)
    // Checked here, so a bad entry fails at creation with the option's name.
    const urls = parseEventManagerUrls(o.url, managerOption)
    if (o.mode !== undefined && !['auto', 'batch', 'single'].includes(o.mode)) throw new ConfigError('eventManager.mode', `${JSON.stringify(o.mode)}; use auto, batch or single`)
    const { url: _url, ...rest } = o
    sinks.push(new HttpStore(urls, { onWarning, token: rest.token ?? envValue(env, 'EVENT_SERVER_TOKEN'), ...rest }))
    network = true
  }
  const wantFile = options.file !== undefined ? options.file !== false : sinks.length === 0
  if (wantFile) {
    const f: FileSinkOptions = typeof options.file === 'string' ? { path: options.file } : typeof options.file === 'object' ? options.file : {}
    const path = f.path !== undefined ? resolveMadsciPath(f.path, env) : defaultEventFile(env)
    sinks.push(new FileStore(path, { maxBytes: f.maxBytes, maxFiles: f.maxFiles, onWarning }))
  }
  const reader = sinks.find((s): s is Sink & Reader => typeof (s as Partial<Reader>).getEvent === 'function')
  return { sinks, reader, network }
}

/** The pipeline's delivery options from the logger options (validated). */
export function resolveDelivery(options: EventLoggerOptions, env: NodeJS.ProcessEnv): Partial<DeliveryOptions> {
  const d: Partial<DeliveryOptions> = {}
  const q = options.queue ?? {}
  const b = options.batch ?? {}
  const r = options.retry ?? {}
  const set = <K extends keyof DeliveryOptions>(key: K, v: DeliveryOptions[K] | undefined): void => {
    if (v !== undefined) d[key] = v
  }
  set('maxQueueEvents', positive('queue.maxEvents', q.maxEvents) ?? envNumber(env, 'EVENT_CLIENT_QUEUE_MAX_EVENTS', 1))
  set('maxQueueBytes', positive('queue.maxBytes', q.maxBytes, 1024))
  set('maxBatchEvents', positive('batch.maxEvents', b.maxEvents) ?? envNumber(env, 'EVENT_CLIENT_BATCH_MAX_EVENTS', 1))
  set('maxBatchBytes', positive('batch.maxBytes', b.maxBytes, 1024))
  set('flushIntervalMs', positive('batch.flushIntervalMs', b.flushIntervalMs, 0) ?? envNumber(env, 'EVENT_CLIENT_FLUSH_INTERVAL_MS', 0))
  set('maxInFlight', positive('batch.maxInFlight', b.maxInFlight))
  set('maxRetries', positive('retry.maxRetries', r.maxRetries, 0))
  if (r.baseMs !== undefined || r.maxMs !== undefined) {
    d.backoff = { baseMs: positive('retry.baseMs', r.baseMs, 0) ?? 100, maxMs: positive('retry.maxMs', r.maxMs, 0) ?? 30_000 }
  }
  const overflow = options.overflow ?? (envValue(env, 'EVENT_CLIENT_OVERFLOW') as OverflowPolicy | undefined)
  if (overflow !== undefined) {
    if (!OVERFLOW.includes(overflow)) throw new ConfigError(options.overflow !== undefined ? 'overflow' : 'EVENT_CLIENT_OVERFLOW', `${JSON.stringify(overflow)}; use one of ${OVERFLOW.join(', ')}`)
    d.overflow = overflow
  }
  return d
}

/** The spool configuration, or undefined. */
export function resolveSpool(options: EventLoggerOptions, env: NodeJS.ProcessEnv, network: boolean): SpoolConfig | undefined {
  if (options.spool === false) return undefined
  let cfg: SpoolConfig | undefined
  if (typeof options.spool === 'string') cfg = { dir: options.spool }
  else if (options.spool && typeof options.spool === 'object') cfg = { ...options.spool }
  else {
    const dir = envValue(env, 'EVENT_CLIENT_SPOOL_DIR')
    if (dir) cfg = { dir }
    else if (network) cfg = { dir: join(resolveMadsciDir(env), 'spool') }
  }
  if (!cfg) return undefined
  if (typeof cfg.dir !== 'string' || !cfg.dir) throw new ConfigError('spool.dir', 'must be a directory path')
  cfg.dir = resolveMadsciPath(cfg.dir, env)
  if (cfg.mode !== undefined && cfg.mode !== 'overflow' && cfg.mode !== 'always') throw new ConfigError('spool.mode', `${JSON.stringify(cfg.mode)}; use overflow or always`)
  if (cfg.fsync !== undefined && !FSYNC.includes(cfg.fsync)) throw new ConfigError('spool.fsync', `${JSON.stringify(cfg.fsync)}; use one of ${FSYNC.join(', ')}`)
  positive('spool.fsyncIntervalMs', cfg.fsyncIntervalMs, 1)
  positive('spool.maxBytes', cfg.maxBytes, 1024)
  positive('spool.segmentBytes', cfg.segmentBytes, 1024)
  return cfg
}

/** Notices that come in pairs, once per outage: printed every time. */
const EVERY_TIME = new Set<string>(['MADSCI_WARN_STORE_UNREACHABLE', 'MADSCI_WARN_STORE_REACHABLE'])

/**
 * Print each notice once to stderr (outage notices every time). Written straight to fd 2: in the
 * pino transport's worker `process.stderr` goes through the main thread, which may be exiting.
 */
export function defaultWarningPrinter(): (w: MadsciWarning) => void {
  const seen = new Set<string>()
  return (w) => {
    const key = `${w.code}:${w.message}`
    if (!EVERY_TIME.has(w.code)) {
      if (seen.has(key)) return
      seen.add(key)
    }
    try {
      writeSync(2, `madsci-events warning ${w.code}: ${w.message}\n`)
    } catch {
      /* stderr closed */
    }
  }
}

/** How long `flush()` without a timeout waits for its in-process consumers (alerts, analyzers) before flushing the stores. */
const CONSUMER_FLUSH_MS = 10_000

/** A logger core (pipeline, stores, consumers) and the resolved level and source. */
export interface CreatedCore {
  core: LoggerCore
  level: EventLogLevel
  source: OwnershipInfo
  analyzers: AnalyzerHost | undefined
}

/**
 * Build the shared core of a logger from options: the sinks, the pipeline and its consumers.
 * `createEventLogger` wraps it in the logging API; the pino transport feeds it pino lines.
 */
export function createLoggerCore(options: EventLoggerOptions = {}): CreatedCore {
  const env = options.env ?? process.env
  let level: EventLogLevel = 20
  if (options.level !== undefined) {
    const l = parseLevel(options.level, { aliases: true })
    if (l === undefined) throw new ConfigError('level', `${JSON.stringify(options.level)}; use 0, 10, 20, 30, 40, 50 or a level name (DEBUG, INFO, WARNING, ERROR, CRITICAL)`)
    level = l
  } else level = envLevel(env, 'EVENT_CLIENT_LOG_LEVEL') ?? 20
  const timestampMode = (options.timestamps ?? envValue(env, 'EVENT_CLIENT_TIMESTAMPS') ?? 'local') as TimestampMode
  if (timestampMode !== 'local' && timestampMode !== 'utc') throw new ConfigError('timestamps', `${JSON.stringify(timestampMode)}; use local or utc`)
  const source = checkOwnership((options.source ?? envSource(env)) as Record<string, unknown>, 'source')
  const onWarning = options.onWarning ?? defaultWarningPrinter()

  const { sinks, reader, network } = resolveSinks(options, env, onWarning)
  const delivery = resolveDelivery(options, env)
  const spool = resolveSpool(options, env, network)
  // The file sink is local disk, fast but bursty under a flood of calls: a deeper memory queue and
  // `block` (accept up to 4× before dropping) instead of dropping at 10 000, unless configured.
  const fileDefaults: Partial<DeliveryOptions> = {}
  if (options.queue?.maxEvents === undefined) fileDefaults.maxQueueEvents = 100_000
  if (options.queue?.maxBytes === undefined) fileDefaults.maxQueueBytes = 64 * 1024 * 1024
  if (delivery.overflow === undefined) fileDefaults.overflow = 'block'
  const exitTimeoutMs = positive('exitTimeoutMs', options.exitTimeoutMs, 0) ?? 5000
  const handleSignals = options.handleSignals ?? envBool(env, 'EVENT_CLIENT_HANDLE_SIGNALS') ?? true
  const atExit = options.saveOnExit !== false
  const pipeline = new Pipeline({
    sinks,
    delivery,
    deliveryBySink: { file: fileDefaults },
    spool: spool ?? false,
    source,
    timestampMode,
    // Connections made for this logger are let go of when idle, so a finished program ends (in
    // the main thread: a worker, as the pino transport's, is ended by its owner).
    releaseWhenIdle: atExit && isMainThread && options.sinks === undefined,
    onWarning,
  })
  // Events the plugins report about themselves (failed sends, digests, anomalies) go through the
  // same pipeline; a bad one is reported on the bus rather than thrown into the plugin.
  const logOwn = (input: EventInput): void => {
    try {
      pipeline.push(parseEvent(input, { defaultSource: source, timestampMode }))
    } catch (err) {
      pipeline.emit('error', err as Error, { stage: 'plugin-event' })
    }
  }
  const consumers = [...(options.consumers ?? [])]
  let analyzers: AnalyzerHost | undefined
  if (options.analyzers?.length) {
    analyzers = createAnalyzerHost(options.analyzers, { log: logOwn }, options.analyzerHost)
    consumers.unshift(analyzers)
  }
  // Alerts first: an anomaly an analyzer logs is offered to the dispatcher like any event.
  if (options.alerts) consumers.unshift(createAlertDispatcher(options.alerts, { log: logOwn }))
  for (const c of consumers) pipeline.addConsumer(c)

  /** Flush the plugins for at most `budgetMs`; one stuck on a dead peer never holds up delivery. */
  const flushConsumers = async (budgetMs: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs)))
    const plugins = (async () => {
      for (const c of consumers) await c.flush?.()
    })()
    try {
      await Promise.race([plugins, waited])
    } finally {
      clearTimeout(timer)
    }
    plugins.catch(() => undefined) // still running past its time: its errors are the plugin's to report
  }

  const participant: ExitParticipant = {
    timeoutMs: exitTimeoutMs,
    pending: () => pipeline.exitPending,
    async drain() {
      const deadline = Date.now() + exitTimeoutMs
      if (consumers.length) await flushConsumers(Math.floor(exitTimeoutMs / 2))
      await pipeline.drain({ timeoutMs: Math.max(0, deadline - Date.now()) })
    },
    saveSync: () => pipeline.saveSync(),
  }
  if (atExit) registerExitParticipant(participant)
  if (!handleSignals) disableSignalHandling()

  let closing: Promise<CloseReport> | undefined
  const core: LoggerCore = {
    pipeline,
    reader,
    analyzers,
    timestampMode,
    spanLookup: options.otel === false ? undefined : activeSpanLookup(),
    onInvalid(message: string) {
      pipeline.emit('error', new ConfigError('call', message), { stage: 'log' })
    },
    async flush(opts) {
      const start = Date.now()
      // Plugins first: what they log while flushing is then flushed with the rest. But a plugin
      // waiting on a dead peer (an alert webhook that never answers) gets at most half the time
      // (CONSUMER_FLUSH_MS without one) and the stores are flushed anyway: delivery never waits on it.
      await flushConsumers(opts?.timeoutMs !== undefined ? Math.floor(opts.timeoutMs / 2) : CONSUMER_FLUSH_MS)
      await pipeline.flush(opts?.timeoutMs !== undefined ? { timeoutMs: Math.max(0, opts.timeoutMs - (Date.now() - start)) } : undefined)
    },
    close(opts) {
      closing ??= (async () => {
        const timeoutMs = opts?.timeoutMs ?? 10_000
        const deadline = Date.now() + timeoutMs
        // Plugins close first (pending digests go out, their reports are logged), with half the
        // time; the pipeline then delivers everything, theirs included, with the rest.
        for (const c of consumers) await c.close?.({ timeoutMs: Math.max(0, Math.floor((deadline - Date.now()) / 2)) })
        const report = await pipeline.close({ timeoutMs: Math.max(0, deadline - Date.now()) })
        // Until closed, an exit still saves what close() has not saved yet.
        unregisterExitParticipant(participant)
        return report
      })()
      return closing
    },
  }
  return { core, level, source, analyzers }
}

/** Create a logger (and its pipeline and stores). */
export function createEventLogger(options: EventLoggerOptions = {}): EventLogger {
  const { core, level, source } = createLoggerCore(options)
  return new EventLogger(core, level, source)
}
