import { envMongoUrl, envValue } from '../../src/config/env.js'
import { LEVEL_NAMES, parseLevel } from '../../src/event/levels.js'
import type { Event } from '../../src/event/model.js'
import { parseEvent } from '../../src/event/validate.js'
import { FileStore } from '../../src/stores/file.js'
import { MongoStore } from '../../src/stores/mongo.js'
import type { ManagedStore } from '../../src/stores/types.js'
import { handleShutdown } from '../../src/pipeline/shutdown.js'
import { createBackup, restoreBackup } from '../server/backup.js'
import { createServer } from '../server/server.js'
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { HttpStore } from '../../src/stores/http.js'
import type { Reader, Sink } from '../../src/stores/types.js'
import { isTimestampProblem, parseTimestamp } from '../../src/event/timestamp.js'
import { exportEventsCsv, exportEventsNdjson, nodeUtilizationChartSvg, periodsChartSvg, ProgressBar, reportToCsv } from '../../src/export/index.js'
import { sessionUtilizationReport, userUtilizationReport, utilizationPeriodsReport } from '../../src/analyze/index.js'
import { loadSettings } from '../server/settings.js'

type Values = Record<string, string | boolean | undefined>
type Options = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: false }>

export interface Command {
  usage: string
  options: Options
  run(values: Values, positionals: string[]): Promise<number>
}

const help = { help: { type: 'boolean' as const, short: 'h' } }

/** The store a command reads or writes: `--db-url`, `--file`, else the server settings' (env). */
export function storeFrom(values: Values): ManagedStore {
  const settings = loadSettings()
  const dbUrl = (values['db-url'] as string | undefined) ?? (values.file ? undefined : (envMongoUrl(process.env)?.url ?? undefined))
  if (dbUrl) return new MongoStore(dbUrl, { database: (values.database as string | undefined) ?? settings.database_name, collection: settings.collection_name, onWarning: () => {} })
  return new FileStore((values.file as string | undefined) ?? settings.data_file, { maxFiles: 0 })
}

function formatLine(e: Event): string {
  const name = LEVEL_NAMES[e.log_level] ?? String(e.log_level)
  const color = e.log_level >= 40 ? '\x1b[31m' : e.log_level >= 30 ? '\x1b[33m' : e.log_level >= 20 ? '\x1b[36m' : '\x1b[90m'
  const tty = process.stdout.isTTY
  const data = e.event_data as Record<string, unknown> | string
  const message = typeof data === 'object' && data && 'message' in data ? String(data.message) : JSON.stringify(data)
  const source = Object.entries(e.source)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
  const level = tty ? `${color}${name.padEnd(8)}\x1b[0m` : name.padEnd(8)
  return `${e.event_timestamp} ${level} ${e.alert ? '[ALERT] ' : ''}${e.event_type} ${message}${source ? `  (${source})` : ''}`
}

/** The store to read: `--url` (an Event Manager), `--db-url`, `--file`, else from the environment. */
function readerFrom(values: Values): Sink & Reader {
  if (values.url) return new HttpStore(values.url as string, { token: (values.token as string | undefined) ?? envValue(process.env, 'EVENT_SERVER_TOKEN'), onWarning: () => {} })
  return storeFrom(values)
}

function parseWhen(flag: string, value: string | boolean | undefined): string | undefined {
  if (value === undefined) return undefined
  const p = parseTimestamp(value)
  if (isTimestampProblem(p)) throw new Error(`--${flag}: ${p.msg}`)
  return p.text.endsWith('Z') ? `${p.text.slice(0, -1)}+00:00` : p.text
}

async function outputStream(path: string | undefined): Promise<Writable> {
  if (!path || path === '-') return process.stdout
  const out = createWriteStream(path)
  await once(out, 'open')
  return out
}

const readOptions = {
  'db-url': { type: 'string' as const },
  database: { type: 'string' as const },
  file: { type: 'string' as const },
  url: { type: 'string' as const },
  token: { type: 'string' as const },
}

