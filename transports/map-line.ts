import { safeJsonStringify } from '../src/event/json-safe.js'
import { type EventLogLevel, logTypeForLevel, pinoToMadsciLevel } from '../src/event/levels.js'
import { OWNERSHIP_FIELDS, type OwnershipInfo } from '../src/event/model.js'
import { formatMicros, isTimestampProblem, parseTimestamp, type TimestampMode } from '../src/event/timestamp.js'
import { type EventType, parseEventType } from '../src/event/types.js'
import { newUlid } from '../src/event/ulid.js'
import { LoggedEvent } from '../src/pipeline/record.js'

/**
 * A pino line → a MADSci Event (documented as a table in the README):
 *
 * | pino                                   | MADSci Event                                                  |
 * |----------------------------------------|---------------------------------------------------------------|
 * | `level` (by label: trace, debug → DEBUG, info → INFO, warn → WARNING, error → ERROR, fatal → CRITICAL; custom: nearest lower) | `log_level` |
 * | `time` (epoch ms, or an ISO string)    | `event_timestamp` (`timestamps`: naive local or UTC)          |
 * | `msg`                                  | `event_data.message`                                          |
 * | every other field (bindings included)  | `event_data.<field>`                                          |
 * | `err`                                  | `event_data.err` `{ type, message, stack, cause? }`           |
 * | `event_type` or `eventType`            | `event_type` (else `log_<level>`)                             |
 * | `node_id`, `workflow_id`, ... (ULIDs) or `source: {...}` | `source`                                    |
 * | `alert: true`                          | `alert`                                                       |
 * | `event_id` (a string)                  | `event_id` (else a new ULID)                                  |
 * | `trace_id`, `span_id`                  | `trace_id`, `span_id`                                         |
 * | `pid`, `hostname`                      | `event_data.pid`, `event_data.hostname` (`keepPinoFields: false` drops them) |
 */

export interface LineMapOptions {
  /** pino's level labels by number (from the pino config the transport receives). */
  labels?: Record<number, string>
  messageKey?: string
  errorKey?: string
  timestampMode: TimestampMode
  keepPinoFields: boolean
  source: OwnershipInfo
}

const OWNERSHIP = new Set<string>(OWNERSHIP_FIELDS)
const ULID_LIKE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i
const LIFTED = new Set(['level', 'time', 'event_type', 'eventType', 'alert', 'source', 'event_id', 'trace_id', 'span_id'])

function normalizeError(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value
  const e = value as Record<string, unknown>
  // pino's err serializer gives { type, message, stack, ...own props }; keep that shape, cause included.
  const out: Record<string, unknown> = { type: e.type ?? e.name ?? 'Error', message: e.message, stack: e.stack }
  for (const [k, v] of Object.entries(e)) if (!(k in out)) out[k] = k === 'cause' ? normalizeError(v) : v
  return out
}

/** Map one parsed pino line. `minLevel`-filtering is the caller's. */
export function mapPinoLine(line: Record<string, unknown>, o: LineMapOptions): LoggedEvent {
  const rawLevel = typeof line.level === 'number' ? line.level : 30
  const label = o.labels?.[rawLevel] ?? (typeof line.level === 'string' ? line.level : undefined)
  const level: EventLogLevel = typeof line.level === 'string' ? pinoToMadsciLevel(30, line.level) : pinoToMadsciLevel(rawLevel, label)

  let timestamp: string
  if (typeof line.time === 'number' && Number.isFinite(line.time)) timestamp = formatMicros(Math.round(line.time * 1000), o.timestampMode)
  else if (typeof line.time === 'string') {
    const p = parseTimestamp(line.time)
    timestamp = isTimestampProblem(p) ? formatMicros(Date.now() * 1000, o.timestampMode) : p.text
  } else timestamp = formatMicros(Date.now() * 1000, o.timestampMode)

  let type: EventType = logTypeForLevel(level)
  const rawType = line.event_type ?? line.eventType
  const data: Record<string, unknown> = {}
  if (rawType !== undefined) {
    const t = typeof rawType === 'string' ? parseEventType(rawType) : undefined
    if (t) type = t
    else data.event_type = rawType
  }

  const messageKey = o.messageKey ?? 'msg'
  const errorKey = o.errorKey ?? 'err'
  if (line[messageKey] !== undefined) data.message = line[messageKey]
  let source: OwnershipInfo | undefined
  const setSource = (field: string, value: unknown): boolean => {
    if (OWNERSHIP.has(field) && typeof value === 'string' && ULID_LIKE.test(value)) {
      ;(source ??= { ...o.source })[field as keyof OwnershipInfo] = value
      return true
    }
    return false
  }
  if (line.source && typeof line.source === 'object' && !Array.isArray(line.source)) {
    const rejected: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(line.source as Record<string, unknown>)) if (!setSource(k, v)) rejected[k] = v
    if (Object.keys(rejected).length) data.source = rejected
  }
  for (const key of Object.keys(line)) {
    if (key === messageKey || LIFTED.has(key)) continue
    const v = line[key]
    if (!o.keepPinoFields && (key === 'pid' || key === 'hostname')) continue
    if (setSource(key, v)) continue
    data[key] = key === errorKey ? normalizeError(v) : v
  }

  const id = typeof line.event_id === 'string' && line.event_id ? line.event_id : newUlid()
  const ordered: OwnershipInfo = {}
  const src = source ?? o.source
  for (const f of OWNERSHIP_FIELDS) if (src[f] !== undefined) ordered[f] = src[f]
  return new LoggedEvent(
    id,
    type,
    level,
    line.alert === true,
    timestamp,
    ordered,
    safeJsonStringify(data),
    typeof line.trace_id === 'string' ? line.trace_id : null,
    typeof line.span_id === 'string' ? line.span_id : null,
  )
}
