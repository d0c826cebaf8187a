import { ConfigError } from '../errors.js'

/**
 * Dates computed from a day count given by a caller (a purge's `older_than_days`, retention's
 * `soft/hard_delete_after_days`). `new Date(now - days × 86 400 000)` past ±8.64e15 ms is an
 * invalid date whose text (`NaN-…`) sorts after every real timestamp: a purge with
 * `older_than_days=200000000` deleted every archived event. Beyond year 9999 or before year 1 the
 * ISO text no longer sorts as time either. So a count is refused unless it gives a date in years
 * 1 to 9999.
 */

/** The longest wait a Node timer takes as it is: past it, Node fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1

const DAY_MS = 86_400_000
/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z. */
const FIRST_MS = -62_135_596_800_000
export const LAST_DATE_MS = 253_402_300_799_999

/** The most days back from `now` that still give a date (to year 1). */
export function maxDaysBack(now = Date.now()): number {
  return Math.floor((now - FIRST_MS) / DAY_MS)
}

/** Whether `now + ms` is a date in years 1 to 9999. */
export function isDateOffset(ms: number, now = Date.now()): boolean {
  const t = now + ms
  return Number.isFinite(t) && t >= FIRST_MS && t <= LAST_DATE_MS
}

/**
 * The date `days` days before `now`. Throws `ConfigError` (naming `option`) unless `days` is a
 * number from 0 to `maxDaysBack(now)`.
 */
export function daysBefore(days: number, option: string, now = Date.now()): Date {
  if (typeof days !== 'number' || !(days >= 0) || !isDateOffset(-days * DAY_MS, now)) {
    throw new ConfigError(option, `${days} days before now is not a date; use a number of days from 0 to ${maxDaysBack(now)} (back to year 1)`)
  }
  return new Date(now - days * DAY_MS)
}
