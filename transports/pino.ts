import { workerData } from 'node:worker_threads'
import build from 'pino-abstract-transport'
import { ConfigError } from '../src/errors.js'
import { type EventLogLevel, parseLevel } from '../src/event/levels.js'
import type { OwnershipInfo } from '../src/event/model.js'
import type { TimestampMode } from '../src/event/timestamp.js'
import { createLoggerCore, type EventLoggerOptions } from '../src/logger/create.js'
import type { OverflowPolicy } from '../src/pipeline/delivery.js'
import type { SpoolConfig } from '../src/pipeline/pipeline.js'
import { LoggedEvent } from '../src/pipeline/record.js'
import { safeJsonStringify } from '../src/event/json-safe.js'
import { newUlid } from '../src/event/ulid.js'
import { nowTimestamp } from '../src/event/timestamp.js'
import { mapPinoLine } from './map-line.js'

/**
 * The pino transport: `pino({ transport: { target: 'madsci-events/transport', options } })`.
 * A thin adapter: each pino line becomes a MADSci Event (see `map-line.ts`) and goes into the same
 * pipeline as `createEventLogger()` — same sinks, spool, retries and stats.
 *
 * Options are plain data (pino clones them into a worker thread). With none, the transport reads
 * MADSci's environment variables exactly as `createEventLogger()` does.
 */
export interface MadsciTransportOptions {
  mongodb?: string | { url: string; database?: string; collection?: string; writeConcern?: Record<string, unknown>; clientOptions?: Record<string, unknown> }
  eventManager?: string | { url: string; mode?: 'auto' | 'batch' | 'single'; concurrency?: number; timeoutMs?: number; token?: string; headers?: Record<string, string> }
  file?: boolean | string | { path?: string; maxBytes?: number; maxFiles?: number }
  spool?: string | SpoolConfig | false
  queue?: { maxEvents?: number; maxBytes?: number }
  batch?: { maxEvents?: number; maxBytes?: number; flushIntervalMs?: number; maxInFlight?: number }
  overflow?: OverflowPolicy
  retry?: { baseMs?: number; maxMs?: number; maxRetries?: number }
  timestamps?: TimestampMode
  /** Lines below this MADSci level are not shipped. Default: everything pino sends. */
  minLevel?: EventLogLevel | string
  /** Ownership stamped on every event (bindings and line fields override it). */
  source?: OwnershipInfo
  /** Keep pino's `pid` and `hostname` in `event_data`. Default true. */
  keepPinoFields?: boolean
  /** Delivery deadline when the transport closes. 8 s: inside pino's 10 s exit window; the rest is spooled. */
  closeTimeoutMs?: number
}

const KNOWN = new Set([
  'mongodb',
  'eventManager',
  'file',
  'spool',
  'queue',
  'batch',
  'overflow',
  'retry',
  'timestamps',
  'minLevel',
  'source',
  'keepPinoFields',
  'closeTimeoutMs',
])

/** Validate transport options; exported so a main thread can check them before starting pino. */
export function validateTransportOptions(options: unknown): MadsciTransportOptions {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object' || Array.isArray(options)) throw new ConfigError('options', 'transport options must be an object')
  for (const key of Object.keys(options)) {
    // Keys pino itself adds to every transport's options.
    if (key.startsWith('$') || key === 'pinoWillSendConfig') continue
    if (!KNOWN.has(key)) throw new ConfigError(key, `unknown transport option; known options are ${[...KNOWN].join(', ')}`)
  }
  const o = options as MadsciTransportOptions
  if (o.minLevel !== undefined && parseLevel(o.minLevel, { aliases: true }) === undefined) {
    throw new ConfigError('minLevel', `${JSON.stringify(o.minLevel)}; use 0, 10, 20, 30, 40, 50 or a level name`)
  }
  if (o.closeTimeoutMs !== undefined && !(typeof o.closeTimeoutMs === 'number' && o.closeTimeoutMs >= 0)) {
    throw new ConfigError('closeTimeoutMs', 'must be a number of milliseconds ≥ 0')
  }
  return o
}

