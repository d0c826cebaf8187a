import { safeJsonStringify } from '../src/event/json-safe.js'
import { type EventLogLevel, logTypeForLevel, pinoToMadsciLevel } from '../src/event/levels.js'
import { OWNERSHIP_FIELDS, type OwnershipInfo } from '../src/event/model.js'
import { formatMicros, isTimestampProblem, parseTimestamp, type TimestampMode } from '../src/event/timestamp.js'
import { type EventType, parseEventType } from '../src/event/types.js'
import { newUlid } from '../src/event/ulid.js'
import { LoggedEvent } from '../src/pipeline/record.js'

/**
 * A pino line → a MADSci Event (the README's mapping table):
 *
 * | pino line                                   | MADSci Event                                                        |
 * |---------------------------------------------|---------------------------------------------------------------------|
 * | `level` by name: trace, debug → DEBUG; info → INFO; warn → WARNING; error → ERROR; fatal → CRITICAL; a custom level → the nearest standard pino level at or below it | `log_level` |
 * | `time` (epoch ms; seconds below 1e11; an ISO string); none → now | `event_timestamp` (naive local, or UTC with `timestamps: 'utc'`) |
 * | `msg` (pino's `messageKey`)                 | `event_data.message` (first key)                                    |
 * | every other field, bindings included        | `event_data.<field>`, in line order (a `message` field next to `msg` becomes `message_field`) |
 * | `err` (pino's `errorKey`)                   | `event_data.err` = `{ type, message, stack, ...own fields, cause }`; pino's flattened `caused by:` chain is split back into nested `cause` objects |
 * | `event_type` or `eventType` (line or bindings), a MADSci type in any case | `event_type`; default `log_<level>`; an unknown type stays in `event_data.event_type` |
 * | `node_id`, `workflow_id`, … (the 10 ownership fields) with a ULID value, or a `source` object of them | `source` (over the transport's `source` option); non-ULID values stay in `event_data` |
 * | `alert: true` / `false`                     | `alert`; any other value stays in `event_data.alert`                |
 * | `event_id` (a string)                       | `event_id` (so a re-sent line is stored once); else a new ULID      |
 * | `trace_id`, `span_id` (strings)             | `trace_id`, `span_id`                                               |
 * | `pid`, `hostname`                           | `event_data.pid`, `event_data.hostname` (`keepPinoFields: false` drops them) |
 */

export interface LineMapOptions {
  /** pino's level labels by number (from the pino config the transport receives). */
  labels?: Record<number, string>
  messageKey?: string
  errorKey?: string
  timestampMode: TimestampMode
  keepPinoFields: boolean
  /** Ownership of every event (the transport's `source` option). */
  source: OwnershipInfo
}

const OWNERSHIP = new Set<string>(OWNERSHIP_FIELDS)
const ULID_LIKE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i
/** pino's epoch-millisecond times are all above this; a smaller number is seconds (`stdTimeFunctions.unixTime`). */
const SECONDS_BELOW = 1e11

/** The MADSci level of a line: by pino's label when known, else by number. */
export function lineLevel(line: Record<string, unknown>, labels: Record<number, string> | undefined): EventLogLevel {
  const raw = line.level
  if (typeof raw === 'number') return pinoToMadsciLevel(raw, labels?.[raw])
  if (typeof raw === 'string') return pinoToMadsciLevel(Number(raw) || 30, raw)
  return 20
}

function lineTimestamp(time: unknown, mode: TimestampMode): string {
  if (typeof time === 'number' && Number.isFinite(time)) {
    const ms = Math.abs(time) < SECONDS_BELOW ? time * 1000 : time
    return formatMicros(Math.round(ms * 1000), mode)
  }
  if (typeof time === 'string') {
    const p = parseTimestamp(time)
    if (!isTimestampProblem(p)) return p.text
  }
  return formatMicros(Date.now() * 1000, mode)
}

/** `Type: message` (the header of a stack section) → its parts. */
function splitHeader(header: string): { type: string; message: string } {
  const i = header.indexOf(': ')
  return i < 0 ? { type: header.trim() || 'Error', message: '' } : { type: header.slice(0, i), message: header.slice(i + 2) }
}

/** A stack section's header: the lines before the first `    at ...` frame. */
function stackHeader(section: string): string {
  const m = /\n\s+at /.exec(section)
  return m ? section.slice(0, m.index) : section
}

/**
 * An error as pino serialized it, in the shape `createEventLogger()` gives errors:
 * `{ type, message, stack, ...own fields, cause }`. pino's default serializer flattens the cause
 * chain into `message` ("outer: inner") and `stack` ("…\ncaused by: TypeError: inner…"); that
 * chain is split back into nested `cause` objects, and `message` is the error's own again.
 */
