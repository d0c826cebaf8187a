import type { ServerResponse } from 'node:http'
import { ConfigError, PathNotAllowedError, type ValidationIssue } from '../../src/errors.js'
import { parseLevel } from '../../src/event/levels.js'
import {
  aggregateEvents,
  type AggregateBucket,
  type AggregateKey,
  parseBoolParam,
  sessionUtilizationReport,
  userUtilizationReport,
  utilizationPeriodsReport,
} from '../../src/analyze/index.js'
import { exportEventsCsv, exportEventsNdjson, fileInDirectory, nodeUtilizationChartSvg, periodsChartSvg, reportCsvAnswer, resolveOutputDirectory } from '../../src/export/index.js'
import { OWNERSHIP_FIELDS } from '../../src/event/model.js'
import type { ServerContext } from './context.js'
import { detail, QueryParser, type Request, type Router, sendJson, validationError } from './http.js'
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'

/**
 * MADSci's analysis routes (SPEC §2.10-2.12) over the analyzers — same parameters and JSON, errors
 * as `{ "error": ... }` with 200 as upstream — plus ours: `/utilization/users` (the path MADSci's
 * client calls, D3), SVG charts, `GET /events/export` (CSV or NDJSON, streamed) and
 * `GET /events/aggregate` (counts by type, level or source field, optionally per time bucket).
 * `save_to_file` writes only inside the server's export directory (D14).
 */

function flags(req: Request): { csv: boolean; save: boolean; outputPath: string | undefined } {
  const issues: ValidationIssue[] = []
  const b = (name: string): boolean => {
    const v = parseBoolParam(req.query.get(name), false)
    if (v === undefined) {
      issues.push({ type: 'bool_parsing', loc: ['query', name], msg: 'Input should be a valid boolean, unable to interpret input', input: req.query.get(name) })
      return false
    }
    return v
  }
  const csv = b('csv_format')
  const save = b('save_to_file')
  if (issues.length) throw validationError(issues)
  return { csv, save, outputPath: req.query.get('output_path') ?? undefined }
}

async function answer(res: ServerResponse, ctx: ServerContext, kind: 'sessions' | 'periods' | 'user', report: Record<string, unknown>, f: ReturnType<typeof flags>): Promise<void> {
  if (!f.csv) return sendJson(res, 200, report)
  try {
    const a = await reportCsvAnswer(kind, report, { saveToFile: f.save, outputPath: f.outputPath, root: ctx.settings.export_dir ?? undefined })
    if (a.type === 'json') return sendJson(res, 200, a.body)
    res.writeHead(200, { 'content-type': a.contentType, 'content-disposition': `attachment; filename=${a.filename}` })
    res.end(a.body)
  } catch (err) {
    if (err instanceof PathNotAllowedError) throw detail(403, err.message)
    if (err instanceof ConfigError) throw outputPathRefused(err)
    throw err
  }
}

const str = (req: Request, name: string): string | undefined => req.query.get(name) ?? undefined

/** The `analysis_type`s of MADSci's periods report. */
const ANALYSIS_TYPES = ['hourly', 'daily', 'weekly', 'monthly']

/** An unusable `output_path` (NUL, too long, a file on the way) is the caller's 400; no export dir is a 403. */
function outputPathRefused(err: ConfigError): Error {
  if (err.option === 'output_path') return detail(400, err.message)
  return detail(403, `Saving files is turned off on this server (EVENT_EXPORT_DIR): ${err.message}`)
}

/**
 * `source` with its first item already read (so a failing store throws here), then the rest as
 * they come. `close()` releases the source (a database cursor) when it will not be read.
 */
async function started<T>(source: AsyncIterable<T>): Promise<AsyncIterable<T> & { close(): Promise<void> }> {
  const it = source[Symbol.asyncIterator]()
  const first = await it.next()
  let done = first.done === true
  const close = async (): Promise<void> => {
    if (done) return
    done = true
    await it.return?.()
  }
  return {
    close,
    async *[Symbol.asyncIterator]() {
      try {
        if (!first.done) yield first.value
        while (!done) {
          const r = await it.next()
          if (r.done) done = true
          else yield r.value
        }
      } finally {
        await close()
      }
    },
  }
}

