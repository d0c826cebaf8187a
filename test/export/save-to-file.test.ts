import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PathNotAllowedError } from '../../src/errors.js'
import { eventsReader, sessionUtilizationReport } from '../../src/analyze/index.js'
import { reportCsvAnswer, reportToCsv, saveCsvFile } from '../../src/export/index.js'
import { sessionHistory } from '../analyze/build.js'

let base: string
let root: string
let outside: string

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'madsci-save-'))
  root = join(base, 'reports')
  outside = join(base, 'elsewhere')
  await mkdir(root)
  await mkdir(outside)
})
afterEach(async () => {
  await rm(base, { recursive: true, force: true })
})

const date = new Date(2025, 0, 7, 12)

describe('saving report CSVs inside one directory (D14)', () => {
  it("writes upstream's file name in a directory created inside the root", async () => {
    const file = await saveCsvFile('a,b\r\n', { root, outputPath: 'lab/jan', kind: 'periods', variant: 'weekly', date })
    expect(file).toBe(join(root, 'lab', 'jan', 'madsci_utilization_periods_weekly_20250107.csv'))
    expect(await readFile(file, 'utf8')).toBe('a,b\r\n')
    const again = await saveCsvFile('c\r\n', { root, outputPath: join(root, 'lab', 'jan'), kind: 'sessions', variant: 'basic', date })
    expect(again).toBe(join(root, 'lab', 'jan', 'madsci_utilization_report_basic_20250107.csv'))
    expect(await saveCsvFile('d\r\n', { root, outputPath: '.', kind: 'user', variant: 'detailed', date })).toBe(join(root, 'madsci_user_utilization_detailed_20250107.csv'))
  })

  it('refuses paths that leave the root, literally or through symbolic links', async () => {
    const opts = { kind: 'user' as const, variant: 'detailed', date }
    await expect(saveCsvFile('x', { ...opts, root, outputPath: '../elsewhere' })).rejects.toThrow(PathNotAllowedError)
    await expect(saveCsvFile('x', { ...opts, root, outputPath: outside })).rejects.toThrow(PathNotAllowedError)
    await expect(saveCsvFile('x', { ...opts, root, outputPath: 'a/../../elsewhere' })).rejects.toThrow(PathNotAllowedError)
    // A link inside the root that points out of it; nothing is created through it.
    await symlink(outside, join(root, 'escape'))
    await expect(saveCsvFile('x', { ...opts, root, outputPath: 'escape/deeper' })).rejects.toThrow(PathNotAllowedError)
    expect(await readdir(outside)).toEqual([])
    // A link planted at the file name itself.
    await mkdir(join(root, 'd'))
    await writeFile(join(outside, 'victim'), 'keep')
    await symlink(join(outside, 'victim'), join(root, 'd', 'madsci_user_utilization_detailed_20250107.csv'))
    await expect(saveCsvFile('x', { ...opts, root, outputPath: 'd' })).rejects.toThrow(PathNotAllowedError)
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('keep')
    // A link that stays inside the root is fine.
    await mkdir(join(root, 'real'))
    await symlink(join(root, 'real'), join(root, 'alias'))
    expect(await saveCsvFile('y', { ...opts, root, outputPath: 'alias' })).toBe(join(root, 'real', 'madsci_user_utilization_detailed_20250107.csv'))
  })

  it('answers CSV requests as the routes do', async () => {
    const report = await sessionUtilizationReport(eventsReader(sessionHistory()), { startTime: '2025-01-06T07:00:00', endTime: '2025-01-06T13:00:00' })
    const download = await reportCsvAnswer('sessions', report)
    expect(download).toEqual({ type: 'csv', body: reportToCsv('sessions', report), filename: 'session_utilization_report.csv', contentType: 'text/csv; charset=utf-8' })
    expect(await reportCsvAnswer('sessions', report, { saveToFile: true, root })).toEqual({ type: 'json', body: { error: 'output_path is required when save_to_file=True' } })
    const saved = await reportCsvAnswer('sessions', report, { saveToFile: true, outputPath: 'out', root, date })
    expect(saved).toEqual({
      type: 'json',
      body: {
        success: true,
        message: 'CSV file saved successfully',
        file_path: join(root, 'out', 'madsci_utilization_report_basic_20250107.csv'),
        csv_format: true,
        saved_to_server: true,
        report_type: 'session_utilization',
      },
    })
    // An error report comes back as it is (upstream tries the CSV anyway: D13).
    expect(await reportCsvAnswer('sessions', { error: 'Failed to generate report: boom' })).toEqual({ type: 'json', body: { error: 'Failed to generate report: boom' } })
    await expect(reportCsvAnswer('sessions', report, { saveToFile: true, outputPath: '/etc', root })).rejects.toThrow(PathNotAllowedError)
    await expect(reportCsvAnswer('sessions', report, { saveToFile: true, outputPath: 'x' })).rejects.toThrow('no directory is configured')
  })
})
