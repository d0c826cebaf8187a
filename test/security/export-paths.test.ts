/**
 * Hostile input (issue 9), export and backup: formula injection is neutralised in every CSV the
 * server and the CLI write, and no server route can write or read outside the configured export
 * and backup directories (`..`, absolute paths, sibling prefixes, URL-encoded forms, NUL bytes,
 * over-long names, symbolic links), on both stores.
 *
 * test/export/*.test.ts check the CSV writers and `saveCsvFile` as functions, and
 * test/server/backup.test.ts backup descriptions; this file goes through the running server's
 * routes and the CLI.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { inject } from 'vitest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, naiveDaysAgo, type Running, startServer, STORE_KINDS } from '../server/helpers.js'

/** Cells a spreadsheet would run (OWASP CSV injection), in every place an event carries text. */
const FORMULAS = ['=1+2', '+SUM(A1:A9)', '-2+3', '@SUM(1)', '\t=1+1', '\r=1+1', '=HYPERLINK("http://evil.example","x")', "=cmd|' /C calc'!A0"]

/** RFC 4180 rows (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let i = 0
  let quoted = false
  while (i < text.length) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"'
        i += 2
        continue
      }
      if (c === '"') quoted = false
      else cell += c
      i++
      continue
    }
    if (c === '"' && cell === '') quoted = true
    else if (c === ',') {
      row.push(cell)
      cell = ''
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell)
      rows.push(row)
      row = []
      cell = ''
      i++
    } else cell += c
    i++
  }
  if (cell !== '' || row.length) rows.push([...row, cell])
  return rows
}

/** Every cell that a spreadsheet would take as a formula (a leading `-` is fine on a number). */
function dangerous(csv: string): string[] {
  return parseCsv(csv)
    .flat()
    // Upstream's section titles ("=== USER DETAILS ===") are constant text of the layout, not data.
    .filter((c) => !/^=== [A-Z ]+ ===$/.test(c))
    .filter((c) => /^[=+@\t\r]/.test(c) || (c.startsWith('-') && !/^-\d+(\.\d+)?(e[+-]?\d+)?$/i.test(c)))
}

function hostileEvents(): unknown[] {
  const out: unknown[] = []
  FORMULAS.forEach((f, i) => {
    const t = naiveDaysAgo(1 - i / 1000)
    out.push(
      { event_id: `${f}-id${i}`, event_type: 'log_info', event_timestamp: t, event_data: f, trace_id: f, span_id: f },
      { event_type: 'log_info', event_timestamp: t, event_data: { message: f, [f]: f } },
      // User report: the author is a report cell.
      { event_type: 'workflow_start', event_timestamp: t, event_data: { workflow_id: `w${i}`, author: f } },
      { event_type: 'workflow_complete', event_timestamp: t, event_data: { workflow_id: `w${i}`, author: f, duration_seconds: 60 } },
    )
  })
  out.push({ event_type: 'log_info', event_data: -5 })
  return out
}

const cli = fileURLToPath(new URL('../../adapters/cli/index.ts', import.meta.url))
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

/** GET with the query string exactly as given (percent escapes are not re-encoded). */
function rawGet(base: string, path: string): Promise<{ status: number; text: string }> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'GET', path, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Every file under `dir` (following no links). */
function walk(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    out.push(p)
    if (e.isDirectory()) out.push(...walk(p))
  }
  return out
}