export const commands: Record<string, Command> = {
  export: {
    usage: `madsci-events export [--from ISO] [--to ISO] [--format csv|ndjson] [--output FILE] [--min-level L] [--include-archived]
                     [--db-url URL | --file PATH | --url EVENT_MANAGER_URL]

Writes stored events, oldest first, as CSV (flat columns, formula injection neutralised) or NDJSON,
streaming (constant memory). A progress line is shown on stderr when it is a terminal. The store is
--db-url / --file / --url, else EVENT_DB_URL, else the server's embedded file store.`,
    options: { ...help, ...readOptions, from: { type: 'string' }, to: { type: 'string' }, format: { type: 'string' }, output: { type: 'string', short: 'o' }, 'min-level': { type: 'string' }, 'include-archived': { type: 'boolean' } },
    async run(values) {
      const format = (values.format as string | undefined) ?? 'csv'
      if (format !== 'csv' && format !== 'ndjson') {
        process.stderr.write('madsci-events export: --format must be csv or ndjson\n')
        return 2
      }
      const minLevel = values['min-level'] ? parseLevel(values['min-level'] as string, { aliases: true }) : 0
      if (minLevel === undefined) {
        process.stderr.write('madsci-events export: --min-level must be a level name or number\n')
        return 2
      }
      const store = readerFrom(values)
      const out = await outputStream(values.output as string | undefined)
      const progress = new ProgressBar({ label: 'Exporting' })
      try {
        const source = store.streamEvents({
          startTime: parseWhen('from', values.from),
          endTime: parseWhen('to', values.to),
          includeArchived: values['include-archived'] === true,
          selector: minLevel > 0 ? { log_level: { $gte: minLevel } } : undefined,
        })
        const opts = { end: out !== process.stdout, onProgress: (n: number) => progress.update(n) }
        const r = format === 'csv' ? await exportEventsCsv(source, out, opts) : await exportEventsNdjson(source, out, opts)
        progress.update(r.rows)
        progress.finish()
        if (values.output) process.stderr.write(`exported ${r.rows} events to ${values.output}\n`)
        return 0
      } finally {
        await store.close()
      }
    },
  },

  report: {
    usage: `madsci-events report sessions|periods|users [--from ISO] [--to ISO] [--type hourly|daily|weekly|monthly]
                     [--timezone ZONE] [--format json|csv|svg] [--output FILE] [--db-url URL | --file PATH | --url URL]

The utilization reports of MADSci's /utilization/* routes, computed here over the store: JSON (the
same shape), MADSci's CSV layout, or an SVG chart (periods: utilization per bucket; sessions: node
busy/idle). Times without an offset are UTC (periods: this machine's local time, as MADSci).`,
    options: { ...help, ...readOptions, from: { type: 'string' }, to: { type: 'string' }, type: { type: 'string' }, timezone: { type: 'string' }, format: { type: 'string' }, output: { type: 'string', short: 'o' } },
    async run(values, positionals) {
      const kind = positionals[0]
      if (!['sessions', 'periods', 'users', 'user'].includes(kind ?? '')) {
        process.stderr.write(`madsci-events report: give sessions, periods or users\n`)
        return 2
      }
      const format = (values.format as string | undefined) ?? 'json'
      if (!['json', 'csv', 'svg'].includes(format) || (format === 'svg' && kind.startsWith('user'))) {
        process.stderr.write('madsci-events report: --format must be json, csv or svg (svg for sessions and periods)\n')
        return 2
      }
      const store = readerFrom(values)
      try {
        const startTime = values.from as string | undefined
        const endTime = values.to as string | undefined
        let report: Record<string, unknown>
        if (kind === 'sessions') report = await sessionUtilizationReport(store, { startTime, endTime })
        else if (kind === 'periods') report = await utilizationPeriodsReport(store, { startTime, endTime, analysisType: (values.type as string | undefined) ?? 'daily', userTimezone: (values.timezone as string | undefined) ?? 'America/Chicago' })
        else report = await userUtilizationReport(store, { startTime, endTime })
        let text: string
        if (format === 'json') text = JSON.stringify(report, null, 2) + '\n'
        else if (format === 'svg') text = kind === 'periods' ? periodsChartSvg(report) : nodeUtilizationChartSvg(report)
        else text = reportToCsv(kind === 'sessions' ? 'sessions' : kind === 'periods' ? 'periods' : 'user', report)
        const out = await outputStream(values.output as string | undefined)
        out.write(text)
        if (out !== process.stdout) {
          out.end()
          await once(out, 'finish')
          process.stderr.write(`wrote ${values.output}\n`)
        }
        return 'error' in report ? 1 : 0
      } finally {
        await store.close()
      }
    },
  },

  serve: {
    usage: `madsci-events serve [--port N] [--host H] [--db-url URL] [--database NAME]

Serves MADSci's Event Manager API (and live streaming, batch ingest, export, metrics) on
EVENT_SERVER_URL's host and port (default http://localhost:8001). Stores in MongoDB when a
database URL is given (--db-url or EVENT_DB_URL), otherwise in an embedded file store.`,
    options: { ...help, port: { type: 'string', short: 'p' }, host: { type: 'string' }, 'db-url': { type: 'string' }, database: { type: 'string' } },
    async run(values) {
      const settings: Record<string, unknown> = {}
      if (values['db-url']) settings.document_db_url = values['db-url']
      if (values.database) settings.database_name = values.database
      const server = createServer({ settings })
      const port = values.port !== undefined ? Number(values.port) : undefined
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
        process.stderr.write(`madsci-events serve: --port must be a port number, got ${JSON.stringify(values.port)}\n`)
        return 2
      }
      const { url } = await server.listen(port, values.host as string | undefined)
      process.stdout.write(`madsci-events server at ${url} — storing in ${server.describe()}; API docs at ${url}/docs\n`)
      handleShutdown(server)
      return undefined as unknown as number
    },
  },

  tail: {
    usage: `madsci-events tail [--url URL] [--min-level LEVEL] [--type T1,T2] [--json] [--token T]

Prints events as they arrive. Uses the live stream of a madsci-events server; polls GET /events
on a Python Event Manager. URL defaults to EVENT_SERVER_URL, then http://localhost:8001.`,
    options: { ...help, url: { type: 'string' }, 'min-level': { type: 'string' }, type: { type: 'string' }, json: { type: 'boolean' }, token: { type: 'string' } },
    async run(values) {
      const base = ((values.url as string | undefined) ?? envValue(process.env, 'EVENT_SERVER_URL') ?? 'http://localhost:8001').replace(/\/?$/, '/')
      const token = (values.token as string | undefined) ?? envValue(process.env, 'EVENT_SERVER_TOKEN')
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
      const minLevel = values['min-level'] ? parseLevel(values['min-level'] as string, { aliases: true }) : 0
      if (minLevel === undefined) {
        process.stderr.write('madsci-events tail: --min-level must be a level name or number\n')
        return 2
      }
      const print = (e: Event): void => {
        process.stdout.write((values.json ? JSON.stringify(e) : formatLine(e)) + '\n')
      }
      const health = await fetch(new URL('health', base), { headers })
      const ours = (health.headers.get('x-madsci-events') ?? '').includes('stream')
      if (ours) {
        const q = new URLSearchParams({ min_level: String(minLevel) })
        if (values.type) q.set('event_type', values.type as string)
        let last: string | undefined
        for (;;) {
          try {
            const res = await fetch(new URL(`events/stream?${q}`, base), { headers: { ...headers, ...(last ? { 'last-event-id': last } : {}) } })
            if (!res.ok || !res.body) throw new Error(`the stream answered ${res.status}`)
            const decoder = new TextDecoder()
            let buf = ''
            for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
              buf += decoder.decode(chunk, { stream: true })
              let i
              while ((i = buf.indexOf('\n\n')) !== -1) {
                const frame = buf.slice(0, i)
                buf = buf.slice(i + 2)
                const data = frame.split('\n').find((l) => l.startsWith('data: '))
                const id = frame.split('\n').find((l) => l.startsWith('id: '))
                if (id) last = id.slice(4)
                if (data) print(parseEvent(JSON.parse(data.slice(6))))
              }
            }
          } catch (err) {
            process.stderr.write(`madsci-events tail: ${(err as Error).message}; reconnecting\n`)
          }
          await new Promise((r) => setTimeout(r, 1000))
        }
      }
      // A Python Event Manager: poll the newest events.
      const seen = new Set<string>()
      let first = true
      for (;;) {
        const res = await fetch(new URL(`events?number=100&level=${minLevel}`, base), { headers })
        if (res.ok) {
          const events = Object.values((await res.json()) as Record<string, unknown>).map((e) => parseEvent(e)).reverse()
          for (const e of events) {
            if (seen.has(e.event_id)) continue
            seen.add(e.event_id)
            const types = (values.type as string | undefined)?.split(',')
            if (!first && (!types || types.includes(e.event_type))) print(e)
          }
          first = false
        }
        await new Promise((r) => setTimeout(r, 1000))
      }
    },
  },

  backup: {
    usage: `madsci-events backup [--db-url URL | --file PATH] [--dir DIR] [--description TEXT]

Writes a restorable NDJSON dump (the layout of POST /backup) into DIR (default EVENT_BACKUP_DIR).`,
    options: { ...help, 'db-url': { type: 'string' }, file: { type: 'string' }, database: { type: 'string' }, dir: { type: 'string' }, description: { type: 'string' } },
    async run(values) {
      const settings = loadSettings()
      const store = storeFrom(values)
      try {
        const path = await createBackup(store, {
          backupDir: (values.dir as string | undefined) ?? settings.backup_dir,
          database: (values.database as string | undefined) ?? settings.database_name,
          description: values.description as string | undefined,
          maxCount: settings.backup_max_count,
        })
        process.stdout.write(`${path}\n`)
        return 0
      } finally {
        await store.close()
      }
    },
  },

  restore: {
    usage: `madsci-events restore <backup-dir> [--db-url URL | --file PATH]

Loads a backup made by POST /backup or \`madsci-events backup\` into a store. Idempotent: events
already there (same id) are left as they are.`,
    options: { ...help, 'db-url': { type: 'string' }, file: { type: 'string' }, database: { type: 'string' } },
    async run(values, positionals) {
      if (positionals.length !== 1) {
        process.stderr.write('madsci-events restore: give exactly one backup directory\n')
        return 2
      }
      const store = storeFrom(values)
      try {
        const n = await restoreBackup(store, positionals[0], {
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
  },
}
