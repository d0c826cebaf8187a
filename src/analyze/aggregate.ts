/**
 * Counts of stored events by `event_type`, `log_level` or a `source` field over a time range,
 * optionally per hour/day/week/month in a time zone. Computed in JavaScript over the store's
 * stream (FerretDB v1 lacks most `$group` accumulators and date operators), so it works the same
 * on every store; memory grows with buckets × distinct keys, not with events.
 */
import type { OwnershipField } from '../event/index.js'
import { LEVEL_NAMES, OWNERSHIP_FIELDS, timestampMicros } from '../event/index.js'
import { ConfigError } from '../errors.js'
import type { StreamOptions } from '../stores/types.js'
import { parseTimeParam, type TimeInput } from './params.js'
import { US_PER_HOUR, civilFromMicros, isoNaive, type CivilTime } from './pytime.js'
import type { ReportSource } from './source.js'
import { widenedBounds } from './source.js'
import { resolveTimeZone, weekday, type TimeZone } from './zone.js'

export type AggregateKey = 'event_type' | 'log_level' | `source.${OwnershipField}`
export type AggregateBucket = 'hour' | 'day' | 'week' | 'month'

export interface AggregateOptions {
  /** What to count by. Default `event_type`. */
  by?: AggregateKey
  /** Range bounds (a string is read as the routes read it: naive = UTC). Open when absent. */
  startTime?: TimeInput | null
  endTime?: TimeInput | null
  /** Also count per bucket of local time. */
  bucket?: AggregateBucket
  /** IANA zone of the buckets. Default `UTC`; unknown names are refused (not silently UTC). */
  timeZone?: string
  /** An extra MongoDB-style selector, applied by the store. */
  selector?: Record<string, unknown>
  /** Count archived events too. Default true (as the analyzers, which see everything). */
  includeArchived?: boolean
}

export interface AggregateBucketCounts {
  /** Bucket start and end, naive UTC ISO (as the reports print times). */
  start: string
  end: string
  /** Local label: `2025-01-06T13:00+01:00` (hour), `2025-01-06` (day, week: its Monday), `2025-01` (month). */
  label: string
  total: number
  counts: Record<string, number>
}

export interface AggregateResult {
  by: AggregateKey
  start_time: string | null
  end_time: string | null
  bucket: AggregateBucket | null
  time_zone: string | null
  total: number
  /** Events without the key (e.g. no `source.node_id`). */
  missing: number
  counts: Record<string, number>
  /** For `log_level`: the level names of the keys. */
  labels?: Record<string, string>
  buckets?: AggregateBucketCounts[]
}

function keyReader(by: string): (e: { event_type: string; log_level: number; source: Record<string, string | undefined> }) => string | undefined {
  if (by === 'event_type') return (e) => e.event_type
  if (by === 'log_level') return (e) => String(e.log_level)
  if (by.startsWith('source.') && (OWNERSHIP_FIELDS as readonly string[]).includes(by.slice(7))) {
    const f = by.slice(7)
    return (e) => e.source[f]
  }
  throw new ConfigError('by', `expected event_type, log_level or source.<field> (one of ${OWNERSHIP_FIELDS.join(', ')}), got ${JSON.stringify(by)}`)
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0')
}

function civilDate(year: number, month: number, day: number): CivilTime {
  const d = new Date(0)
  d.setUTCFullYear(year, month - 1, day)
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0, second: 0, micro: 0 }
}

