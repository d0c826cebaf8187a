/**
 * Timestamps as MADSci puts them on the wire: pydantic's rendering of a Python `datetime`.
 *
 * - naive: `2026-04-09T14:47:11.123456` (the fraction is left out when the microseconds are 0);
 * - UTC:   `2026-04-09T14:47:11.123456Z`;
 * - other offsets: `2026-04-09T14:47:11.123456+02:00`.
 *
 * A JS `Date` keeps milliseconds only and would break Python round trips, so timestamps stay
 * strings end to end: input is validated and rendered in exactly the form pydantic would render
 * it (canonical input comes back byte-identical), and `timestampMicros()` gives a sortable number
 * when one is needed.
 */

export type TimestampMode = 'local' | 'utc'

// ---------------------------------------------------------------- generation

// Wall-clock microseconds come from performance.now() anchored to Date.now(); the anchor is
// re-checked whenever the second changes, so NTP steps are followed within a second.
let anchorMs = Date.now() - performance.now()
let cachedSecond = Number.NaN
let cachedLocal = ''
let cachedUtc = ''

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n)
}
function pad4(n: number): string {
  return n < 10 ? '000' + n : n < 100 ? '00' + n : n < 1000 ? '0' + n : String(n)
}
function pad6(n: number): string {
  const s = String(n)
  return '000000'.slice(s.length) + s
}

/** Microseconds since the Unix epoch, wall clock. */
export function nowMicros(): number {
  return Math.floor((anchorMs + performance.now()) * 1000)
}

function secondPrefix(second: number, mode: TimestampMode): string {
  if (second !== cachedSecond) {
    const wall = Date.now()
    const ours = anchorMs + performance.now()
    if (Math.abs(wall - ours) > 1) anchorMs = wall - performance.now()
    cachedSecond = second
    const d = new Date(second * 1000)
    cachedLocal = `${pad4(d.getFullYear())}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
    cachedUtc = `${pad4(d.getUTCFullYear())}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
  }
  return mode === 'utc' ? cachedUtc : cachedLocal
}

/**
 * Render epoch microseconds as Python would: `local` gives naive local wall time (what Python's
 * `datetime.now()` and MADSci's EventClient produce), `utc` gives UTC with a `Z`.
 */
export function formatMicros(micros: number, mode: TimestampMode = 'local'): string {
  const second = Math.floor(micros / 1e6)
  const frac = micros - second * 1e6
  const prefix = secondPrefix(second, mode)
  const body = frac === 0 ? prefix : prefix + '.' + pad6(frac)
  return mode === 'utc' ? body + 'Z' : body
}

/** The current time as a MADSci timestamp string. */
export function nowTimestamp(mode: TimestampMode = 'local'): string {
  return formatMicros(nowMicros(), mode)
}