export function normalizeError(value: unknown, depth = 0): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value) || depth > 8) return value
  const e = value as Record<string, unknown>
  const out: Record<string, unknown> = { type: e.type ?? e.name ?? 'Error', message: e.message, stack: e.stack }
  for (const [k, v] of Object.entries(e)) if (!(k in out) && k !== 'cause' && k !== 'name') out[k] = v
  if (e.cause !== undefined) out.cause = normalizeError(e.cause, depth + 1)
  else if (typeof e.stack === 'string' && e.stack.includes('\ncaused by: ')) {
    const [own, ...causes] = e.stack.split('\ncaused by: ')
    out.stack = own
    const chain = causes.map((section) => ({ ...splitHeader(stackHeader(section)), stack: section }))
    // pino's message is "own: cause1: cause2…"; strip the causes' messages to get the error's own.
    const suffix = chain.map((c) => c.message).join(': ')
    if (typeof e.message === 'string' && suffix && e.message.endsWith(`: ${suffix}`)) out.message = e.message.slice(0, -(suffix.length + 2))
    let cause: Record<string, unknown> | undefined
    for (let i = chain.length - 1; i >= 0; i--) {
      const c: Record<string, unknown> = { type: chain[i].type, message: chain[i].message, stack: chain[i].stack }
      if (cause) c.cause = cause
      cause = c
    }
    out.cause = cause
  }
  return out
}

/** Map one parsed pino line (its MADSci level already computed by `lineLevel`). */
export function mapPinoLine(line: Record<string, unknown>, o: LineMapOptions, level: EventLogLevel = lineLevel(line, o.labels)): LoggedEvent {
  const messageKey = o.messageKey ?? 'msg'
  const errorKey = o.errorKey ?? 'err'
  const data: Record<string, unknown> = {}
  if (line[messageKey] !== undefined) data.message = line[messageKey]

  let type: EventType = logTypeForLevel(level)
  let source: OwnershipInfo | undefined
  const setSource = (field: string, value: unknown): boolean => {
    if (OWNERSHIP.has(field) && typeof value === 'string' && ULID_LIKE.test(value)) {
      ;(source ??= { ...o.source })[field as keyof OwnershipInfo] = value
      return true
    }
    return false
  }
  let typeTaken = false
  let alert = false
  let traceId: string | null = null
  let spanId: string | null = null
  let id: string | undefined

  for (const key of Object.keys(line)) {
    const v = line[key]
    switch (key) {
      case messageKey:
      case 'level':
      case 'time':
        continue
      case 'event_type':
      case 'eventType': {
        const t = typeof v === 'string' ? parseEventType(v) : undefined
        // `event_type` wins over `eventType` when a line has both.
        if (t && (!typeTaken || key === 'event_type')) {
          type = t
          typeTaken = true
        } else if (!t) data[key] = v
        continue
      }
      case 'alert':
        if (typeof v === 'boolean') alert = v
        else data.alert = v
        continue
      case 'source':
        if (v && typeof v === 'object' && !Array.isArray(v)) {
          const rest: Record<string, unknown> = {}
          for (const [k, sv] of Object.entries(v as Record<string, unknown>)) if (!setSource(k, sv)) rest[k] = sv
          if (Object.keys(rest).length) data.source = rest
        } else data.source = v
        continue
      case 'event_id':
        if (typeof v === 'string' && v) id = v
        else data.event_id = v
        continue
      case 'trace_id':
      case 'span_id':
        if (typeof v === 'string') {
          if (key === 'trace_id') traceId = v
          else spanId = v
        } else data[key] = v
        continue
      case 'pid':
      case 'hostname':
        if (o.keepPinoFields) data[key] = v
        continue
    }
    if (setSource(key, v)) continue
    // A `message` field next to pino's message: pino's message stays `message`, the field is kept beside it.
    if (key === 'message' && 'message' in data) data.message_field = v
    else data[key] = key === errorKey ? normalizeError(v) : v
  }

  const ordered: OwnershipInfo = {}
  const src = source ?? o.source
  for (const f of OWNERSHIP_FIELDS) if (src[f] !== undefined) ordered[f] = src[f]
  return new LoggedEvent(id ?? newUlid(), type, level, alert, lineTimestamp(line.time, o.timestampMode), ordered, safeJsonStringify(data), traceId, spanId)
}

/** A line that is not JSON (e.g. from a pipeline stage that formats text): an INFO event with the text as its message. */
export function mapTextLine(text: string, o: LineMapOptions): LoggedEvent {
  const ordered: OwnershipInfo = {}
  for (const f of OWNERSHIP_FIELDS) if (o.source[f] !== undefined) ordered[f] = o.source[f]
  return new LoggedEvent(newUlid(), 'log_info', 20, false, formatMicros(Date.now() * 1000, o.timestampMode), ordered, safeJsonStringify({ message: text, unparsed_line: true }), null, null)
}
