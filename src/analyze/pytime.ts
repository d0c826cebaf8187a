/**
 * Times as the MADSci analyzers handle them: naive UTC datetimes with microseconds, held here as
 * integer microseconds since the Unix epoch (exact in a double for years 1685..2255), plus the
 * Python renderings the reports print and CPython 3.11's `datetime.fromisoformat` for the route
 * parameters (so bad input gets Python's exact error text).
 */

import { pyReprString } from './pynum.js'

export const US_PER_SECOND = 1_000_000
export const US_PER_MINUTE = 60 * US_PER_SECOND
export const US_PER_HOUR = 60 * US_PER_MINUTE
export const US_PER_DAY = 24 * US_PER_HOUR

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

/** Calendar fields of a microsecond instant read in UTC. */
export interface CivilTime {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
  micro: number
}

export function civilFromMicros(micros: number): CivilTime {
  const ms = Math.floor(micros / 1000)
  const d = new Date(ms)
  const micro = micros - Math.floor(micros / US_PER_SECOND) * US_PER_SECOND
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    micro,
  }
}

export function microsFromCivil(c: CivilTime): number {
  const d = new Date(0)
  d.setUTCFullYear(c.year, c.month - 1, c.day)
  d.setUTCHours(c.hour, c.minute, c.second, 0)
  return d.getTime() * 1000 + c.micro
}

function isoBody(c: CivilTime, sep: string): string {
  const base = `${pad(c.year, 4)}-${pad(c.month, 2)}-${pad(c.day, 2)}${sep}${pad(c.hour, 2)}:${pad(c.minute, 2)}:${pad(c.second, 2)}`
  return c.micro === 0 ? base : `${base}.${pad(c.micro, 6)}`
}

/** Python `naive_datetime.isoformat()`: `2026-04-09T14:47:11[.123456]`. */
export function isoNaive(micros: number): string {
  return isoBody(civilFromMicros(micros), 'T')
}

/** Python `datetime.now(timezone.utc).isoformat()`: `2026-04-09T14:47:11.123456+00:00`. */
export function isoUtcAware(micros: number): string {
  return isoNaive(micros) + '+00:00'
}

/** Python `str(naive_datetime)`: `2026-04-09 14:47:11[.123456]` (used in error details). */
export function pyStrDatetime(micros: number): string {
  return isoBody(civilFromMicros(micros), ' ')
}

/** Seconds between two instants as Python's `timedelta.total_seconds()` (exact, then one rounding). */
export function seconds(fromMicros: number, toMicros: number): number {
  return (toMicros - fromMicros) / US_PER_SECOND
}

/** Python's `int(naive_dt.timestamp())`, with the naive value read as UTC (see README). */
export function unixSeconds(micros: number): number {
  return Math.trunc(micros / US_PER_SECOND)
}

// ------------------------------------------------------------------ fromisoformat (CPython 3.11)

/** A `ValueError` as Python would raise it; `message` is `str(e)`. */
export class PyValueError extends Error {
  override name = 'PyValueError'
}

