/**
 * Time buckets of the `/utilization/periods` report, in a named time zone.
 *
 * Buckets are local calendar units: a daily bucket runs from one local midnight to the next (23 or
 * 25 hours on DST change days), a weekly one from Monday 00:00 to the next Monday 00:00, a monthly
 * one from the 1st to the 1st; hourly buckets are real hours starting at the analysis start.
 * Upstream instead does all bucket arithmetic with the fixed UTC offset the zone had at the
 * analysis start (pytz without `normalize`), so after a DST change inside the range its boundaries
 * are off by an hour (SPEC §5.6.2). The last bucket ends at the analysis end.
 */
import type { CivilTime } from './pytime.js'
import { US_PER_HOUR } from './pytime.js'
import { strftime, weekday, type TimeZone } from './zone.js'

/** The analysis types upstream knows; anything else gets daily buckets and the hourly aggregation. */
export type AnalysisType = 'hourly' | 'daily' | 'weekly' | 'monthly'

export interface PeriodInfo {
  type: 'period' | 'day' | 'week' | 'month'
  display: string
  short: string
}

export interface TimeBucket {
  index: number
  /** Start as built (not clipped to the analysis start), UTC microseconds. */
  start: number
  /** End (the analysis end for the last bucket), UTC microseconds. */
  end: number
  /** Local wall time at `start`. */
  localStart: CivilTime
  periodInfo: PeriodInfo
}

type Unit = 'period' | 'day' | 'week' | 'month'

/** Bucket unit for an analysis type: `hourly` → hours; `weekly`, `monthly`; anything else → days. */
export function bucketUnit(analysisType: string): Unit {
  if (analysisType === 'hourly') return 'period'
  if (analysisType === 'weekly') return 'week'
  if (analysisType === 'monthly') return 'month'
  return 'day'
}

function periodInfo(unit: Unit, local: CivilTime): PeriodInfo {
  switch (unit) {
    case 'month':
      return { type: 'month', display: strftime(local, '%B %Y'), short: strftime(local, '%b %Y') }
    case 'day':
      return { type: 'day', display: strftime(local, '%Y-%m-%d'), short: strftime(local, '%m-%d') }
    case 'week':
      return { type: 'week', display: `Week of ${strftime(local, '%Y-%m-%d')}`, short: `Week ${strftime(local, '%m/%d')}` }
    default:
      return { type: 'period', display: strftime(local, '%Y-%m-%d %H:%M'), short: strftime(local, '%m/%d %H:%M') }
  }
}

function midnight(year: number, month: number, day: number): CivilTime {
  // Date arithmetic through Date.UTC normalises day/month overflow (e.g. day 32, month 13).
  const d = new Date(0)
  d.setUTCFullYear(year, month - 1, day)
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0, second: 0, micro: 0 }
}

/**
 * The buckets covering [start, end) for an analysis type in a zone. `start < end` is required
 * (the caller validates it, as upstream does, before building buckets).
 */
export function createBuckets(start: number, end: number, analysisType: string, zone: TimeZone): TimeBucket[] {
  const unit = bucketUnit(analysisType)
  const buckets: TimeBucket[] = []
  const push = (bStart: number, bEnd: number): void => {
    const localStart = zone.toLocal(bStart)
    buckets.push({ index: buckets.length, start: bStart, end: bEnd, localStart, periodInfo: periodInfo(unit, localStart) })
  }
  if (unit === 'period') {
    for (let cur = start; cur < end; cur += US_PER_HOUR) push(cur, Math.min(cur + US_PER_HOUR, end))
    return buckets
  }
  const first = zone.toLocal(start)
  let civil: CivilTime
  if (unit === 'day') civil = midnight(first.year, first.month, first.day)
  else if (unit === 'week') civil = midnight(first.year, first.month, first.day - weekday(first))
  else civil = midnight(first.year, first.month, 1)
  let cur = zone.toUtc(civil)
  while (cur < end) {
    const nextCivil =
      unit === 'day'
        ? midnight(civil.year, civil.month, civil.day + 1)
        : unit === 'week'
          ? midnight(civil.year, civil.month, civil.day + 7)
          : midnight(civil.year, civil.month + 1, 1)
    const next = zone.toUtc(nextCivil)
    push(cur, Math.min(next, end))
    civil = nextCivil
    cur = next
  }
  return buckets
}

/** Index of the last bucket whose start is ≤ t (buckets sorted by start), or -1. */
export function bucketIndexAt(starts: readonly number[], t: number): number {
  let lo = 0
  let hi = starts.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (starts[mid] <= t) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found
}
