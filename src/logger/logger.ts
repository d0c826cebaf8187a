import { ConfigError, EventValidationError } from '../errors.js'
import { safeJsonStringify } from '../event/json-safe.js'
import { type EventLogLevel, logTypeForLevel, parseLevel } from '../event/levels.js'
import { type Event, type EventInput, OWNERSHIP_FIELDS, type OwnershipInfo } from '../event/model.js'
import { formatMicros, nowMicros, type TimestampMode } from '../event/timestamp.js'
import { type EventType, parseEventType } from '../event/types.js'
import { newUlid } from '../event/ulid.js'
import { parseEvent } from '../event/validate.js'
import type { CloseReport, Pipeline, PipelineEventMap, PipelineStats } from '../pipeline/pipeline.js'
import { LoggedEvent } from '../pipeline/record.js'
import type { GetEventsOptions, QueryOptions, Reader, StreamOptions } from '../stores/types.js'
import type { ActiveSpanLookup } from './otel.js'
import type { AnalyzerHost } from '../analyze/host.js'
import { formatMessage } from './format.js'
import { checkOwnership, currentOwnership, mergeOwnership } from './ownership.js'

/**
 * The logging-style API. Each call builds one Event and appends it to the pipeline's in-memory
 * queues: no I/O, no promise, no await. Calls below the logger's level return at once.
 *
 * `event_data` of a call is `{ message, ...bound data, ...fields }`, as MADSci's
 * `info("msg", **kw)`; the field names `event_type`, `alert`, `source`, `trace_id`, `span_id` are
 * lifted onto the Event (MADSci files `event_type` under `event_data`; we don't — SPEC D1), and an
 * ownership field name (`node_id`, `workflow_id`, ...) whose value is a ULID goes to `source`.
 *
 * pino's call forms work too: `info({ temperature }, 'msg')`, `info({ temperature })`,
 * `error(err, 'msg')` (the error under `error`), and `info('%s took %d ms', name, ms)` with pino's
 * interpolation (format.ts).
 */

/** Extra fields of a logging call. Keys other than the lifted ones become `event_data`. */
export interface LogFields {
  event_type?: EventType | string
  alert?: boolean
  source?: OwnershipInfo
  /** Merged into `event_data` (after the other fields). */
  event_data?: Record<string, unknown>
  trace_id?: string | null
  span_id?: string | null
  [key: string]: unknown
}

/** What `child()` binds: ownership fields (or `source`), default data, a default event type. */
export interface ChildBindings {
  source?: OwnershipInfo
  /** Default `event_data` fields of every event of the child. */
  data?: Record<string, unknown>
  event_type?: EventType | string
  [key: string]: unknown
}

/** State shared by a logger and all its children. */
export interface LoggerCore {
  pipeline: Pipeline
  reader: Reader | undefined
  /** The live analyzers, when configured. */
  analyzers?: AnalyzerHost
  timestampMode: TimestampMode
  spanLookup: ActiveSpanLookup | undefined
  /** A call was logged with a problem (bad event_type, bad ownership value): reported on the bus. */
  onInvalid(message: string): void
  close(options?: { timeoutMs?: number }): Promise<CloseReport>
  flush(options?: { timeoutMs?: number }): Promise<void>
}

const LIFTED = new Set(['event_type', 'alert', 'source', 'event_data', 'trace_id', 'span_id'])
/** A call with fields and no message (`info({ temperature })`): `event_data` has no `message`. */
const NO_MESSAGE = Symbol('no message')

/** A plain object of fields (not an array, an Error or null). */
function isFields(v: unknown): v is LogFields {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Error)
}
const OWNERSHIP = new Set<string>(OWNERSHIP_FIELDS)
const ULID_LIKE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i