/** The result of `datetime.fromisoformat`: wall-clock fields and the offset (null when naive). */
export interface PyDatetime {
  /** The wall time read as if it were UTC, in microseconds. */
  wallMicros: number
  /** Offset east of UTC in microseconds, or `null` for a naive datetime. */
  offsetMicros: number | null
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9'

function digits(s: string): number {
  if (!/^\d+$/.test(s)) throw new PyValueError('not digits')
  return Number(s)
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
}

function daysIn(y: number, m: number): number {
  return [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
}

function findSeparator(s: string): number {
  const n = s.length
  if (n === 7) return 7
  if (s[4] === '-') {
    if (s[5] === 'W') {
      if (n > 8 && s[8] === '-') {
        if (n === 9) throw new PyValueError('Invalid ISO string')
        if (n > 10 && isDigit(s[10])) return 8
        return 10
      }
      return 8
    }
    return 10
  }
  if (s[4] === 'W') {
    let idx = 7
    while (idx < n && isDigit(s[idx])) idx++
    if (idx < 9) return idx
    return idx % 2 === 0 ? 7 : 8
  }
  return 8
}

function isoWeekToDate(year: number, week: number, day: number): [number, number, number] {
  if (year < 1 || year > 9999) throw new PyValueError(`Year is out of range: ${year}`)
  const jan1 = new Date(0)
  jan1.setUTCFullYear(year, 0, 1)
  const jan1Weekday = (jan1.getUTCDay() + 6) % 7 // Monday 0
  if (!(week > 0 && week < 53)) {
    const firstWeekday = jan1Weekday + 1 // ISO 1..7
    const ok = week === 53 && (firstWeekday === 4 || (firstWeekday === 3 && isLeap(year)))
    if (!ok) throw new PyValueError(`Invalid week: ${week}`)
  }
  if (!(day > 0 && day < 8)) throw new PyValueError(`Invalid weekday: ${day} (range is [1, 7])`)
  // Monday of ISO week 1: the Monday on or before Jan 4.
  const jan4 = new Date(0)
  jan4.setUTCFullYear(year, 0, 4)
  const mondayMs = jan4.getTime() - ((jan4.getUTCDay() + 6) % 7) * 86_400_000
  const d = new Date(mondayMs + ((week - 1) * 7 + (day - 1)) * 86_400_000)
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()]
}

function parseDate(s: string): [number, number, number] {
  if (![7, 8, 10].includes(s.length)) throw new PyValueError('bad date length')
  const year = digits(s.slice(0, 4))
  const hasSep = s[4] === '-'
  let pos = 4 + (hasSep ? 1 : 0)
  if (s[pos] === 'W') {
    pos += 1
    const week = digits(s.slice(pos, pos + 2))
    pos += 2
    let day = 1
    if (s.length > pos) {
      if ((s[pos] === '-') !== hasSep) throw new PyValueError('Inconsistent use of dash separator')
      pos += hasSep ? 1 : 0
      day = digits(s.slice(pos, pos + 1))
      if (pos + 1 !== s.length) throw new PyValueError('trailing')
    }
    return isoWeekToDate(year, week, day)
  }
  const month = digits(s.slice(pos, pos + 2))
  pos += 2
  if ((s[pos] === '-') !== hasSep) throw new PyValueError('Inconsistent use of dash separator')
  pos += hasSep ? 1 : 0
  const daySlice = s.slice(pos, pos + 2)
  if (daySlice.length !== 2 || pos + 2 !== s.length) throw new PyValueError('bad day')
  return [year, month, digits(daySlice)]
}

const FRACTION_CORRECTION = [100000, 10000, 1000, 100, 10]

function parseHhMmSsFf(t: string): [number, number, number, number] {
  const comps: [number, number, number, number] = [0, 0, 0, 0]
  let pos = 0
  let hasSep = false
  for (let comp = 0; comp < 3; comp++) {
    if (t.length - pos < 2) throw new PyValueError('Incomplete time component')
    comps[comp] = digits(t.slice(pos, pos + 2))
    pos += 2
    const next = t[pos]
    if (comp === 0) hasSep = next === ':'
    if (next === undefined || comp >= 2) break
    if (hasSep && next !== ':') throw new PyValueError(`Invalid time separator: ${next}`)
    pos += hasSep ? 1 : 0
  }
  if (pos < t.length) {
    if (t[pos] !== '.' && t[pos] !== ',') throw new PyValueError('Invalid microsecond component')
    pos += 1
    const remainder = t.length - pos
    if (remainder === 0) throw new PyValueError('empty fraction')
    const take = Math.min(remainder, 6)
    comps[3] = digits(t.slice(pos, pos + take))
    if (take < 6) comps[3] *= FRACTION_CORRECTION[take - 1]
    if (remainder > take && !/^\d+$/.test(t.slice(pos + take))) throw new PyValueError('Non-digit values in unparsed fraction')
  }
  return comps
}

/** Python's `repr(timedelta)` for an offset (in the "offset must be … strictly between" error). */
function reprTimedelta(us: number): string {
  const days = Math.floor(us / US_PER_DAY)
  const rest = us - days * US_PER_DAY
  const secs = Math.floor(rest / US_PER_SECOND)
  const micro = rest - secs * US_PER_SECOND
  const parts: string[] = []
  if (days) parts.push(`days=${days}`)
  if (secs) parts.push(`seconds=${secs}`)
  if (micro) parts.push(`microseconds=${micro}`)
  return `datetime.timedelta(${parts.length ? parts.join(', ') : '0'})`
}

function parseTime(t: string, whole: string): { hms: [number, number, number, number]; offset: number | null } {
  if (t.length < 2) throw new PyValueError('Isoformat time too short')
  let tzPos = -1
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '+' || t[i] === '-' || t[i] === 'Z') {
      tzPos = i
      break
    }
  }
  let timeStr = tzPos >= 0 ? t.slice(0, tzPos) : t
  // CPython's C parser accepts one space between the time and the offset.
  if (tzPos >= 0 && timeStr.endsWith(' ') && !timeStr.endsWith('  ')) timeStr = timeStr.slice(0, -1)
  const hms = parseHhMmSsFf(timeStr)
  if (tzPos < 0) return { hms, offset: null }
  if (t[tzPos] === 'Z') {
    if (tzPos !== t.length - 1) throw new PyValueError('Z not at end')
    return { hms, offset: 0 }
  }
  const tz = t.slice(tzPos + 1)
  if ([0, 1, 3].includes(tz.length)) throw new PyValueError('Malformed time zone string')
  const tzc = parseHhMmSsFf(tz)
  const sign = t[tzPos] === '-' ? -1 : 1
  const magnitude = tzc[0] * US_PER_HOUR + tzc[1] * US_PER_MINUTE + tzc[2] * US_PER_SECOND + tzc[3]
  const offset = magnitude === 0 ? 0 : sign * magnitude
  if (Math.abs(offset) >= US_PER_DAY) {
    throw new PyValueError(
      `offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not ${reprTimedelta(offset)}.`,
      { cause: whole },
    )
  }
  return { hms, offset }
}