describe.each(STORE_KINDS)('export and backup on the %s store', (kind) => {
  let r: Running
  let exportDir: string
  let outside: string
  beforeAll(async () => {
    r = await startServer(kind, `sec-export-${kind}`)
    exportDir = join(r.dir, 'exports')
    outside = join(r.dir, 'outside')
    mkdirSync(outside)
    const res = await call(r.url, 'POST', '/events/batch', hostileEvents())
    expect(res.status).toBe(200)
    await r.server.flush()
  })
  afterAll(async () => {
    await r?.close()
  })

  it('neutralises formulas in the streamed CSV export, the saved one and the user report CSV', async () => {
    const streamed = await call(r.url, 'GET', '/events/export?format=csv')
    expect(streamed.status).toBe(200)
    const rows = parseCsv(streamed.text)
    expect(rows.length).toBe(hostileEvents().length + 1)
    expect(dangerous(streamed.text)).toEqual([])
    // The values are kept, only prefixed: each hostile text is there behind a quote.
    const cells = new Set(rows.flat())
    for (const f of FORMULAS) expect(cells.has(`'${f}`), JSON.stringify(f)).toBe(true)
    expect(cells.has("'-5")).toBe(true)

    const saved = await call(r.url, 'GET', '/events/export?format=csv&save_to_file=true&output_path=csv')
    expect(saved.status).toBe(200)
    const file = saved.json().file_path as string
    expect(file.startsWith(join(realpathSync(exportDir), 'csv') + '/')).toBe(true)
    expect(dangerous(readFileSync(file, 'utf8'))).toEqual([])
    expect(readFileSync(file, 'utf8')).toBe(streamed.text)

    const q = `start_time=${encodeURIComponent(naiveDaysAgo(2))}&end_time=${encodeURIComponent(naiveDaysAgo(-1))}&csv_format=true`
    for (const route of ['/utilization/user', '/utilization/users', '/utilization/sessions', '/utilization/periods']) {
      const res = await call(r.url, 'GET', `${route}?${q}`)
      expect([route, res.status, res.headers.get('content-type')]).toEqual([route, 200, 'text/csv; charset=utf-8'])
      expect([route, dangerous(res.text)]).toEqual([route, []])
    }
    const user = parseCsv((await call(r.url, 'GET', `/utilization/user?${q}`)).text).map((row) => row[0])
    // (the report trims authors: a tab- or CR-led one is then an '=' one, neutralised the same)
    for (const f of FORMULAS) expect(user, JSON.stringify(f)).toContain(`'${f.trim()}`)
  })

  it('neutralises formulas in the CLI export of the same store', async () => {
    let args: string[]
    if (kind === 'ferretdb') args = ['export', '--db-url', inject('mongoUrl'), '--database', r.database!, '--format', 'csv']
    else args = ['export', '--file', join(r.dir, 'events.ndjson'), '--format', 'csv']
    const out = join(r.dir, 'cli-export.csv')
    const res = await runCli([...args, '--output', out], { HOME: r.dir, MADSCI_SETTINGS_DIR: r.dir })
    expect(res.code, res.stderr).toBe(0)
    const text = readFileSync(out, 'utf8')
    expect(parseCsv(text).length).toBe(hostileEvents().length + 1)
    expect(dangerous(text)).toEqual([])
    expect(new Set(parseCsv(text).flat()).has(`'${FORMULAS[0]}`)).toBe(true)
  })

  it('no output_path writes outside the export directory: 403 for escapes, 400 for impossible names (NUL, too long, a file on the way), never 5xx', async () => {
    // A link inside the export dir that leads out, and a file where a directory would go.
    mkdirSync(exportDir, { recursive: true })
    if (!existsSync(join(exportDir, 'escape'))) symlinkSync(outside, join(exportDir, 'escape'))
    writeFileSync(join(exportDir, 'plain-file'), 'x')
    const tmpBefore = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('madsci_')))
    const escapes = [
      '..',
      '../',
      '../outside',
      'a/../../outside',
      '../../../../../../tmp',
      '/tmp',
      '/etc',
      outside,
      `${exportDir}-evil`, // a sibling whose name starts with the export dir's
      'escape',
      'escape/deeper',
      './escape/../../outside',
    ]
    const encoded = ['%2e%2e', '%2E%2E%2Foutside', '..%2F..%2Ftmp', '%2Ftmp', `${encodeURIComponent(outside)}`]
    const impossible = ['a%00b', `${'n'.repeat(300)}`, 'plain-file', 'plain-file/sub']
    // A window with events, so each report is made and its CSV saved (an error report is answered before any path is used).
    const w = `start_time=${encodeURIComponent(naiveDaysAgo(2))}&end_time=${encodeURIComponent(naiveDaysAgo(-1))}&csv_format=true&`
    const routes = ['/events/export?format=csv&', '/events/export?format=ndjson&', ...['sessions', 'periods', 'user', 'users'].map((x) => `/utilization/${x}?${w}`)]
    for (const route of routes.slice(2)) {
      const ok = await rawGet(r.url, `${route}save_to_file=true&output_path=reports`)
      expect([route, ok.status, JSON.parse(ok.text).success]).toEqual([route, 200, true])
    }
    const statuses = new Map<number, number>()
    let requests = 0
    for (const route of routes) {
      for (const [list, enc] of [
        [escapes, true],
        [encoded, false],
        [impossible, false],
      ] as const) {
        for (const p of list) {
          const res = await rawGet(r.url, `${route}save_to_file=true&output_path=${enc ? encodeURIComponent(p) : p}`)
          requests++
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
          const what = `${route} ${p}`
          expect([what, res.status < 500], res.text).toEqual([what, true])
          if (list !== impossible) expect([what, res.status, JSON.parse(res.text).detail]).toEqual([what, 403, expect.stringMatching(/outside the allowed directory/)])
          else expect([what, res.status, JSON.parse(res.text).detail]).toEqual([what, 400, expect.stringMatching(/^Invalid option `output_path`: .*(NUL character|cannot be used as a directory|not a directory)/)])
        }
      }
    }
    expect(requests).toBe(routes.length * (escapes.length + encoded.length + impossible.length))
    // Nothing was written outside: the outside dir is empty, the parent holds only what it held, /tmp has no new export.
    expect(readdirSync(outside)).toEqual([])
    expect(existsSync(`${exportDir}-evil`)).toBe(false)
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('madsci_') && !tmpBefore.has(n))).toEqual([])
    const written = walk(realpathSync(exportDir)).filter((f) => f !== join(realpathSync(exportDir), 'escape')) // the link planted above
    expect(written.length).toBeGreaterThan(4)
    for (const f of written) expect([f, realpathSync(f).startsWith(realpathSync(exportDir) + '/')]).toEqual([f, true])
    // Encoded escapes that decode to a plain name inside stay inside.
    const inside = await rawGet(r.url, '/events/export?format=csv&save_to_file=true&output_path=%252e%252e')
    expect(inside.status).toBe(200)
    expect(JSON.parse(inside.text).file_path.startsWith(join(realpathSync(exportDir), '%2e%2e') + '/')).toBe(true)
    // Still serving.
    expect((await call(r.url, 'GET', '/health')).status).toBe(200)
  })

  it('backups stay in the backup directory, and a link planted there is neither listed, read nor pruned through', async () => {
    const backupDir = join(r.dir, 'backups')
    // A backup-shaped directory outside, linked from inside the backup dir.
    const db = r.server.settings.database_name
    const fake = join(outside, 'fake_backup')
    mkdirSync(join(fake, db), { recursive: true })
    writeFileSync(join(fake, db, 'events.ndjson'), '')
    writeFileSync(join(fake, 'backup_metadata.json'), JSON.stringify({ timestamp: '2099-01-01T00:00:00.000Z', checksum: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }))
    mkdirSync(backupDir, { recursive: true })
    symlinkSync(fake, join(backupDir, `${db}_backup_20990101_000000_000000_planted`))
    for (const description of ['../../outside/x', '/etc/passwd', '..%2F..%2Foutside', '\u0000', 'a'.repeat(5000)]) {
      const res = await call(r.url, 'POST', '/backup', { description })
      expect(res.status).toBe(200)
      const path = res.json().backup_path as string
      expect(realpathSync(path).startsWith(realpathSync(backupDir) + '/')).toBe(true)
    }
    const status = await call(r.url, 'GET', '/backup/status')
    expect(status.status).toBe(200)
    const listed = status.json().available_backups as Array<{ path: string }>
    expect(listed.length).toBeGreaterThan(0)
    expect(listed.map((b) => b.path).filter((p) => p.includes('planted'))).toEqual([])
    // The outside directory is untouched (pruning removes old backups: never through the link).
    expect(readdirSync(fake).sort()).toEqual(['backup_metadata.json', db])
    expect(readdirSync(outside).sort()).toEqual(['fake_backup'])
  })
})