export class EventLogger {
  readonly #core: LoggerCore
  readonly #source: OwnershipInfo
  readonly #fragment: string
  readonly #boundData: Record<string, unknown> | undefined
  readonly #boundType: EventType | undefined
  #level: EventLogLevel
  // Cache of the last merge of an ownership context with this logger's source.
  #ctxKey: OwnershipInfo | undefined
  #ctxSource: OwnershipInfo | undefined

  /** @internal use `createEventLogger()`. */
  constructor(core: LoggerCore, level: EventLogLevel, source: OwnershipInfo, boundData?: Record<string, unknown>, boundType?: EventType) {
    this.#core = core
    this.#level = level
    this.#source = Object.freeze(mergeOwnership(source))
    this.#boundData = boundData && Object.keys(boundData).length ? boundData : undefined
    this.#fragment = this.#boundData ? safeJsonStringify(this.#boundData).slice(1, -1) : ''
    this.#boundType = boundType
  }

  /** The minimum level logged (MADSci number). Settable with a number or a level name. */
  get level(): EventLogLevel {
    return this.#level
  }

  set level(value: EventLogLevel | string) {
    const l = parseLevel(value, { aliases: true })
    if (l === undefined) throw new EventValidationError([{ type: 'enum', loc: ['level'], msg: 'Input should be 0, 10, 20, 30, 40 or 50, or a level name', input: value }], 'level')
    this.#level = l
  }

  /** True when a call at `level` would be logged. */
  isLevelEnabled(level: EventLogLevel | string): boolean {
    const l = parseLevel(level, { aliases: true })
    return l !== undefined && l >= this.#level
  }