/**
 * CPython 3.11 `datetime.fromisoformat(s)`. Throws `PyValueError` with Python's message
 * (`Invalid isoformat string: '…'`, `month must be in 1..12`, …).
 */
export function pyFromIsoformat(s: string): PyDatetime {
  const invalid = (): PyValueError => new PyValueError(`Invalid isoformat string: ${pyReprString(s)}`)
  if (s.length < 7) throw invalid()
  let date: [number, number, number]
  let tstr: string
  try {
    const sep = findSeparator(s)
    date = parseDate(s.slice(0, sep))
    tstr = s.slice(sep + 1)
  } catch {
    throw invalid()
  }
  let hms: [number, number, number, number] = [0, 0, 0, 0]
  let offset: number | null = null
  if (tstr) {
    try {
      ;({ hms, offset } = parseTime(tstr, s))
    } catch (err) {
      if (err instanceof PyValueError && err.message.startsWith('offset must be')) throw err
      throw invalid()
    }
  }
  const [year, month, day] = date
  if (year < 1 || year > 9999) throw new PyValueError(`year ${year} is out of range`)
  if (month < 1 || month > 12) throw new PyValueError('month must be in 1..12')
  if (day < 1 || day > daysIn(year, month)) throw new PyValueError('day is out of range for month')
  const [hour, minute, second, micro] = hms
  if (hour > 23) throw new PyValueError('hour must be in 0..23')
  if (minute > 59) throw new PyValueError('minute must be in 0..59')
  if (second > 59) throw new PyValueError('second must be in 0..59')
  return { wallMicros: microsFromCivil({ year, month, day, hour, minute, second, micro }), offsetMicros: offset }
}