export function analysisRoutes(router: Router, ctx: ServerContext): void {
  const store = ctx.store

  router.add('GET', '/utilization/sessions', async (req, res) => {
    const f = flags(req)
    const report = await sessionUtilizationReport(store, { startTime: str(req, 'start_time'), endTime: str(req, 'end_time') })
    await answer(res, ctx, 'sessions', report, f)
  })

  router.add('GET', '/utilization/periods', async (req, res) => {
    const f = flags(req)
    const include = parseBoolParam(req.query.get('include_users'), true)
    if (include === undefined) throw validationError([{ type: 'bool_parsing', loc: ['query', 'include_users'], msg: 'Input should be a valid boolean, unable to interpret input', input: req.query.get('include_users') }])
    const analysisType = str(req, 'analysis_type') ?? 'daily'
    // The saved file is named after analysis_type (madsci_utilization_periods_<type>_<date>.csv):
    // only the four known types may reach a file name (`../../tmp/x` wrote /tmp/x_<date>.csv).
    // MADSci echoes an unknown type in a JSON report, as here when nothing is saved.
    if (f.csv && f.save && !ANALYSIS_TYPES.includes(analysisType)) {
      throw validationError([{ type: 'enum', loc: ['query', 'analysis_type'], msg: `Input should be ${ANALYSIS_TYPES.map((t) => `'${t}'`).join(', ')} to save a file`, input: analysisType, ctx: { expected: ANALYSIS_TYPES.join(', ') } }])
    }
    const report = await utilizationPeriodsReport(store, {
      startTime: str(req, 'start_time'),
      endTime: str(req, 'end_time'),
      analysisType,
      userTimezone: str(req, 'user_timezone') ?? 'America/Chicago',
      includeUsers: include,
    })
    await answer(res, ctx, 'periods', report, f)
  })

  const user = async (req: Request, res: ServerResponse): Promise<void> => {
    const f = flags(req)
    const report = await userUtilizationReport(store, { startTime: str(req, 'start_time'), endTime: str(req, 'end_time') })
    await answer(res, ctx, 'user', report, f)
  }
  router.add('GET', '/utilization/user', user)
  // The path MADSci's EventClient calls (SPEC D3).
  router.add('GET', '/utilization/users', user)

  const svg = (res: ServerResponse, body: string): void => {
    res.writeHead(200, { 'content-type': 'image/svg+xml; charset=utf-8', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" })
    res.end(body)
  }
  router.add('GET', '/utilization/periods.svg', async (req, res) => {
    const report = await utilizationPeriodsReport(store, {
      startTime: str(req, 'start_time'),
      endTime: str(req, 'end_time'),
      analysisType: str(req, 'analysis_type') ?? 'daily',
      userTimezone: str(req, 'user_timezone') ?? 'America/Chicago',
      includeUsers: false,
    })
    svg(res, periodsChartSvg(report))
  })
  router.add('GET', '/utilization/sessions.svg', async (req, res) => {
    svg(res, nodeUtilizationChartSvg(await sessionUtilizationReport(store, { startTime: str(req, 'start_time'), endTime: str(req, 'end_time') })))
  })

  router.add('GET', '/events/export', async (req, res) => {
    const q = new QueryParser(req.query)
    const format = q.str('format') ?? 'csv'
    const startTime = q.datetime('start_time')
    const endTime = q.datetime('end_time')
    const includeArchived = q.bool('include_archived', false)
    const save = q.bool('save_to_file', false)
    const bom = q.bool('bom', false)
    const rawLevel = q.str('min_level')
    q.check()
    if (format !== 'csv' && format !== 'ndjson') throw validationError([{ type: 'enum', loc: ['query', 'format'], msg: "Input should be 'csv' or 'ndjson'", input: format }])
    const minLevel = rawLevel === undefined ? 0 : (parseLevel(rawLevel, { aliases: true }) ?? (/^\d+$/.test(rawLevel) ? Number(rawLevel) : undefined))
    if (minLevel === undefined) throw validationError([{ type: 'enum', loc: ['query', 'min_level'], msg: 'Input should be a level number or name', input: rawLevel }])
    const name = `madsci_events_${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}.${format}`
    let dir: string | undefined
    if (save) {
      try {
        dir = await resolveOutputDirectory(ctx.settings.export_dir ?? '', q.str('output_path') ?? '.')
      } catch (err) {
        if (err instanceof PathNotAllowedError) throw detail(403, err.message)
        if (err instanceof ConfigError) throw outputPathRefused(err)
        throw err
      }
    }
    // The first event is read before anything is answered or created: a store that is down is a
    // 503 with a JSON body, not a 200 whose body breaks off (nor an empty file left in the export dir).
    const source = await started(
      store.streamEvents({
        startTime,
        endTime,
        includeArchived,
        selector: minLevel > 0 ? { log_level: { $gte: minLevel } } : undefined,
      }),
    )
    if (dir !== undefined) {
      // Never overwrite: a second export within the same second gets `_1`, `_2`, ... (it answered 500).
      let file = fileInDirectory(dir, name)
      let out: ReturnType<typeof createWriteStream>
      try {
        for (let n = 1; ; n++) {
          out = createWriteStream(file, { flags: 'wx' })
          try {
            await once(out, 'open')
            break
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n > 1000) throw err
            file = fileInDirectory(dir, name.replace(`.${format}`, `_${n}.${format}`))
          }
        }
      } catch (err) {
        await source.close()
        throw err
      }
      const r = format === 'csv' ? await exportEventsCsv(source, out, { bom }) : await exportEventsNdjson(source, out)
      return sendJson(res, 200, { success: true, file_path: file, rows: r.rows, format })
    }
    res.writeHead(200, {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename=${name}`,
    })
    // Streamed: millions of rows in constant memory; a client that goes away stops the export.
    const abort = new AbortController()
    req.raw.on('close', () => abort.abort())
    try {
      if (format === 'csv') await exportEventsCsv(source, res, { signal: abort.signal, bom })
      else await exportEventsNdjson(source, res, { signal: abort.signal })
    } catch (err) {
      if (!abort.signal.aborted) throw err
    }
  })

  router.add('GET', '/events/aggregate', async (req, res) => {
    const q = new QueryParser(req.query)
    const by = (q.str('group_by') ?? 'event_type') as AggregateKey
    const bucket = q.str('bucket') as AggregateBucket | undefined
    const timeZone = q.str('timezone') ?? 'UTC'
    const startTime = q.datetime('start_time')
    const endTime = q.datetime('end_time')
    q.check()
    const keys = new Set<string>(['event_type', 'log_level', ...OWNERSHIP_FIELDS.map((f) => `source.${f}`)])
    if (!keys.has(by)) throw validationError([{ type: 'enum', loc: ['query', 'group_by'], msg: 'Input should be event_type, log_level or source.<ownership field>', input: by }])
    if (bucket !== undefined && !['hour', 'day', 'week', 'month'].includes(bucket)) {
      throw validationError([{ type: 'enum', loc: ['query', 'bucket'], msg: "Input should be 'hour', 'day', 'week' or 'month'", input: bucket }])
    }
    let r
    try {
      r = await aggregateEvents(store, { by, bucket, timeZone, startTime, endTime })
    } catch (err) {
      if (err instanceof ConfigError) throw validationError([{ type: 'value_error', loc: ['query', 'timezone'], msg: err.message, input: timeZone }])
      throw err
    }
    sendJson(res, 200, {
      group_by: r.by,
      bucket: r.bucket,
      timezone: r.time_zone,
      start_time: r.start_time,
      end_time: r.end_time,
      total: r.total,
      missing: r.missing,
      groups: r.counts,
      ...(r.labels ? { labels: r.labels } : {}),
      ...(r.buckets ? { buckets: r.buckets } : {}),
    })
  })
}