  debug(message: string, ...args: unknown[]): string | undefined
  debug(obj: LogFields | Error, message?: string, ...args: unknown[]): string | undefined
  debug(message: unknown, fields?: LogFields): string | undefined
  debug(a?: unknown, b?: unknown): string | undefined {
    if (this.#level > 10) return undefined
    return this.#call(10, a, b, arguments.length > 2 ? arguments : undefined)
  }

  info(message: string, ...args: unknown[]): string | undefined
  info(obj: LogFields | Error, message?: string, ...args: unknown[]): string | undefined
  info(message: unknown, fields?: LogFields): string | undefined
  info(a?: unknown, b?: unknown): string | undefined {
    if (this.#level > 20) return undefined
    return this.#call(20, a, b, arguments.length > 2 ? arguments : undefined)
  }

  warning(message: string, ...args: unknown[]): string | undefined
  warning(obj: LogFields | Error, message?: string, ...args: unknown[]): string | undefined
  warning(message: unknown, fields?: LogFields): string | undefined
  warning(a?: unknown, b?: unknown): string | undefined {
    if (this.#level > 30) return undefined
    return this.#call(30, a, b, arguments.length > 2 ? arguments : undefined)
  }

  /** Alias of `warning`. */
  warn(message: string, ...args: unknown[]): string | undefined
  warn(obj: LogFields | Error, message?: string, ...args: unknown[]): string | undefined
  warn(message: unknown, fields?: LogFields): string | undefined
  warn(a?: unknown, b?: unknown): string | undefined {
    if (this.#level > 30) return undefined
    return this.#call(30, a, b, arguments.length > 2 ? arguments : undefined)
  }

  error(message: string, ...args: unknown[]): string | undefined
  error(obj: LogFields | Error, message?: string, ...args: unknown[]): string | undefined
  error(message: unknown, fields?: LogFields): string | undefined
  error(a?: unknown, b?: unknown): string | undefined {
    if (this.#level > 40) return undefined
    return this.#call(40, a, b, arguments.length > 2 ? arguments : undefined)
  }

  critical(message: string, ...args: unknown[]): string | undefined
  critical(obj: LogFields | Error, message?: string, ...args: unknown[]): string | undefined
  critical(message: unknown, fields?: LogFields): string | undefined
  critical(a?: unknown, b?: unknown): string | undefined {
    if (this.#level > 50) return undefined
    return this.#call(50, a, b, arguments.length > 2 ? arguments : undefined)
  }

  /** ERROR with the error serialized under `event_data.error` (message, stack, cause). */
  exception(error: unknown, message?: string, fields?: LogFields): string | undefined {
    if (this.#level > 40) return undefined
    const msg = message ?? (error instanceof Error ? error.message : String(error))
    return this.#emit(40, msg, fields, error === undefined ? null : error, false)
  }

  /**
   * Log an Event (or a partial one; missing fields get MADSci's defaults). The event keeps its own
   * type, level and source; `source` defaults to this logger's ownership. Logged when its level is
   * at least the logger's. Throws `EventValidationError` for an invalid event, as MADSci's `log()`.
   */
  log(event: EventInput | Event | Error): string | undefined {
    if (event instanceof Error) return this.exception(event)
    const parsed = parseEvent(event, { defaultSource: this.#currentSource(), timestampMode: this.#core.timestampMode })
    if (parsed.log_level < this.#level) return undefined
    return this.#pushEvent(parsed)
  }

  /**
   * An alert, whatever its level: notifiers are forced (`alert: true`). A message is logged at
   * CRITICAL (as MADSci's `log_alert`, but one event, not two — SPEC D5); an Event keeps its level.
   */
  alert(event: string | EventInput | Event, fields?: LogFields): string | undefined {
    if (typeof event === 'string') return this.#emit(50, event, fields, undefined, true)
    const parsed = parseEvent({ ...event, alert: true }, { defaultSource: this.#currentSource(), timestampMode: this.#core.timestampMode })
    return this.#pushEvent(parsed)
  }

  /**
   * A logger whose events carry these bindings: ownership fields (`node_id: '01J...'`, or
   * `source: {...}`) go to `source`, `data` and any other key to every event's `event_data`,
   * `event_type` becomes the default type. Throws `EventValidationError` for an ownership value that
   * is not a ULID.
   */
  child(bindings: ChildBindings): EventLogger {
    const sourceFields: Record<string, unknown> = { ...(bindings.source ?? {}) }
    const data: Record<string, unknown> = { ...(this.#boundData ?? {}) }
    let type = this.#boundType
    for (const [k, v] of Object.entries(bindings)) {
      if (k === 'source') continue
      if (k === 'data') Object.assign(data, v as Record<string, unknown>)
      else if (k === 'event_type') {
        const t = typeof v === 'string' ? parseEventType(v) : undefined
        if (!t) throw new EventValidationError([{ type: 'enum', loc: ['event_type'], msg: 'Input should be one of the 63 MADSci event types', input: v }], 'child bindings')
        type = t
      } else if (OWNERSHIP.has(k)) sourceFields[k] = v
      else data[k] = v
    }
    const source = mergeOwnership(this.#source, checkOwnership(sourceFields, 'child bindings'))
    return new EventLogger(this.#core, this.#level, source, data, type)
  }

  /** The source this logger stamps right now: its own, under the ownership context in effect. */
  #currentSource(): OwnershipInfo {
    const ctx = currentOwnership()
    if (ctx === undefined) return this.#source
    if (ctx !== this.#ctxKey) {
      this.#ctxKey = ctx
      // Precedence: ownership context < child bindings (the more specific, explicit choice).
      this.#ctxSource = Object.freeze(mergeOwnership(ctx, this.#source))
    }
    return this.#ctxSource as OwnershipInfo
  }

  /**
   * The call forms of a logging method, pino's and MADSci's, to a message, fields and an error:
   * `(msg)`, `(msg, fields)`, `(msg, ...args)` with pino's `%s %d %i %f %o %O %j` (a last plain
   * object no placeholder used is the fields, an Error the error), `(obj, msg?, ...args)`,
   * `(err, msg?, ...args)` and `(err, fields)`; any other first value is the message.
   */
  #call(level: EventLogLevel, a: unknown, b: unknown, args: IArguments | undefined): string | undefined {
    if (typeof a === 'string') {
      if (args === undefined && (b === undefined || (isFields(b) && a.indexOf('%') === -1))) return this.#emit(level, a, b as LogFields | undefined, undefined, false)
      const rest: unknown[] = args ? Array.prototype.slice.call(args, 1) : [b]
      let { text, used, lastBy } = formatMessage(a, rest)
      let last = used < rest.length ? rest[rest.length - 1] : undefined
      if (last === undefined && isFields(rest[rest.length - 1]) && lastBy !== 'o' && lastBy !== 'O' && lastBy !== 'j') {
        // MADSci's (msg, fields) whose message happens to hold '%s' or '%d' ('100%done'): the
        // fields stay fields (pino would print "NaN" or "[object Object]" and drop them).
        last = rest[rest.length - 1]
        text = formatMessage(a, rest.slice(0, -1)).text
      }
      return this.#emit(level, text, isFields(last) ? last : undefined, last instanceof Error ? last : undefined, false)
    }
    if (a instanceof Error) {
      if (typeof b === 'string') return this.#emit(level, args ? formatMessage(b, Array.prototype.slice.call(args, 2)).text : b, undefined, a, false)
      return this.#emit(level, a.message, isFields(b) ? b : undefined, a, false)
    }
    if (isFields(a)) {
      let message: unknown = NO_MESSAGE
      if (typeof b === 'string') message = args ? formatMessage(b, Array.prototype.slice.call(args, 2)).text : b
      else if (b !== undefined) message = b
      // As pino: `{ err }` alone takes the error's message.
      else if (a.message === undefined && a.err instanceof Error) message = a.err.message
      return this.#emit(level, message, a, undefined, false)
    }
    return this.#emit(level, a, isFields(b) ? b : undefined, b instanceof Error ? b : undefined, false)
  }

  #emit(level: EventLogLevel, message: unknown, fields: LogFields | undefined, error: unknown, alert: boolean): string | undefined {
    const core = this.#core
    let type: EventType = this.#boundType ?? logTypeForLevel(level)
    let source = this.#currentSource()
    let traceId: string | null = null
    let spanId: string | null = null
    let dataJson: string
    if (fields === undefined && error === undefined && typeof message === 'string') {
      dataJson = this.#fragment ? `{"message":${JSON.stringify(message)},${this.#fragment}}` : `{"message":${JSON.stringify(message)}}`
    } else {
      const data: Record<string, unknown> = {}
      if (message !== undefined && message !== NO_MESSAGE) data.message = message
      if (this.#boundData) Object.assign(data, this.#boundData)
      if (fields) {
        let sourceOverride: Record<string, unknown> | undefined
        for (const key of Object.keys(fields)) {
          const v = fields[key]
          if (LIFTED.has(key)) continue
          if (OWNERSHIP.has(key) && typeof v === 'string' && ULID_LIKE.test(v)) {
            ;(sourceOverride ??= {})[key] = v
          } else data[key] = v
        }
        if (fields.event_data && typeof fields.event_data === 'object') Object.assign(data, fields.event_data)
        if (fields.event_type !== undefined) {
          const t = typeof fields.event_type === 'string' ? parseEventType(fields.event_type) : undefined
          if (t) type = t
          else {
            data.event_type = fields.event_type
            core.onInvalid(`unknown event_type ${JSON.stringify(fields.event_type)}; the event was logged as ${type} with the value in event_data.event_type`)
          }
        }
        if (fields.alert === true) alert = true
        if (fields.source && typeof fields.source === 'object') sourceOverride = { ...sourceOverride, ...fields.source }
        if (sourceOverride) {
          try {
            source = mergeOwnership(source, checkOwnership(sourceOverride, 'source'))
          } catch (err) {
            data.source = sourceOverride
            core.onInvalid((err as Error).message)
          }
        }
        if (typeof fields.trace_id === 'string') traceId = fields.trace_id
        if (typeof fields.span_id === 'string') spanId = fields.span_id
      }
      // `exception(undefined)` passes null: an error value that is missing, kept as such.
      if (error !== undefined) data.error = error === null ? undefined : error
      dataJson = safeJsonStringify(data)
    }
    if (traceId === null && core.spanLookup) {
      const sc = core.spanLookup()
      if (sc) {
        traceId = sc.traceId
        spanId = sc.spanId
      }
    }
    const event = new LoggedEvent(newUlid(), type, level, alert, formatMicros(nowMicros(), core.timestampMode), source, dataJson, traceId, spanId)
    core.pipeline.push(event)
    return event.event_id
  }

  #pushEvent(event: Event): string | undefined {
    const core = this.#core
    let { trace_id: traceId, span_id: spanId } = event
    if (traceId === null && core.spanLookup) {
      const sc = core.spanLookup()
      if (sc) {
        traceId = sc.traceId
        spanId = sc.spanId
      }
    }
    const logged = new LoggedEvent(
      event.event_id,
      event.event_type,
      event.log_level,
      event.alert,
      event.event_timestamp,
      event.source,
      safeJsonStringify(event.event_data),
      traceId,
      spanId,
    )
    core.pipeline.push(logged)
    return logged.event_id
  }

  // ------------------------------------------------------------------ lifecycle and reading

  /**
   * Resolves when everything logged so far is delivered (or refused/dropped and reported); rejects
   * with a `TimeoutError` after `timeoutMs`. In-process consumers (alerts, analyzers) are flushed
   * first, for at most half of `timeoutMs` (10 s without one): a notifier stuck on a dead peer
   * never holds up delivery to the stores.
   */
  flush(options?: { timeoutMs?: number }): Promise<void> {
    return this.#core.flush(options)
  }

  /**
   * Stop logging, deliver within `timeoutMs` (default 10 s), spool the rest, close the stores.
   * Resolves with what was delivered, spooled and lost. Closing a child closes the whole tree.
   */
  close(options?: { timeoutMs?: number }): Promise<CloseReport> {
    return this.#core.close(options)
  }

  /** Counters: accepted, delivered, retried, failed, spooled, replayed, dropped by reason, queues, latency. */
  stats(): PipelineStats {
    return this.#core.pipeline.stats()
  }

  /** The live analyzers' current results, by analyzer name (`{}` without analyzers). */
  analyzerResults(): Record<string, unknown> {
    return this.#core.analyzers?.results() ?? {}
  }

  /** Listen to the pipeline: `event` (every accepted event), `batch`, `error`, `drop`, `spool`, `rejected`. */
  on<K extends keyof PipelineEventMap>(name: K, listener: (...args: PipelineEventMap[K]) => void): this {
    this.#core.pipeline.on(name, listener as never)
    return this
  }

  off<K extends keyof PipelineEventMap>(name: K, listener: (...args: PipelineEventMap[K]) => void): this {
    this.#core.pipeline.off(name, listener as never)
    return this
  }

  #reader(): Reader {
    if (!this.#core.reader) throw new ConfigError('sinks', 'none of this logger\'s sinks can be read; add a MongoDB, Event Manager or file sink')
    return this.#core.reader
  }

  /** One stored event, or null. Reads the first store (call `flush()` first to see your own events). */
  getEvent(id: string): Promise<Event | null> {
    return this.#reader().getEvent(id)
  }

  /** Recent stored events, newest first (MADSci's `get_events`). */
  getEvents(options?: GetEventsOptions): Promise<Event[]> {
    return this.#reader().getEvents(options)
  }

  /** Stored events matching a MongoDB selector. */
  queryEvents(selector: Record<string, unknown>, options?: QueryOptions): Promise<Event[]> {
    return this.#reader().queryEvents(selector, options)
  }

  /** Stored events in a time range, oldest first, in constant memory. */
  streamEvents(options?: StreamOptions): AsyncIterable<Event> {
    return this.#reader().streamEvents(options)
  }
}

