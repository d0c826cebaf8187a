import { EventValidationError, type ValidationIssue } from '../errors.js'
import { parseLevel } from './levels.js'
import { type Event, OWNERSHIP_FIELDS, type OwnershipInfo } from './model.js'
import { isTimestampProblem, nowTimestamp, parseTimestamp, type TimestampMode } from './timestamp.js'
import { EVENT_TYPES, parseEventType } from './types.js'
import { newUlid } from './ulid.js'

/**
 * Turning unknown input into a MADSci `Event`, lenient exactly where the Python model is lenient:
 *
 * - `_id` or `event_id`; any string, or a number (rendered as Python's `str()` would), is kept;
 * - `event_type` case-insensitively; `log_level` as one of the six numbers or a level name in any
 *   case, optionally prefixed `EventLogLevel.`;
 * - booleans as pydantic's lax mode reads them (`true`, `1`, `"yes"`, `"off"`, ...);
 * - timestamps as pydantic reads datetimes, rendered back in pydantic's canonical form;
 * - every non-null `source` value must be a ULID; unknown `source` and top-level keys are dropped.
 *
 * Every problem is collected, then one `EventValidationError` lists them all.
 */

export interface ParseEventOptions {
  /** `source` used when the input has none (the caller's ownership). Default `{}`. */
  defaultSource?: OwnershipInfo
  /** How a missing `event_timestamp` is generated. Default `'local'` (naive local time, as Python). */
  timestampMode?: TimestampMode
}

const TYPE_LIST = EVENT_TYPES.map((t) => `'${t}'`)
const EXPECTED_TYPES = `${TYPE_LIST.slice(0, -1).join(', ')} or ${TYPE_LIST[TYPE_LIST.length - 1]}`
const EXPECTED_LEVELS = '0, 10, 20, 30, 40 or 50'

const TRUE_STRINGS = new Set(['1', 'on', 't', 'true', 'y', 'yes'])
const FALSE_STRINGS = new Set(['0', 'off', 'f', 'false', 'n', 'no'])

// Crockford base32 as python-ulid decodes it; the first character bounds the 48-bit time.
const ULID_LIKE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k)

/** Python's `str()` of a JSON number. */
export function pythonNumberString(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n)
  if (Number.isInteger(n)) return String(BigInt(n))
  const r = String(n)
  const m = /^(-?[\d.]+)e([+-])(\d+)$/.exec(r)
  if (m) return `${m[1]}e${m[2]}${m[3].padStart(2, '0')}`
  return r
}

function parseBool(value: unknown, loc: string, issues: ValidationIssue[]): boolean | undefined {
  if (typeof value === 'boolean') return value
  if (typeof value === 'number') {
    if (value === 1) return true
    if (value === 0) return false
    issues.push({ type: 'bool_parsing', loc: [loc], msg: 'Input should be a valid boolean, unable to interpret input', input: value })
    return undefined
  }
  if (typeof value === 'string') {
    const s = value.toLowerCase()
    if (TRUE_STRINGS.has(s)) return true
    if (FALSE_STRINGS.has(s)) return false
    issues.push({ type: 'bool_parsing', loc: [loc], msg: 'Input should be a valid boolean, unable to interpret input', input: value })
    return undefined
  }
  issues.push({ type: 'bool_type', loc: [loc], msg: 'Input should be a valid boolean', input: value })
  return undefined
}

function parseOptionalString(value: unknown, loc: string, issues: ValidationIssue[]): string | null | undefined {
  if (value === null || typeof value === 'string') return value
  issues.push({ type: 'string_type', loc: [loc], msg: 'Input should be a valid string', input: value })
  return undefined
}

/** Validate a `source` object (OwnershipInfo); issues are reported under `loc`. */
export function parseOwnership(value: unknown, loc: Array<string | number>, issues: ValidationIssue[]): OwnershipInfo {
  const out: OwnershipInfo = {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    issues.push({
      type: 'model_attributes_type',
      loc,
      msg: 'Input should be a valid dictionary or object to extract fields from',
      input: value,
    })
    return out
  }
  const obj = value as Record<string, unknown>
  for (const field of OWNERSHIP_FIELDS) {
    if (!hasOwn(obj, field)) continue
    const v = obj[field]
    if (v === null || v === undefined) continue
    if (typeof v !== 'string') {
      issues.push({ type: 'string_type', loc: [...loc, field], msg: 'Input should be a valid string', input: v })
      continue
    }
    if (!ULID_LIKE.test(v)) {
      issues.push({
        type: 'value_error',
        loc: [...loc, field],
        msg: `Value error, Invalid ULID: ${JSON.stringify(v)} (expected 26 Crockford base32 characters, e.g. 01JRB6Z6B1T3V7M9Q2W4E8R5TY)`,
        input: v,
        ctx: { error: 'invalid ULID' },
      })
      continue
    }
    out[field] = v
  }
  return out
}

