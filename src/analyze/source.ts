/**
 * Where the reports read events from. Any store `Reader` works (MongoDB, an Event Manager over
 * HTTP, an NDJSON file); `eventsReader()` adapts an in-memory array or a generator. The reports
 * use two calls only: `streamEvents` (a time range, oldest first, constant memory) and
 * `queryEvents` (the database's first and last timestamp for the default analysis period).
 */
import type { Event } from '../event/index.js'
import { timestampMicros } from '../event/index.js'
import type { QueryOptions, Reader, StreamOptions } from '../stores/types.js'
import { US_PER_DAY, US_PER_HOUR, civilFromMicros } from './pytime.js'
import { selectorPredicate } from './selector-match.js'

/** What the reports need from a store: a `Reader` has it. */
export type ReportSource = Pick<Reader, 'streamEvents' | 'queryEvents'>

/** A stored event with its timestamp parsed to UTC microseconds (naive timestamps read as UTC, §5.1). */
export interface TimedEvent {
  event: Event
  t: number
}

function queryable(event: Event): Record<string, unknown> {
  return { ...(event as unknown as Record<string, unknown>), _id: event.event_id }
}

function fieldOf(event: Event, field: string): unknown {
  let cur: unknown = queryable(event)
  for (const p of field.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[p]
  }
  return cur
}

function byTimestamp(a: Event, b: Event): number {
  return a.event_timestamp < b.event_timestamp ? -1 : a.event_timestamp > b.event_timestamp ? 1 : 0
}

/**
 * A `ReportSource` over events you already have (tests, imports, a live buffer).
 *
 * - an array is sorted once by `event_timestamp` (a copy; the array is not changed);
 * - a function is called for every pass and must yield events in `event_timestamp` order (a
 *   generator of millions of events is never held in memory).
 */
export function eventsReader(events: readonly Event[] | (() => Iterable<Event> | AsyncIterable<Event>)): ReportSource {
  const sorted = typeof events === 'function' ? undefined : [...events].sort(byTimestamp)
  const iterate = (): Iterable<Event> | AsyncIterable<Event> => (sorted ? sorted : (events as () => Iterable<Event> | AsyncIterable<Event>)())

  async function* stream(options: StreamOptions = {}): AsyncIterable<Event> {
    const match = options.selector ? selectorPredicate(options.selector) : undefined
    for await (const e of iterate()) {
      if (options.startTime !== undefined && e.event_timestamp < options.startTime) continue
      if (options.endTime !== undefined && e.event_timestamp > options.endTime) continue
      if (options.includeArchived === false && e.archived) continue
      if (options.afterId !== undefined && !(e.event_id > options.afterId)) continue
      if (match && !match(queryable(e))) continue
      yield e
    }
  }

  async function query(selector: Record<string, unknown>, options: QueryOptions = {}): Promise<Event[]> {
    const skip = options.skip ?? 0
    const limit = options.limit ?? 0
    const wanted = limit > 0 ? skip + limit : Infinity
    const [sortField, sortDir] = options.sort ? (Object.entries(options.sort)[0] ?? ['', 1]) : ['', 1]
    const match = selectorPredicate(selector)
    if (!sortField || (sortField === 'event_timestamp' && sortDir === 1)) {
      // Store order (or ascending time, which is the iteration order): stop once enough matched.
      const out: Event[] = []
      for await (const e of iterate()) {
        if (!match(queryable(e))) continue
        out.push(e)
        if (out.length >= wanted) break
      }
      return out.slice(skip)
    }
    if (sortField === 'event_timestamp' && wanted !== Infinity) {
      // Newest first: keep only the last `wanted` matches.
      const ring: Event[] = []
      for await (const e of iterate()) {
        if (!match(queryable(e))) continue
        ring.push(e)
        if (ring.length > wanted) ring.shift()
      }
      return ring.reverse().slice(skip)
    }
    const all: Event[] = []
    for await (const e of iterate()) if (match(queryable(e))) all.push(e)
    all.sort((a, b) => {
      const av = fieldOf(a, sortField) as string | number
      const bv = fieldOf(b, sortField) as string | number
      return av < bv ? -sortDir : av > bv ? sortDir : 0
    })
    return limit > 0 ? all.slice(skip, skip + limit) : all.slice(skip)
  }

  return { streamEvents: stream, queryEvents: query }
}

