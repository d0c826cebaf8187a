/**
 * IANA time zones with the platform's `Intl` data: instant → local wall time, and local wall time
 * → instant with Temporal's "compatible" rule (a time skipped by a DST jump moves forward by the
 * jump; a repeated time takes its first occurrence). No time-zone library: Node ships full ICU.
 */
import { civilFromMicros, microsFromCivil, type CivilTime } from './pytime.js'

export interface TimeZone {
  /** The IANA name actually used (`UTC` when the requested one was unknown). */
  readonly name: string
  /** True when the requested name was unknown and UTC is used instead (as upstream's pytz fallback). */
  readonly fellBack: boolean
  /** Offset east of UTC, in microseconds, at an instant. */
  offsetAt(utcMicros: number): number
  /** Local wall time of an instant. */
  toLocal(utcMicros: number): CivilTime
  /** The instant of a local wall time (compatible disambiguation). */
  toUtc(local: CivilTime): number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor(name: string): Intl.DateTimeFormat {
  let f = formatters.get(name)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    })
    formatters.set(name, f)
  }
  return f
}

/** Is `name` a time zone this platform knows? */
export function isKnownTimeZone(name: string): boolean {
  try {
    formatterFor(name)
    return true
  } catch {
    return false
  }
}

const DAY_MS = 86_400_000

class IntlTimeZone implements TimeZone {
  readonly name: string
  readonly fellBack: boolean
  readonly #fmt: Intl.DateTimeFormat
  readonly #utc: boolean

  constructor(name: string, fellBack: boolean) {
    this.name = name
    this.fellBack = fellBack
    this.#fmt = formatterFor(name)
    this.#utc = name === 'UTC'
  }

  /** Offset in milliseconds at a whole-second instant. */
  #offsetMs(ms: number): number {
    if (this.#utc) return 0
    const whole = Math.floor(ms / 1000) * 1000
    let year = 0
    let month = 1
    let day = 1
    let hour = 0
    let minute = 0
    let second = 0
    let bc = false
    for (const p of this.#fmt.formatToParts(new Date(whole))) {
      switch (p.type) {
        case 'year':
          year = Number(p.value)
          break
        case 'month':
          month = Number(p.value)
          break
        case 'day':
          day = Number(p.value)
          break
        case 'hour':
          hour = Number(p.value)
          break
        case 'minute':
          minute = Number(p.value)
          break
        case 'second':
          second = Number(p.value)
          break
        case 'era':
          bc = p.value === 'BC' || p.value === 'B'
          break
      }
    }
    const d = new Date(0)
    d.setUTCFullYear(bc ? 1 - year : year, month - 1, day)
    d.setUTCHours(hour, minute, second, 0)
    return d.getTime() - whole
  }

  offsetAt(utcMicros: number): number {
    return this.#offsetMs(Math.floor(utcMicros / 1000)) * 1000
  }

  toLocal(utcMicros: number): CivilTime {
    return civilFromMicros(utcMicros + this.offsetAt(utcMicros))
  }

  toUtc(local: CivilTime): number {
    const wall = microsFromCivil(local)
    const wallMs = Math.floor(wall / 1000)
    const before = this.#offsetMs(wallMs - DAY_MS)
    const after = this.#offsetMs(wallMs + DAY_MS)
    const valid = (offsetMs: number): boolean => this.#offsetMs(wallMs - offsetMs) === offsetMs
    const candidates = [before, after].filter(valid).map((o) => wall - o * 1000)
    if (candidates.length > 0) return Math.min(...candidates)
    // Skipped by a forward jump: read the wall time with the offset in force before the jump.
    return wall - before * 1000
  }
}

const UTC_ZONE: TimeZone = new IntlTimeZone('UTC', false)

/**
 * The time zone for a name. An unknown name falls back to UTC silently, as upstream's pytz
 * handler does (`fellBack` tells the caller). `UTC`, `Etc/UTC` and `Z`-like names are UTC.
 */
export function resolveTimeZone(name: string | undefined): TimeZone {
  if (!name) return UTC_ZONE
  if (name === 'UTC') return UTC_ZONE
  if (!isKnownTimeZone(name)) return new IntlTimeZone('UTC', true)
  return new IntlTimeZone(name, false)
}

/** The process's local time zone (what Python's naive `astimezone()` uses; Node honours `TZ`). */
export function localTimeZone(): TimeZone {
  return resolveTimeZone(new Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC')
}

// ------------------------------------------------------------------ strftime (C locale)

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0')
}

/** Python `strftime` for the directives the reports use: %Y %m %d %H %M %S %B %b %y %%. */
export function strftime(c: CivilTime, format: string): string {
  return format.replace(/%([YmdHMSBby%])/g, (_, d: string) => {
    switch (d) {
      case 'Y':
        return pad(c.year, 4)
      case 'y':
        return pad(c.year % 100)
      case 'm':
        return pad(c.month)
      case 'd':
        return pad(c.day)
      case 'H':
        return pad(c.hour)
      case 'M':
        return pad(c.minute)
      case 'S':
        return pad(c.second)
      case 'B':
        return MONTHS[c.month - 1]
      case 'b':
        return MONTHS[c.month - 1].slice(0, 3)
      default:
        return '%'
    }
  })
}

/** ISO weekday of a civil date, Monday = 0 (Python's `weekday()`). */
export function weekday(c: CivilTime): number {
  const d = new Date(0)
  d.setUTCFullYear(c.year, c.month - 1, c.day)
  return (d.getUTCDay() + 6) % 7
}