export default async function madsciTransport(rawOptions?: MadsciTransportOptions) {
  const options = validateTransportOptions(rawOptions)
  const loggerOptions: EventLoggerOptions = {
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
    // The transport has its own level filter; the core's level applies to logger calls only.
    level: 0,
    saveOnExit: true,
  }
  // Without a spool, overflow blocks: the worker stops reading and pino buffers upstream, so a
  // burst is delivered late rather than dropped.
  if (options.overflow === undefined && options.spool === undefined && !process.env.EVENT_CLIENT_SPOOL_DIR && !options.mongodb && !options.eventManager && !process.env.EVENT_SERVER_URL && !process.env.EVENT_DB_URL) {
    loggerOptions.overflow = 'block'
  }
  // Throws ConfigError for bad options: pino reports it on the main thread.
  const { core, source } = createLoggerCore(loggerOptions)
  const minLevel = options.minLevel === undefined ? 0 : (parseLevel(options.minLevel, { aliases: true }) as number)
  const keepPinoFields = options.keepPinoFields !== false
  const closeTimeoutMs = options.closeTimeoutMs ?? 8000
  const block = loggerOptions.overflow === 'block'
  const pinoWillSendConfig =
    (rawOptions as { pinoWillSendConfig?: boolean } | undefined)?.pinoWillSendConfig === true ||
    (workerData as { workerData?: { pinoWillSendConfig?: boolean } } | undefined)?.workerData?.pinoWillSendConfig === true

  return build(
    async (stream) => {
      const levels = (stream as unknown as { levels?: { labels?: Record<number, string> } }).levels
      const mapOptions = {
        labels: levels?.labels,
        messageKey: (stream as unknown as { messageKey?: string }).messageKey,
        errorKey: (stream as unknown as { errorKey?: string }).errorKey,
        timestampMode: core.timestampMode,
        keepPinoFields,
        source,
      }
      for await (const line of stream) {
        const event = mapPinoLine(line as Record<string, unknown>, mapOptions)
        if (event.log_level < minLevel) continue
        if (!core.pipeline.push(event) && block) {
          // Backpressure: stop reading until the queues have room (pino's buffer absorbs meanwhile).
          while (!core.pipeline.hasCapacity() && !core.pipeline.closed) await new Promise((r) => setTimeout(r, 5))
        }
      }
    },
    {
      expectPinoConfig: pinoWillSendConfig,
      async close() {
        const deadline = Date.now() + closeTimeoutMs
        // Deliver what is queued first (most of the window), so the totals below are final.
        await core.pipeline.flush({ timeoutMs: Math.max(0, Math.floor(closeTimeoutMs * 0.8)) }).catch(() => undefined)
        const totals = core.pipeline.stats()
        // The totals, as a MADSci event (DEBUG) delivered with the last batch.
        core.pipeline.push(
          new LoggedEvent(
            newUlid(),
            'log_debug',
            10,
            false,
            nowTimestamp(core.timestampMode),
            source,
            safeJsonStringify({
              message: 'madsci-events pino transport closing',
              madsci_events: {
                kind: 'transport_summary',
                accepted: totals.accepted,
                delivered: totals.delivered,
                retried: totals.retried,
                failed: totals.failed,
                spooled: totals.spooled,
                replayed: totals.replayed,
                dropped: totals.dropped,
              },
            }),
            null,
            null,
          ),
        )
        const report = await core.close({ timeoutMs: Math.max(100, deadline - Date.now()) })
        if (report.spooled > 0 || report.lost > 0) {
          process.stderr.write(
            `madsci-events transport: closed with ${report.spooled} event(s) spooled for the next start and ${report.lost} lost (${report.delivered} delivered)\n`,
          )
        }
      },
    },
  )
}
