/**
 * File names made from request parameters (issue 21, item 2). `output_path` was confined to the
 * export directory, but the saved periods report's name embeds `analysis_type`
 * (`madsci_utilization_periods_<analysis_type>_<date>.csv`) and `path.join` resolved its `../`:
 * `analysis_type=../../../../../../tmp/x` wrote (and truncated) `/tmp/x_<date>.csv`. With no token
 * and CORS open a cross-site `<img src>` was enough.
 *
 * Every parameter that reaches a file name is checked against its allowed values (a 422), and the
 * final path is checked as resolved (`fileInDirectory`) wherever a file is saved: the utilization
 * CSVs, `GET /events/export`, backups. A fast-check property then sends hostile `analysis_type`,
 * `format` and `output_path` values to every saving route and walks the sandbox afterwards.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PathNotAllowedError } from '../../src/errors.js'
import { fileInDirectory, saveCsvFile } from '../../src/export/index.js'
import { call, naiveDaysAgo, type Running, startServer } from '../server/helpers.js'

function yyyymmdd(d = new Date()): string {
  return `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}`
}

/** Every file under `dir` (links not followed). */
function walk(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...walk(p))
    else out.push(p)
  }
  return out
}

const WINDOW = `start_time=${encodeURIComponent(naiveDaysAgo(2))}&end_time=${encodeURIComponent(naiveDaysAgo(-1))}`

