/**
 * Streaming export of stored events: a flat CSV (one row per event) and NDJSON (one event per
 * line). Both read an `AsyncIterable<Event>` (e.g. `reader.streamEvents({ startTime, endTime })`)
 * and write to a Writable through `stream.pipeline`, waiting for `drain` whenever a buffer is full,
 * so backpressure holds: millions of rows pass in constant memory, at the pace the destination
 * accepts.
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
 * With `bom: true` the output starts with a UTF-8 byte-order mark (for Excel; see `UTF8_BOM`).
 *
 * Text cells starting with `=`, `+`, `-`, `@`, tab or CR are prefixed with `'` so spreadsheets
 * show them as text (option `neutralizeFormulas`, default true). `event_data` JSON starts with
 * `{`, `[`, `"` or a digit and is only touched when it is a bare negative number.
 */
import { once } from 'node:events'
import { PassThrough, type Duplex, type Writable } from 'node:stream'
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
  /** Start with a UTF-8 byte-order mark, so Excel reads the file as UTF-8 (`°C`, `µL` intact). Default false: other readers do not need it. */
  bom?: boolean
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

/** Report progress every `every` rows. */
function progressTicker(options: ExportOptions): (rows: number) => void {
  const every = options.progressEvery ?? 1000
  const report = options.onProgress
  return report ? (rows) => void (rows % every === 0 && report(rows)) : () => {}
}

/**
 * Write, and wait for `drain` when the stream asks to. Fails as soon as the stream is destroyed or
 * the pipeline behind it fails (a dead destination must not leave us waiting for a `drain`).
 */
async function write(stream: Writable, chunk: unknown, delivered: Promise<void>): Promise<void> {
  if (stream.destroyed) throw stream.errored ?? new Error('The export stream was closed before all events were written')
  if (stream.write(chunk)) return
  await Promise.race([
    once(stream, 'drain'),
    delivered.then(() => {
      throw new Error('The destination finished before all events were written')
    }),
  ])
}

/** Start the pipeline; its failure is seen by the writer loop and by the final await. */
function start(stream: Duplex, writable: Writable, options: ExportOptions): Promise<void> {
  const delivered = pipeline(stream, writable, { end: options.end ?? true, signal: options.signal })
  delivered.catch(() => {}) // awaited later; this only keeps an early failure from being "unhandled"
  return delivered
}

/** Stream events as the flat CSV above. Resolves when the destination has taken every row. */
export async function exportEventsCsv(source: AsyncIterable<Event>, writable: Writable, options: EventCsvOptions = {}): Promise<ExportResult> {
  const neutralize = options.neutralizeFormulas ?? true
  const header = [...EVENT_CSV_COLUMNS] as string[]
  if (options.idColumn === '_id') header[0] = '_id'
  const tick = progressTicker(options)
  const csv = stringify({ ...EXCEL_DIALECT, header: options.header ?? true, columns: header, bom: options.bom === true })
  const delivered = start(csv, writable, options)
  let rows = 0
  try {
    for await (const event of source) {
      await write(csv, eventCsvRow(event, neutralize), delivered)
      tick(++rows)
    }
    csv.end()
  } catch (err) {
    csv.destroy(err as Error)
  }
  await delivered
  options.onProgress?.(rows)
  return { rows }
}

/** Stream events as NDJSON, one compact event per line (`idKey` `event_id` by default, as MADSci's log files). */
export async function exportEventsNdjson(
  source: AsyncIterable<Event>,
  writable: Writable,
  options: ExportOptions & { idKey?: 'event_id' | '_id' } = {},
): Promise<ExportResult> {
  const tick = progressTicker(options)
  const idKey = options.idKey ?? 'event_id'
  // Lines are joined into ~64 KiB chunks: one write per chunk, not per event.
  const out = new PassThrough({ writableHighWaterMark: 64 * 1024 })
  const delivered = start(out, writable, options)
  let rows = 0
  let buffer = ''
  try {
    for await (const event of source) {
      buffer += eventToJson(event, idKey) + '\n'
      tick(++rows)
      if (buffer.length >= 64 * 1024) {
        await write(out, buffer, delivered)
        buffer = ''
      }
    }
    if (buffer) await write(out, buffer, delivered)
    out.end()
  } catch (err) {
    out.destroy(err as Error)
  }
  await delivered
  options.onProgress?.(rows)
  return { rows }
}
