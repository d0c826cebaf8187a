import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ManagedStore } from '../../src/stores/types.js'
import { type Command, type Flags, HELP_FLAG, UsageError, type Values } from './flags.js'
import { minLevelFlag, parseMinLevel } from './levels.js'
import { Destination } from './output.js'
import { serve } from './serve.js'
import { HTTP_READ_FLAGS, type OpenedStore, openStore, STORE_FLAGS } from './stores.js'
import { tail } from './tail.js'

type Analyze = typeof import('../../src/analyze/index.js')

/**
 * A `--from` / `--to` time in UTC microseconds, read as the report routes read times (an ISO date
 * or date-time; `naive` says how one without an offset is read).
 */
function timeFlag(analyze: Analyze, flag: 'from' | 'to', value: string | boolean | undefined, naive: Parameters<Analyze['parseTimeParam']>[1]): number | undefined {
  if (value === undefined) return undefined
  try {
    return analyze.parseTimeParam(value as string, naive)
  } catch (err) {
    throw new UsageError(`--${flag} ${JSON.stringify(value)} is not an ISO time such as 2026-01-05 or 2026-01-05T08:00:00Z (${(err as Error).message})`)
  }
}

/**
 * `export`'s bounds in the stored form, naive UTC (as MADSci stores `event_timestamp`), so that
 * the stores' string comparison is time order: `2026-01-05T09:00:00+01:00` is `2026-01-05T08:00:00`.
 * The upper bound carries its microseconds (`…:00.000000`) so that it is not below a stored
 * `…:00.000000` of the same instant.
 */
function storedBounds(analyze: Analyze, values: Values): { startTime?: string; endTime?: string } {
  const from = timeFlag(analyze, 'from', values.from, 'utc')
  const to = timeFlag(analyze, 'to', values.to, 'utc')
  if (from !== undefined && to !== undefined && from > to) throw new UsageError('--from must not be after --to')
  const endTime = to === undefined ? undefined : analyze.isoNaive(to)
  return { startTime: from === undefined ? undefined : analyze.isoNaive(from), endTime: endTime && !endTime.includes('.') ? `${endTime}.000000` : endTime }
}

const BOM_FLAG: Flags = {
  bom: {
    type: 'boolean',
    help: 'CSV only: start the file with a UTF-8 byte-order mark. Use it for files opened in Excel, which otherwise reads them in the legacy code page and mangles °C, µL and accents. Off by default: other tools (pandas, Python\'s csv, databases) do not need it.',
  },
}

const OUTPUT_FLAG: Flags = {
  output: {
    type: 'string',
    short: 'o',
    value: 'FILE',
    help: 'Write to FILE instead of stdout. Written under a temporary name and renamed when complete, so a failure leaves an existing FILE as it was.',
  },
}

/**
 * The body of a reading command: the store opened read-only, `write` producing the result into
 * the destination and returning what it wrote (`exported 3 events …`), said on stderr. A failure
 * drops a half-written output file; the store is always closed.
 */
async function readInto(values: Values, write: (opened: OpenedStore, to: Destination) => Promise<string>): Promise<number> {
  const to = new Destination(values.output as string | undefined)
  const opened = await openStore(values, 'read')
  try {
    const file = opened.file
    if (to.path !== undefined && file !== undefined && (to.path === file || (to.path.startsWith(`${file}.`) && /^\d+$/.test(to.path.slice(file.length + 1))))) {
      throw new UsageError(`--output ${to.path} is the event file being read; write the result elsewhere`)
    }
    const what = await write(opened, to)
    await to.commit()
    process.stderr.write(`${what} to ${to.name}\n`)
    return 0
  } catch (err) {
    await to.abort()
    throw err
  } finally {
    await opened.store.close()
  }
}