/** Naive UTC ISO with microseconds, as Python's `datetime.utcnow().isoformat()` (used for archived_at reads). */
export function formatDateNaiveUtc(date: Date): string {
  const ms = date.getTime()
  const d = new Date(ms)
  const frac = (((ms % 1000) + 1000) % 1000) * 1000
  const prefix = `${pad4(d.getUTCFullYear())}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
  return frac === 0 ? prefix : `${prefix}.${pad6(frac)}`
}

// ---------------------------------------------------------------- parsing

export interface ParsedTimestamp {
  /** The canonical string pydantic would render for this input. */
  text: string
  /** Microseconds since the epoch; a naive time is read as UTC (as MADSci's analyzers do). */
  micros: number
  /** Offset in minutes east of UTC, or `null` for a naive time. */
  offsetMinutes: number | null
}

/** Why a timestamp failed to parse, in pydantic's words. */
export interface TimestampProblem {
  type: string
  msg: string
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt _](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$/

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

function render(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  us: number,
  offset: number | null,
): string {
  let out = `${pad4(y)}-${pad2(mo)}-${pad2(d)}T${pad2(h)}:${pad2(mi)}:${pad2(s)}`
  if (us !== 0) out += '.' + pad6(us)
  if (offset === null) return out
  if (offset === 0) return out + 'Z'
  const sign = offset < 0 ? '-' : '+'
  const abs = Math.abs(offset)
  return `${out}${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`
}

/** Unix times pydantic accepts: years 1 to 9999 (beyond, `new Date` gives `NaN-…` or 5-digit years, which sort wrongly as text). */
const MIN_EPOCH_MS = -62_135_596_800_000
const MAX_EPOCH_MS = 253_402_300_799_999

function fromEpochSeconds(seconds: number, fromString = false): ParsedTimestamp | TimestampProblem {
  const micros = Math.round(seconds * 1e6)
  const ms = Math.floor(micros / 1000)
  if (!(ms >= MIN_EPOCH_MS && ms <= MAX_EPOCH_MS)) {
    const why = ms > MAX_EPOCH_MS ? 'dates after 9999 are not supported as unix timestamps' : 'dates before 0000 are not supported as unix timestamps'
    return fromString
      ? { type: 'datetime_from_date_parsing', msg: `Input should be a valid datetime or date, ${why}` }
      : { type: 'datetime_parsing', msg: `Input should be a valid datetime, ${why}` }
  }
  const d = new Date(ms)
  const us = micros - Math.floor(micros / 1e6) * 1e6
  return {
    text: render(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), us, 0),
    micros,
    offsetMinutes: 0,
  }
}

/**
 * Parse a datetime the way pydantic v2 (lax mode) does for a `datetime` field:
 * ISO 8601 strings (`T`, `t`, `_` or space between date and time; up to 9 fraction digits, kept to
 * microseconds; `Z` or `±HH[:MM]`), a date alone (midnight), or a Unix time as a number or a
 * numeric string (seconds, or milliseconds when larger than 2×10^10) which becomes UTC.
 */
export function parseTimestamp(input: unknown): ParsedTimestamp | TimestampProblem {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { type: 'datetime_parsing', msg: 'Input should be a valid datetime, NaN values not permitted' }
    return fromEpochSeconds(Math.abs(input) > 2e10 ? input / 1000 : input)
  }
  if (input instanceof Date) {
    const ms = input.getTime()
    if (Number.isNaN(ms)) return { type: 'datetime_type', msg: 'Input should be a valid datetime' }
    return fromEpochSeconds(ms / 1000)
  }
  if (typeof input !== 'string') return { type: 'datetime_type', msg: 'Input should be a valid datetime' }
  const str = input.trim()
  if (/^-?\d+(\.\d+)?$/.test(str)) {
    const n = Number(str)
    return fromEpochSeconds(Math.abs(n) > 2e10 ? n / 1000 : n, true)
  }
  const m = ISO_RE.exec(str)
  if (!m) {
    return {
      type: 'datetime_from_date_parsing',
      msg: 'Input should be a valid datetime or date, expected an ISO 8601 string like 2026-04-09T14:47:11.123456',
    }
  }
  const y = Number(m[1])
  const mo = Number(m[2])
  const d = Number(m[3])
  const h = m[4] === undefined ? 0 : Number(m[4])
  const mi = m[5] === undefined ? 0 : Number(m[5])
  const s = m[6] === undefined ? 0 : Number(m[6])
  const us = m[7] === undefined ? 0 : Number(m[7].slice(0, 6).padEnd(6, '0'))
  if (mo < 1 || mo > 12) return { type: 'datetime_from_date_parsing', msg: 'Input should be a valid datetime or date, month value is outside expected range of 1-12' }
  if (d < 1 || d > daysInMonth(y, mo)) return { type: 'datetime_from_date_parsing', msg: 'Input should be a valid datetime or date, day value is outside expected range' }
  if (h > 23) return { type: 'datetime_parsing', msg: 'Input should be a valid datetime, hour value is outside expected range of 0-23' }
  if (mi > 59) return { type: 'datetime_parsing', msg: 'Input should be a valid datetime, minute value is outside expected range of 0-59' }
  if (s > 59) return { type: 'datetime_parsing', msg: 'Input should be a valid datetime, second value is outside expected range of 0-59' }
  if (y < 1) return { type: 'datetime_from_date_parsing', msg: 'Input should be a valid datetime or date, year 0 is out of range' }
  let offset: number | null = null
  const tz = m[8]
  if (tz !== undefined) {
    if (tz === 'Z' || tz === 'z') offset = 0
    else {
      const sign = tz[0] === '-' ? -1 : 1
      const digits = tz.slice(1).replace(':', '')
      const oh = Number(digits.slice(0, 2))
      const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0
      if (oh > 23 || om > 59) return { type: 'datetime_parsing', msg: 'Input should be a valid datetime, timezone offset must be less than 24 hours' }
      offset = sign * (oh * 60 + om)
    }
  }
  // Date.UTC maps years 0-99 to 1900+; setUTCFullYear does not.
  const date = new Date(0)
  date.setUTCFullYear(y, mo - 1, d)
  date.setUTCHours(h, mi, s, 0)
  const utcMs = date.getTime() - (offset ?? 0) * 60000
  return { text: render(y, mo, d, h, mi, s, us, offset), micros: utcMs * 1000 + us, offsetMinutes: offset }
}

export function isTimestampProblem(value: ParsedTimestamp | TimestampProblem): value is TimestampProblem {
  return (value as TimestampProblem).msg !== undefined
}

/** Sortable microseconds for a timestamp string (naive read as UTC), or `NaN` when it does not parse. */
export function timestampMicros(text: string): number {
  const p = parseTimestamp(text)
  return isTimestampProblem(p) ? Number.NaN : p.micros
}