/**
 * Validate unknown input as an Event; throws `EventValidationError` listing every bad field.
 * Missing fields get MADSci's defaults (a new ULID, `unknown`, INFO, now, `{}`...).
 */
export function parseEvent(input: unknown, options: ParseEventOptions = {}): Event {
  const issues: ValidationIssue[] = []
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new EventValidationError([
      {
        type: 'model_attributes_type',
        loc: [],
        msg: 'Input should be a valid dictionary or object to extract fields from',
        input,
      },
    ])
  }
  const obj = input as Record<string, unknown>

  // id: `_id` wins over `event_id`, as the alias does in the Python model.
  let eventId: string | undefined
  const rawId = hasOwn(obj, '_id') && obj._id !== undefined ? obj._id : obj.event_id
  if (rawId === undefined) eventId = undefined
  else if (typeof rawId === 'string') eventId = rawId
  else if (typeof rawId === 'number' && Number.isFinite(rawId)) eventId = pythonNumberString(rawId)
  else if (typeof rawId === 'boolean') eventId = rawId ? 'True' : 'False'
  else if (rawId === null) eventId = 'None'
  else issues.push({ type: 'string_type', loc: [hasOwn(obj, '_id') ? '_id' : 'event_id'], msg: 'Input should be a valid string', input: rawId })

  let eventType: Event['event_type'] = 'unknown'
  if (obj.event_type !== undefined) {
    const t = typeof obj.event_type === 'string' ? parseEventType(obj.event_type) : undefined
    if (t) eventType = t
    else
      issues.push({
        type: 'enum',
        loc: ['event_type'],
        msg: `Input should be ${EXPECTED_TYPES}`,
        input: obj.event_type,
        ctx: { expected: EXPECTED_TYPES },
      })
  }

  let logLevel: Event['log_level'] = 20
  if (obj.log_level !== undefined) {
    const l = parseLevel(obj.log_level)
    if (l !== undefined) logLevel = l
    else
      issues.push({
        type: 'enum',
        loc: ['log_level'],
        msg: `Input should be ${EXPECTED_LEVELS}`,
        input: obj.log_level,
        ctx: { expected: EXPECTED_LEVELS },
      })
  }

  const alert = obj.alert === undefined ? false : parseBool(obj.alert, 'alert', issues)
  const archived = obj.archived === undefined ? false : parseBool(obj.archived, 'archived', issues)

  let timestamp: string | undefined
  if (obj.event_timestamp === undefined) timestamp = nowTimestamp(options.timestampMode)
  else {
    const p = parseTimestamp(obj.event_timestamp)
    if (isTimestampProblem(p)) issues.push({ type: p.type, loc: ['event_timestamp'], msg: p.msg, input: obj.event_timestamp })
    else timestamp = p.text
  }

  let archivedAt: string | null = null
  if (obj.archived_at !== undefined && obj.archived_at !== null) {
    const p = parseTimestamp(obj.archived_at)
    if (isTimestampProblem(p)) issues.push({ type: p.type, loc: ['archived_at'], msg: p.msg, input: obj.archived_at })
    else archivedAt = p.text
  }

  const source =
    obj.source === undefined ? { ...(options.defaultSource ?? {}) } : parseOwnership(obj.source, ['source'], issues)

  const traceId = obj.trace_id === undefined ? null : parseOptionalString(obj.trace_id, 'trace_id', issues)
  const spanId = obj.span_id === undefined ? null : parseOptionalString(obj.span_id, 'span_id', issues)

  if (issues.length > 0) throw new EventValidationError(issues)

  return {
    event_id: eventId ?? newUlid(),
    event_type: eventType,
    log_level: logLevel,
    alert: alert as boolean,
    event_timestamp: timestamp as string,
    source,
    event_data: obj.event_data === undefined ? {} : obj.event_data,
    trace_id: traceId ?? null,
    span_id: spanId ?? null,
    archived: archived as boolean,
    archived_at: archivedAt,
  }
}

/** `parseEvent` that returns the error instead of throwing. */
export function safeParseEvent(
  input: unknown,
  options?: ParseEventOptions,
): { ok: true; event: Event } | { ok: false; error: EventValidationError } {
  try {
    return { ok: true, event: parseEvent(input, options) }
  } catch (err) {
    if (err instanceof EventValidationError) return { ok: false, error: err }
    throw err
  }
}