const exportCommand: Command = {
  summary: 'write stored events as CSV or NDJSON',
  synopsis: 'export [options]',
  description: `Writes stored events, oldest first, as CSV (one flat row per event; cells that spreadsheets
would run as formulas are prefixed with ') or NDJSON (one event per line), streaming in constant
memory. Reads from --db-url, --file or --url, else EVENT_DB_URL, else the default event file; it
never creates anything in the store. Says on stderr how many events it wrote and where; shows a
progress line on stderr when that is a terminal.

Examples:
  madsci-events export -o events.csv
  madsci-events export --db-url mongodb://localhost:27017/labdb --from 2026-01-01 --min-level WARNING --bom -o warnings.csv
  madsci-events export --file .madsci/events/events.ndjson --format ndjson | jq .event_type`,
  flags: {
    from: { type: 'string', value: 'ISO', help: 'Events at or after this time, e.g. 2026-01-05, 2026-01-05T08:00:00Z or 2026-01-05T09:00:00+01:00 (without an offset: UTC, as events are stored).' },
    to: { type: 'string', value: 'ISO', help: 'Events at or before this time (a date alone is its midnight).' },
    format: { type: 'string', value: 'FORMAT', help: 'Output format (default csv).', choices: ['csv', 'ndjson'] },
    ...OUTPUT_FLAG,
    ...BOM_FLAG,
    'min-level': minLevelFlag,
    'include-archived': { type: 'boolean', help: 'Include archived events (left out by default).' },
    ...STORE_FLAGS,
    ...HTTP_READ_FLAGS,
    ...HELP_FLAG,
  },
  async run(values) {
    const format = (values.format as string | undefined) ?? 'csv'
    if (values.bom && format !== 'csv') throw new UsageError('--bom is for CSV; NDJSON never starts with a byte-order mark')
    const minLevel = parseMinLevel(values['min-level'])
    const analyze = await import('../../src/analyze/index.js')
    const { startTime, endTime } = storedBounds(analyze, values)
    const { exportEventsCsv, exportEventsNdjson, ProgressBar } = await import('../../src/export/index.js')
    return readInto(values, async ({ store, where }, to) => {
      const out = await to.stream()
      const progress = new ProgressBar({ label: 'Exporting' })
      const source = store.streamEvents({ startTime, endTime, includeArchived: values['include-archived'] === true, selector: minLevel > 0 ? { log_level: { $gte: minLevel } } : undefined })
      const opts = { end: to.path !== undefined, onProgress: (n: number) => progress.update(n) }
      const r = format === 'csv' ? await exportEventsCsv(source, out, { ...opts, bom: values.bom === true }) : await exportEventsNdjson(source, out, opts)
      progress.update(r.rows)
      progress.finish()
      return `exported ${r.rows} event${r.rows === 1 ? '' : 's'} from ${where} as ${format.toUpperCase()}`
    })
  },
}

const REPORTS = ['sessions', 'periods', 'users'] as const

const reportCommand: Command = {
  summary: 'utilization reports as JSON, CSV or an SVG chart',
  synopsis: 'report sessions|periods|users [options]',
  description: `The utilization reports of MADSci's /utilization/* routes, computed here over the store:
  sessions  node busy/idle time per workcell session (--from/--to optional: default the whole store)
  periods   utilization per hour, day, week or month (--from and --to required)
  users     activity per user (--from/--to optional)
As JSON (the routes' shape), MADSci's CSV layout, or an SVG chart (sessions and periods). Times
without an offset are UTC, except for periods, where they are this machine's local time (as
MADSci reads them). Reads from --db-url, --file or --url, else EVENT_DB_URL, else the default event
file; it never creates anything in the store.

Examples:
  madsci-events report periods --from 2026-01-05 --to 2026-01-12 --type daily --timezone Europe/Berlin
  madsci-events report sessions --format svg -o sessions.svg`,
  flags: {
    from: { type: 'string', value: 'ISO', help: 'Start of the analysed time (required for periods), e.g. 2026-01-05 or 2026-01-05T08:00:00+01:00.' },
    to: { type: 'string', value: 'ISO', help: 'End of the analysed time (required for periods).' },
    type: { type: 'string', value: 'TYPE', help: 'periods only: the bucket size (default daily).', choices: ['hourly', 'daily', 'weekly', 'monthly'] },
    timezone: { type: 'string', value: 'ZONE', help: 'periods only: the IANA time zone the buckets follow, e.g. Europe/Berlin, UTC (default America/Chicago, as MADSci).' },
    format: { type: 'string', value: 'FORMAT', help: 'Output format (default json; svg for sessions and periods).', choices: ['json', 'csv', 'svg'] },
    ...OUTPUT_FLAG,
    ...BOM_FLAG,
    ...STORE_FLAGS,
    ...HTTP_READ_FLAGS,
    ...HELP_FLAG,
  },
  async run(values, positionals) {
    const kind = positionals[0] === 'user' ? 'users' : positionals[0]
    if (positionals.length !== 1 || !(REPORTS as readonly string[]).includes(kind)) {
      throw new UsageError(positionals.length === 0 ? `which report? give one of: ${REPORTS.join(', ')}` : `${JSON.stringify(positionals.join(' '))} is not a report; give one of: ${REPORTS.join(', ')}`)
    }
    const format = (values.format as string | undefined) ?? 'json'
    if (format === 'svg' && kind === 'users') throw new UsageError('--format svg is for sessions and periods; users is json or csv')
    if (values.bom && format !== 'csv') throw new UsageError('--bom is for --format csv')
    if (kind !== 'periods') for (const f of ['type', 'timezone']) if (values[f] !== undefined) throw new UsageError(`--${f} is for report periods`)
    const analyze = await import('../../src/analyze/index.js')
    const { isKnownTimeZone, sessionUtilizationReport, serverLocalZone, userUtilizationReport, utilizationPeriodsReport } = analyze
    const { nodeUtilizationChartSvg, periodsChartSvg, reportToCsv } = await import('../../src/export/index.js')
    const timezone = (values.timezone as string | undefined) ?? 'America/Chicago'
    if (!isKnownTimeZone(timezone)) {
      throw new UsageError(`--timezone ${JSON.stringify(timezone)} is not a time zone; use an IANA name such as UTC, Europe/Berlin, America/Chicago or Asia/Tokyo (node -p "Intl.supportedValuesOf('timeZone').join('\\n')" lists them all)`)
    }
    if (kind === 'periods' && (values.from === undefined || values.to === undefined)) throw new UsageError('periods needs --from and --to, e.g. --from 2026-01-05 --to 2026-01-12')
    // Checked here to name the flags: the reports' own messages name the routes' start_time/end_time.
    const naive = kind === 'periods' ? serverLocalZone() : 'utc'
    const start = timeFlag(analyze, 'from', values.from, naive)
    const end = timeFlag(analyze, 'to', values.to, naive)
    if (start !== undefined && end !== undefined && start >= end) throw new UsageError('--from must be before --to')
    return readInto(values, async ({ store, where }, to) => {
      const range = { startTime: values.from as string | undefined, endTime: values.to as string | undefined }
      let report: Record<string, unknown>
      if (kind === 'sessions') report = await sessionUtilizationReport(store, range)
      else if (kind === 'periods') report = await utilizationPeriodsReport(store, { ...range, analysisType: (values.type as string | undefined) ?? 'daily', userTimezone: timezone })
      else report = await userUtilizationReport(store, range)
      if ('error' in report) {
        throw new Error(`the ${kind} report failed: ${String(report.error)}${report.details ? ` (${String(report.details)})` : ''}`)
      }
      let text: string
      if (format === 'json') text = JSON.stringify(report, null, 2) + '\n'
      else if (format === 'svg') text = kind === 'periods' ? periodsChartSvg(report) : nodeUtilizationChartSvg(report)
      else text = reportToCsv(kind === 'users' ? 'user' : (kind as 'sessions' | 'periods'), report, { bom: values.bom === true })
      ;(await to.stream()).write(text)
      return `wrote the ${kind} report of ${where} as ${format.toUpperCase()}`
    })
  },
}

