/**
 * Parameters of the `/utilization/*` routes, parsed as the Python Event Manager parses them
 * (SPEC §2.10–2.12): a trailing `Z` becomes `+00:00`, then CPython 3.11 `fromisoformat`; an aware
 * time is converted to UTC; a naive one is UTC for `/utilization/sessions` and `/utilization/user`,
 * and the *server's local time* for `/utilization/periods`. Errors keep Python's message text.
 */
import { PyValueError, civilFromMicros, pyFromIsoformat } from './pytime.js'
import { localTimeZone, type TimeZone } from './zone.js'

/** A report bound: a string as the routes take it, or a `Date`. */
export type TimeInput = string | Date

/** How a naive time string is read: as UTC, or as wall time in a zone (the server's local zone). */
export type NaiveAs = 'utc' | TimeZone

/**
 * Parse one route time parameter to UTC microseconds. Throws `PyValueError` with Python's
 * message (`Invalid isoformat string: 'x'`, `month must be in 1..12`, …) for bad input.
 */
export function parseTimeParam(value: TimeInput, naive: NaiveAs = 'utc'): number {
  if (value instanceof Date) {
    const ms = value.getTime()
    if (Number.isNaN(ms)) throw new PyValueError('Invalid isoformat string: invalid Date')
    return ms * 1000
  }
  const parsed = pyFromIsoformat(value.replace(/Z/g, '+00:00'))
  if (parsed.offsetMicros !== null) return parsed.wallMicros - parsed.offsetMicros
  if (naive === 'utc') return parsed.wallMicros
  return naive.toUtc(civilFromMicros(parsed.wallMicros))
}

/** Missing or empty (Python: falsy) → `undefined`. */
export function presentTime(value: TimeInput | null | undefined): TimeInput | undefined {
  if (value === undefined || value === null || value === '') return undefined
  return value
}

/** The zone naive `/utilization/periods` times are read in: the process's local zone (as upstream). */
export function serverLocalZone(): TimeZone {
  return localTimeZone()
}

/**
 * FastAPI's boolean query parsing: `true/false/1/0/yes/no/on/off` in any case. Returns `undefined`
 * for anything else (FastAPI answers 422) and `fallback` when the parameter is absent.
 */
export function parseBoolParam(value: string | null | undefined, fallback: boolean): boolean | undefined {
  if (value === undefined || value === null) return fallback
  const v = value.toLowerCase()
  if (v === 'true' || v === '1' || v === 'yes' || v === 'on') return true
  if (v === 'false' || v === '0' || v === 'no' || v === 'off') return false
  return undefined
}

/** Errors exactly as the routes answer them (always HTTP 200). */
export const ERROR_ANSWERS = {
  sessions: (err: unknown) => ({ error: `Failed to generate report: ${messageOf(err)}` }),
  user: (err: unknown) => ({ error: `Failed to generate report: ${messageOf(err)}` }),
  userReport: (err: unknown) => ({ error: `Failed to generate user report: ${messageOf(err)}` }),
  periodsParse: (err: unknown) => ({ error: `Failed to generate utilization report: ${messageOf(err)}` }),
  periodsRoute: (err: unknown) => ({ error: `Failed to generate report: ${messageOf(err)}` }),
  periodsMissingTimes: () => ({ error: 'start_time and end_time are required', details: 'Both parameters must be provided as ISO strings' }),
  csvOutputPathRequired: () => ({ error: 'output_path is required when save_to_file=True' }),
  csv: (err: unknown) => ({ error: `CSV generation failed: ${messageOf(err)}` }),
} as const

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
