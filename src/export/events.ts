/**
 * Streaming export of stored events: a flat CSV (one row per event) and NDJSON (one event per
 * line). Both read an `AsyncIterable<Event>` (e.g. `reader.streamEvents({ startTime, endTime })`)
 * and write to a Writable through `stream.pipeline`, so backpressure holds: millions of rows pass
 * in constant memory, at the pace the destination accepts.
 *
 * Flat CSV columns, in order (header row first; excel dialect, CRLF):
 *
 * | column | value |
 * |---|---|
 * | `event_id` (or `_id`, option `idColumn`) | the event id |
 * | `event_type` | lowercase type |
 * | `log_level` | the number (10..50) |
 * | `level_name` | `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL` (or `NOTSET`) |
 * | `alert` | `true` / `false` |
 * | `event_timestamp` | the stored string, unchanged |
 * | `source.user_id` … `source.manager_id` | the ten ownership fields, empty when unset |
 * | `event_data` | compact JSON |
 * | `trace_id`, `span_id` | empty when null |
 * | `archived` | `true` / `false` |
 * | `archived_at` | empty when null |
 *
 * Text cells starting with `=`, `+`, `-`, `@`, tab or CR are prefixed with `'` so spreadsheets
 * show them as text (option `neutralizeFormulas`, default true). `event_data` JSON starts with
 * `{`, `[`, `"` or a digit and is only touched when it is a bare negative number.
 */
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { stringify } from 'csv-stringify'
import type { Event } from '../event/index.js'
import { LEVEL_NAMES, OWNERSHIP_FIELDS, eventToJson, safeJsonStringify } from '../event/index.js'
import { EXCEL_DIALECT, neutralizeFormula } from './cells.js'

export const EVENT_CSV_COLUMNS = [
  'event_id',
  'event_type',
  'log_level',
  'level_name',
  'alert',
  'event_timestamp',
  ...OWNERSHIP_FIELDS.map((f) => `source.${f}`),
  'event_data',
  'trace_id',
  'span_id',
  'archived',
  'archived_at',
] as const

export interface ExportOptions {
  /** Called with the running row count every `progressEvery` rows and once at the end. */
  onProgress?: (rows: number) => void
  /** Default 1000. */
  progressEvery?: number
  /** End the destination when done (default true; pass false for `process.stdout`). */
  end?: boolean
  /** Abort the export. */
  signal?: AbortSignal
}

export interface EventCsvOptions extends ExportOptions {
  /** Header of the id column: `event_id` (default) or `_id`. */
  idColumn?: 'event_id' | '_id'
  /** Prefix formula-looking text cells with `'` (default true). */
  neutralizeFormulas?: boolean
  /** Write the header row (default true). */
  header?: boolean
}

export interface ExportResult {
  rows: number
}

/** One flat CSV row for an event (cells as strings, before quoting). */
export function eventCsvRow(event: Event, neutralize = true): string[] {
  const t = (s: string): string => (neutralize ? neutralizeFormula(s) : s)
  const row: string[] = [
    t(event.event_id),
    event.event_type,
    String(event.log_level),
    (LEVEL_NAMES as Record<number, string>)[event.log_level] ?? '',
    event.alert ? 'true' : 'false',
    t(event.event_timestamp),
  ]
  for (const f of OWNERSHIP_FIELDS) row.push(t(event.source[f] ?? ''))
  row.push(t(safeJsonStringify(event.event_data)))
  row.push(t(event.trace_id ?? ''), t(event.span_id ?? ''), event.archived ? 'true' : 'false', t(event.archived_at ?? ''))
  return row
}

async function* counted<T>(source: AsyncIterable<Event>, map: (e: Event) => T, options: ExportOptions, tally: { rows: number }): AsyncGenerator<T> {
  const every = options.progressEvery ?? 1000
  for await (const event of source) {
    yield map(event)
    tally.rows++
    if (options.onProgress && tally.rows % every === 0) options.onProgress(tally.rows)
  }
}

/** Stream events as the flat CSV above. Resolves when the destination has taken every row. */
export async function exportEventsCsv(source: AsyncIterable<Event>, writable: Writable, options: EventCsvOptions = {}): Promise<ExportResult> {
  const neutralize = options.neutralizeFormulas ?? true
  const header = [...EVENT_CSV_COLUMNS] as string[]
  if (options.idColumn === '_id') header[0] = '_id'
  const tally = { rows: 0 }
  const rows = Readable.from(counted(source, (e) => eventCsvRow(e, neutralize), options, tally))
  const csv = stringify({ ...EXCEL_DIALECT, header: options.header ?? true, columns: header })
  await pipeline(rows, csv, writable, { end: options.end ?? true, signal: options.signal })
  options.onProgress?.(tally.rows)
  return { rows: tally.rows }
}

/** Stream events as NDJSON, one compact event per line (`idKey` `event_id` by default, as MADSci's log files). */
export async function exportEventsNdjson(
  source: AsyncIterable<Event>,
  writable: Writable,
  options: ExportOptions & { idKey?: 'event_id' | '_id' } = {},
): Promise<ExportResult> {
  const tally = { rows: 0 }
  const lines = Readable.from(counted(source, (e) => eventToJson(e, options.idKey ?? 'event_id') + '\n', options, tally))
  await pipeline(lines, writable, { end: options.end ?? true, signal: options.signal })
  options.onProgress?.(tally.rows)
  return { rows: tally.rows }
}