// ------------------------------------------------------------------ ranges

/**
 * The string bounds that surely contain every event whose parsed time lies in [start, end]:
 * stored timestamps compare as strings, and one carrying a UTC offset (up to ±24 h) or a space
 * instead of `T` can sort a day away from its instant. Events are then kept by parsed time.
 */
export function widenedBounds(start: number, end: number): { startTime: string; endTime: string } {
  const lo = civilFromMicros(start - US_PER_DAY - US_PER_HOUR)
  const hi = civilFromMicros(end + 2 * US_PER_DAY + US_PER_HOUR)
  const date = (c: { year: number; month: number; day: number }): string =>
    `${String(c.year).padStart(4, '0')}-${String(c.month).padStart(2, '0')}-${String(c.day).padStart(2, '0')}`
  return { startTime: date(lo), endTime: date(hi) }
}

/**
 * Events whose parsed time lies in [start, end], oldest first (the store's `event_timestamp`
 * order), with the parsed time. Timestamps that do not parse are skipped (upstream's parser logs
 * them and, through defect D8, fails the whole report).
 */
export async function* eventsInRange(
  source: ReportSource,
  start: number,
  end: number,
  selector?: Record<string, unknown>,
): AsyncGenerator<TimedEvent> {
  const options: StreamOptions = { ...widenedBounds(start, end), includeArchived: true }
  if (selector) options.selector = selector
  for await (const event of source.streamEvents(options)) {
    const t = timestampMicros(event.event_timestamp)
    if (Number.isNaN(t) || t < start || t > end) continue
    yield { event, t }
  }
}

/** Every event with a parseable time (no bounds), oldest first, optionally filtered by a selector. */
export async function* allEvents(source: ReportSource, selector?: Record<string, unknown>): AsyncGenerator<TimedEvent> {
  const options: StreamOptions = { includeArchived: true }
  if (selector) options.selector = selector
  for await (const event of source.streamEvents(options)) {
    const t = timestampMicros(event.event_timestamp)
    if (Number.isNaN(t)) continue
    yield { event, t }
  }
}

/**
 * The database's first and last `event_timestamp` (string order, as upstream's `sort(1).limit(1)`),
 * parsed; `undefined` when the store is empty or the timestamps do not parse.
 */
export async function databaseRange(source: ReportSource): Promise<{ first: number; last: number } | undefined> {
  const [earliest] = await source.queryEvents({}, { sort: { event_timestamp: 1 }, limit: 1 })
  if (!earliest) return undefined
  const [latest] = await source.queryEvents({}, { sort: { event_timestamp: -1 }, limit: 1 })
  if (!latest) return undefined
  const first = timestampMicros(earliest.event_timestamp)
  const last = timestampMicros(latest.event_timestamp)
  if (Number.isNaN(first) || Number.isNaN(last)) return undefined
  return { first, last }
}

/**
 * The analysis period of §5.1 with upstream's intended fallbacks (D8): both bounds as given; only
 * a start → 24 h from it; only an end → the 24 h before it; neither → the whole database ±1 minute,
 * or the last 24 h when the database is empty (upstream answers an error there).
 */
export async function analysisPeriod(
  source: ReportSource,
  start: number | undefined,
  end: number | undefined,
  now: number,
): Promise<{ start: number; end: number }> {
  if (start !== undefined && end !== undefined) return { start, end }
  if (start === undefined && end === undefined) {
    const range = await databaseRange(source)
    if (range) return { start: range.first - 60_000_000, end: range.last + 60_000_000 }
    return { start: now - US_PER_DAY, end: now }
  }
  if (start !== undefined) return { start, end: start + US_PER_DAY }
  return { start: (end as number) - US_PER_DAY, end: end as number }
}
