/**
 * `save_to_file` / `output_path` of the `/utilization/*` routes (SPEC §6.1), restricted to one
 * configured directory (D14: upstream writes to any path on the server).
 *
 * `output_path` names a directory inside the root (relative to it, or absolute but inside it); it
 * is created one component at a time, and every existing component is checked with `lstat`, so a
 * symbolic link that leads out of the root is refused before anything is created through it. The
 * file is opened with `O_NOFOLLOW`, so a link planted at the file name is refused too. Escapes
 * throw `PathNotAllowedError`.
 */
import { constants } from 'node:fs'
import { lstat, mkdir, open, realpath } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { ConfigError, PathNotAllowedError } from '../errors.js'
import { ERROR_ANSWERS } from '../analyze/params.js'
import { CSV_DOWNLOAD_NAMES, reportToCsv, type ReportCsvOptions, type ReportKind } from './reports.js'

function inside(root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(`..${sep}`))
}

/**
 * The real directory for `outputPath` under `root`, created if missing. Throws
 * `PathNotAllowedError` when it would be (or, through a symbolic link, lead) outside `root`.
 */
export async function resolveOutputDirectory(root: string, outputPath: string): Promise<string> {
  if (!root) throw new ConfigError('csvOutputDir', 'no directory is configured for saved CSV files; set it to allow save_to_file')
  const realRoot = await realpath(resolve(root)).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError('csvOutputDir', `the directory ${JSON.stringify(root)} cannot be used (${err.code ?? err.message}); create it first`)
  })
  // Node refuses such paths with a TypeError (the routes answered 500): a clear error instead.
  if (outputPath.includes('\0')) throw new ConfigError('output_path', `${JSON.stringify(outputPath)} contains a NUL character; use a plain directory name`)
  const target = isAbsolute(outputPath) ? resolve(outputPath) : resolve(realRoot, outputPath)
  // An absolute path may name the root by its configured (unresolved) spelling.
  const lexicalBase = inside(realRoot, target) ? realRoot : inside(resolve(root), target) ? resolve(root) : undefined
  if (!lexicalBase) throw new PathNotAllowedError(outputPath, root)
  let current = realRoot
  for (const part of relative(lexicalBase, target).split(sep).filter(Boolean)) {
    const next = join(current, part)
    let info
    try {
      try {
        info = await lstat(next)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        await mkdir(next).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e
        })
        info = await lstat(next)
      }
    } catch (err) {
      // A name the file system refuses (too long, not a directory on the way): the caller's path, not a server fault.
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENAMETOOLONG' || code === 'ENOTDIR' || code === 'EINVAL' || code === 'EILSEQ') {
        throw new ConfigError('output_path', `${JSON.stringify(outputPath)} cannot be used as a directory (${code})`)
      }
      throw err
    }
    if (info.isSymbolicLink()) {
      const real = await realpath(next)
      if (!inside(realRoot, real)) throw new PathNotAllowedError(outputPath, root)
      current = real
    } else if (!info.isDirectory()) {
      throw new ConfigError('output_path', `${JSON.stringify(next)} exists and is not a directory`)
    } else current = next
  }
  return current
}

/**
 * `dir/name`, checked as resolved: a name made from request parameters must stay one plain
 * component of `dir` (`../`, a separator or a NUL in it would place the file elsewhere).
 */
export function fileInDirectory(dir: string, name: string): string {
  const file = resolve(dir, name)
  if (name.includes('\0') || dirname(file) !== resolve(dir) || basename(file) !== name) throw new PathNotAllowedError(name, dir)
  return file
}

/** Upstream's file name parts and `report_type` per route (§6.1). */
export const SAVED_REPORT_NAMES: Record<ReportKind, { prefix: string; reportType: string }> = {
  sessions: { prefix: 'utilization_report', reportType: 'session_utilization' },
  periods: { prefix: 'utilization_periods', reportType: 'utilization_periods' },
  user: { prefix: 'user_utilization', reportType: 'user_utilization' },
}

function yyyymmdd(d: Date): string {
  return `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}`
}

/**
 * Write CSV text as `madsci_<prefix>_<variant>_<YYYYMMDD server-local>.csv` in `outputPath` under
 * `root`. Returns the file's path.
 */
export async function saveCsvFile(
  csv: string,
  options: { root: string; outputPath: string; kind: ReportKind; variant: string; date?: Date },
): Promise<string> {
  const dir = await resolveOutputDirectory(options.root, options.outputPath)
  const file = fileInDirectory(dir, `madsci_${SAVED_REPORT_NAMES[options.kind].prefix}_${options.variant}_${yyyymmdd(options.date ?? new Date())}.csv`)
  let handle
  try {
    handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0), 0o644)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new PathNotAllowedError(file, options.root)
    throw err
  }
  try {
    await handle.writeFile(csv, 'utf8')
  } finally {
    await handle.close()
  }
  return file
}

/** What a route answers for a CSV request. */
export type CsvAnswer =
  | { type: 'csv'; body: string; filename: string; contentType: 'text/csv; charset=utf-8' }
  | { type: 'json'; body: Record<string, unknown> }

export interface CsvRequest {
  saveToFile?: boolean
  outputPath?: string | null
  /** The directory saved files must stay in; without it `save_to_file` is refused. */
  root?: string
  /** For the saved file's date. */
  date?: Date
  csv?: ReportCsvOptions
}

/**
 * The `csv_format=true` answer of a route for a report, as upstream gives it: a download, the
 * saved-file JSON, or an `{ error }` JSON (always HTTP 200). An error report is returned as it is
 * (D13: upstream tries CSV anyway and answers `CSV generation failed: Invalid report data provided`).
 * A path outside `root` throws `PathNotAllowedError` (and a missing `root` a `ConfigError`).
 */
export async function reportCsvAnswer(kind: ReportKind, report: Record<string, unknown>, request: CsvRequest = {}): Promise<CsvAnswer> {
  if ('error' in report) return { type: 'json', body: report }
  try {
    const variant = kind === 'periods' ? String((report.summary_metadata as Record<string, unknown> | undefined)?.analysis_type ?? 'daily') : kind === 'user' ? 'detailed' : 'basic'
    if (request.saveToFile) {
      if (!request.outputPath) return { type: 'json', body: ERROR_ANSWERS.csvOutputPathRequired() }
      const csv = reportToCsv(kind, report, request.csv)
      const file = await saveCsvFile(csv, { root: request.root ?? '', outputPath: request.outputPath, kind, variant, date: request.date })
      return {
        type: 'json',
        body: {
          success: true,
          message: 'CSV file saved successfully',
          file_path: file,
          csv_format: true,
          saved_to_server: true,
          report_type: SAVED_REPORT_NAMES[kind].reportType,
        },
      }
    }
    return { type: 'csv', body: reportToCsv(kind, report, request.csv), filename: CSV_DOWNLOAD_NAMES[kind], contentType: 'text/csv; charset=utf-8' }
  } catch (err) {
    // A refused path is not a CSV failure: the caller answers it (e.g. 403 with the message).
    if (err instanceof PathNotAllowedError || err instanceof ConfigError) throw err
    return { type: 'json', body: ERROR_ANSWERS.csv(err) }
  }
}