describe('file names made from request parameters', () => {
  let r: Running
  /** A directory outside the server's, where the attack aims. */
  let target: string
  let exportDir: string
  beforeAll(async () => {
    target = mkdtempSync(join(tmpdir(), 'madsci-sec-target-'))
    r = await startServer('file', 'report-file-names')
    exportDir = join(r.dir, 'exports')
    // Events in the window, so the periods report is made and its CSV saved.
    const events = Array.from({ length: 6 }, (_, i) => ({ event_type: i % 2 ? 'workflow_complete' : 'workflow_start', event_timestamp: naiveDaysAgo(1 - i * 0.01), source: { workflow_id: 'wf-1' } }))
    expect((await call(r.url, 'POST', '/events/batch', events)).status).toBe(200)
    await r.server.flush()
  })
  afterAll(async () => {
    await r?.close()
    rmSync(target, { recursive: true, force: true })
  })

  it("the issue's request: analysis_type=../../../../../../<dir>/x is a 422 and writes nothing, nor truncates the file it names", async () => {
    const victim = join(target, `x_${yyyymmdd()}.csv`)
    writeFileSync(victim, 'precious\n')
    const up = '../'.repeat(12)
    const res = await call(r.url, 'GET', `/utilization/periods?${WINDOW}&csv_format=true&save_to_file=true&output_path=.&analysis_type=${encodeURIComponent(up + target.slice(1) + '/x')}`, undefined, {
      origin: 'http://evil.example',
    })
    expect(res.status).toBe(422)
    expect(res.json().detail[0]).toMatchObject({ type: 'enum', loc: ['query', 'analysis_type'] })
    expect(readFileSync(victim, 'utf8')).toBe('precious\n')
    expect(readdirSync(target)).toEqual([`x_${yyyymmdd()}.csv`])
    expect(existsSync(exportDir) ? walk(exportDir) : []).toEqual([])
  })

  it('only hourly, daily, weekly and monthly name a saved file; an unknown type is still echoed in a JSON report (as MADSci)', async () => {
    for (const t of ['../x', '..', 'a/b', '/abs', 'daily/../../x', 'x\0y', 'hourly\r\nSet-Cookie: a=b', 'DAILY', '']) {
      const res = await call(r.url, 'GET', `/utilization/periods?${WINDOW}&csv_format=true&save_to_file=true&output_path=.&analysis_type=${encodeURIComponent(t)}`)
      expect([t, res.status]).toEqual([t, 422])
    }
    // %2e%2e%2f decodes to ../ before it is checked.
    expect((await call(r.url, 'GET', `/utilization/periods?${WINDOW}&csv_format=true&save_to_file=true&output_path=.&analysis_type=%2e%2e%2fx`)).status).toBe(422)
    for (const t of ['hourly', 'daily', 'weekly', 'monthly']) {
      const res = await call(r.url, 'GET', `/utilization/periods?${WINDOW}&csv_format=true&save_to_file=true&output_path=reports&analysis_type=${t}`)
      expect([t, res.status, res.json().success]).toEqual([t, 200, true])
      expect(res.json().file_path).toBe(join(realpathSync(exportDir), 'reports', `madsci_utilization_periods_${t}_${yyyymmdd()}.csv`))
    }
    const json = await call(r.url, 'GET', `/utilization/periods?${WINDOW}&analysis_type=${encodeURIComponent('../fortnightly')}`)
    expect(json.status).toBe(200)
    expect(json.json().summary_metadata.analysis_type).toBe('../fortnightly')
    // Not saved: the CSV download is named by the route, not the parameter.
    const download = await call(r.url, 'GET', `/utilization/periods?${WINDOW}&csv_format=true&analysis_type=${encodeURIComponent('../x')}`)
    expect(download.status).toBe(200)
    expect(download.headers.get('content-disposition')).not.toContain('..')
  })

  it('the final path is checked as resolved, whatever the caller validated: fileInDirectory and saveCsvFile refuse a name that leaves its directory', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'madsci-sec-dir-')))
    try {
      expect(fileInDirectory(dir, 'madsci_a.csv')).toBe(join(dir, 'madsci_a.csv'))
      for (const name of ['../x.csv', 'a/../../x.csv', 'a/b.csv', '/etc/x.csv', '..', '.', '', 'x\0.csv']) {
        expect(() => fileInDirectory(dir, name), name).toThrow(PathNotAllowedError)
      }
      await expect(saveCsvFile('a\n', { root: dir, outputPath: '.', kind: 'periods', variant: `../../../../../..${target}/y` })).rejects.toThrow(PathNotAllowedError)
      expect(readdirSync(target).filter((n) => n.startsWith('y_'))).toEqual([])
      expect(readdirSync(dir)).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('property: hostile analysis_type, format and output_path on every saving route never write outside the export directory, never 5xx', async () => {
    const sandbox = r.dir
    const before = new Set(walk(sandbox))
    const targetBefore = readdirSync(target)
    const part = fc.constantFrom('..', '../', '/', '.', 'x', 'daily', 'hourly', '%2e%2e', '%2F', '\\', '\0', '\r\n', 'exports', 'outside', target, sandbox, '~', ' ', '*')
    const value = fc.array(part, { maxLength: 8 }).map((p) => p.join(''))
    // Climbing out: a chain of `../` (each one cancels a name component) and a last name.
    const climb = fc.tuple(fc.integer({ min: 1, max: 8 }), fc.constantFrom('x', 'outside/x', `${target.slice(1)}/z`, '')).map(([n, rest]) => '../'.repeat(n) + rest)
    const hostile = fc.oneof(value, climb)
    const plainDir = fc.constantFrom('.', 'reports', './a/b')
    const route = fc.constantFrom(
      `/utilization/periods?${WINDOW}&csv_format=true&`,
      `/utilization/sessions?${WINDOW}&csv_format=true&`,
      `/utilization/user?${WINDOW}&csv_format=true&`,
      `/utilization/users?${WINDOW}&csv_format=true&`,
      '/events/export?',
    )
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(route, hostile, fc.oneof(plainDir, hostile), fc.oneof(hostile, fc.constantFrom('csv', 'ndjson')), async (path, analysisType, outputPath, format) => {
        const q = `save_to_file=true&output_path=${encodeURIComponent(outputPath)}&analysis_type=${encodeURIComponent(analysisType)}&format=${encodeURIComponent(format)}`
        const res = await call(r.url, 'GET', path + q)
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        expect([path + q, res.status < 500], res.text.slice(0, 300)).toEqual([path + q, true])
      }),
      { numRuns: 300 },
    )
    const real = realpathSync(exportDir)
    for (const f of walk(sandbox).filter((x) => !before.has(x))) {
      // Only the store (the server's own events) and files inside the export directory are new.
      const inExports = !relative(real, realpathSync(f)).startsWith('..')
      expect([f, inExports || f.startsWith(join(sandbox, 'events.ndjson'))]).toEqual([f, true])
      expect(statSync(f).isFile()).toBe(true)
    }
    expect(readdirSync(target)).toEqual(targetBefore)
    // The generators reached both refusals and saved files.
    expect([...statuses.keys()].some((s) => s === 422 || s === 403)).toBe(true)
    expect(statuses.get(200) ?? 0).toBeGreaterThan(10)
  })
})