/** The bucket containing an instant: [start, end) in UTC microseconds and its local label. */
export function bucketOf(t: number, unit: AggregateBucket, zone: TimeZone): { start: number; end: number; label: string } {
  if (unit === 'hour') {
    const offset = zone.offsetAt(t)
    const start = Math.floor((t + offset) / US_PER_HOUR) * US_PER_HOUR - offset
    const local = civilFromMicros(start + offset)
    const off = Math.round(offset / 60_000_000)
    const sign = off < 0 ? '-' : '+'
    const label = `${pad(local.year, 4)}-${pad(local.month)}-${pad(local.day)}T${pad(local.hour)}:${pad(local.minute)}${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`
    return { start, end: start + US_PER_HOUR, label }
  }
  const local = zone.toLocal(t)
  let first: CivilTime
  let next: CivilTime
  if (unit === 'day') {
    first = civilDate(local.year, local.month, local.day)
    next = civilDate(local.year, local.month, local.day + 1)
  } else if (unit === 'week') {
    first = civilDate(local.year, local.month, local.day - weekday(local))
    next = civilDate(first.year, first.month, first.day + 7)
  } else {
    first = civilDate(local.year, local.month, 1)
    next = civilDate(local.year, local.month + 1, 1)
  }
  const label = unit === 'month' ? `${pad(first.year, 4)}-${pad(first.month)}` : `${pad(first.year, 4)}-${pad(first.month)}-${pad(first.day)}`
  return { start: zone.toUtc(first), end: zone.toUtc(next), label }
}

function sorted(counts: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) out[k] = v
  return out
}

/** Count stored events (one streamed pass). Bad options throw `ConfigError`; bad times `PyValueError`. */
export async function aggregateEvents(source: ReportSource, options: AggregateOptions = {}): Promise<AggregateResult> {
  const by = options.by ?? 'event_type'
  const read = keyReader(by)
  const unit = options.bucket
  if (unit !== undefined && !['hour', 'day', 'week', 'month'].includes(unit)) {
    throw new ConfigError('bucket', `expected hour, day, week or month, got ${JSON.stringify(unit)}`)
  }
  let zone: TimeZone | undefined
  if (unit) {
    zone = resolveTimeZone(options.timeZone ?? 'UTC')
    if (zone.fellBack) throw new ConfigError('timeZone', `${JSON.stringify(options.timeZone)} is not a time zone this platform knows; use an IANA name such as Europe/Berlin`)
  }
  const start = options.startTime ? parseTimeParam(options.startTime, 'utc') : undefined
  const end = options.endTime ? parseTimeParam(options.endTime, 'utc') : undefined
  const stream: StreamOptions = { includeArchived: options.includeArchived ?? true }
  if (start !== undefined || end !== undefined) {
    const wide = widenedBounds(start ?? 0, end ?? 0)
    if (start !== undefined) stream.startTime = wide.startTime
    if (end !== undefined) stream.endTime = wide.endTime
  }
  if (options.selector) stream.selector = options.selector

  const counts = new Map<string, number>()
  const buckets = new Map<number, { end: number; label: string; total: number; counts: Map<string, number> }>()
  let total = 0
  let missing = 0
  for await (const event of source.streamEvents(stream)) {
    const t = timestampMicros(event.event_timestamp)
    if (Number.isNaN(t) || (start !== undefined && t < start) || (end !== undefined && t > end)) continue
    total++
    const key = read(event as never)
    if (key === undefined) missing++
    else counts.set(key, (counts.get(key) ?? 0) + 1)
    if (unit && zone) {
      const b = bucketOf(t, unit, zone)
      let entry = buckets.get(b.start)
      if (!entry) buckets.set(b.start, (entry = { end: b.end, label: b.label, total: 0, counts: new Map() }))
      entry.total++
      if (key !== undefined) entry.counts.set(key, (entry.counts.get(key) ?? 0) + 1)
    }
  }
  const result: AggregateResult = {
    by,
    start_time: start === undefined ? null : isoNaive(start),
    end_time: end === undefined ? null : isoNaive(end),
    bucket: unit ?? null,
    time_zone: zone ? zone.name : null,
    total,
    missing,
    counts: sorted(counts),
  }
  if (by === 'log_level') {
    result.labels = {}
    for (const k of counts.keys()) result.labels[k] = (LEVEL_NAMES as Record<number, string>)[Number(k)] ?? k
  }
  if (unit) {
    result.buckets = [...buckets]
      .sort((a, b) => a[0] - b[0])
      .map(([s, b]) => ({ start: isoNaive(s), end: isoNaive(b.end), label: b.label, total: b.total, counts: sorted(b.counts) }))
  }
  return result
}