const backup: Command = {
  summary: 'dump a store into a new backup directory',
  synopsis: 'backup [options]',
  description: `Writes a restorable NDJSON dump of every event (archived ones included), in the layout of
POST /backup, into a new directory under --dir, and prints that directory. Older backups beyond
EVENT_BACKUP_MAX_COUNT (default 10) are removed. Reads from --db-url or --file, else EVENT_DB_URL,
else the default event file; it never creates anything in the store.`,
  flags: {
    dir: { type: 'string', value: 'DIR', help: 'Where backups go (default: EVENT_BACKUP_DIR, else .madsci/backups/events).' },
    description: { type: 'string', value: 'TEXT', help: 'A label appended to the backup\'s directory name.' },
    ...STORE_FLAGS,
    ...HELP_FLAG,
  },
  async run(values) {
    const { loadSettings } = await import('../server/settings.js')
    const { createBackup } = await import('../server/backup.js')
    const settings = loadSettings()
    const { store, where } = await openStore(values, 'read')
    try {
      const dir = await createBackup(store as ManagedStore, {
        backupDir: resolve((values.dir as string | undefined) ?? settings.backup_dir),
        database: 'databaseName' in store ? String(store.databaseName) : settings.database_name,
        description: values.description as string | undefined,
        maxCount: settings.backup_max_count,
      })
      const meta = JSON.parse(readFileSync(join(dir, 'backup_metadata.json'), 'utf8')) as { event_count: number; backup_size: number }
      process.stderr.write(`backed up ${meta.event_count} event${meta.event_count === 1 ? '' : 's'} (${meta.backup_size} bytes) from ${where} to:\n`)
      process.stdout.write(`${dir}\n`)
      return 0
    } finally {
      await store.close()
    }
  },
}

const restore: Command = {
  summary: 'load a backup into a store',
  synopsis: 'restore <backup-dir> [options]',
  description: `Loads a backup made by POST /backup or \`madsci-events backup\` into a store (--db-url or
--file, else EVENT_DB_URL, else the default event file). Idempotent: events already there (same id)
are left as they are.`,
  flags: { ...STORE_FLAGS, ...HELP_FLAG },
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('give exactly one backup directory')
    const { restoreBackup } = await import('../server/backup.js')
    const { store, where } = await openStore(values, 'write')
    process.stderr.write(`restoring into ${where}\n`)
    try {
      const n = await restoreBackup(store as ManagedStore, positionals[0], {
        onProgress: (k) => {
          if (process.stderr.isTTY) process.stderr.write(`\rrestored ${k} events`)
        },
      })
      if (process.stderr.isTTY) process.stderr.write('\n')
      process.stdout.write(`restored ${n} events from ${positionals[0]}\n`)
      return 0
    } finally {
      await store.close()
    }
  },
}

export const commands: Record<string, Command> = { serve, tail, export: exportCommand, report: reportCommand, backup, restore }
