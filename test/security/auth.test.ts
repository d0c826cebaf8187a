/**
 * Hostile input (issue 9), auth: with a token configured, every route of the running server but
 * the public ones refuses a request without the token or with any wrong one (other lengths, other
 * case, other scheme, in the query string) with a JSON 401, on both stores; the comparison is
 * constant-time by construction; and the token, the SMTP password and a database password never
 * appear in what the server prints, answers or stores.
 *
 * test/server/auth.test.ts covers the basic answers on seven routes, the live streams and binding;
 * this file goes over every route the router serves and over the secrets.
 */
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PUBLIC_PATHS, TokenAuth } from '../../adapters/server/guard.js'
import { HttpError } from '../../adapters/server/http.js'
import { makeSelfSignedCert, type TestCert } from '../notify/support/cert.js'
import { startSmtpServer, type TestSmtpServer } from '../notify/support/smtp.js'
import { call, eventually, type Running, startServer, STORE_KINDS, tempDir } from '../server/helpers.js'

const TOKEN = 'lab-token-7d1e9a4c2b'
const ULID = '01JRB6Y0000000000000000001'

/** A raw request, so header bytes reach the server as sent (fetch refuses non-ByteString headers). */
function raw(base: string, method: string, path: string, headers: Record<string, string | Buffer> = {}, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, agent: false, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } as never }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', (err) => reject(new Error(`${method} ${path} ${JSON.stringify(headers).slice(0, 80)}: ${err.message}`)))
    req.end(body)
  })
}

/** Authorization values that must all be refused: wrong lengths, near misses, other schemes. */
const WRONG_AUTH: string[] = [
  `Bearer ${TOKEN}x`,
  `Bearer ${TOKEN.slice(0, -1)}`,
  `Bearer ${TOKEN.slice(0, -1)}${TOKEN.at(-1) === 'c' ? 'd' : 'c'}`, // same length, last byte differs
  `Bearer ${TOKEN.toUpperCase()}`,
  `Bearer x`,
  'Bearer ',
  'Bearer',
  `Bearer ${'a'.repeat(4000)}`,
  `Bearer ${TOKEN} ${TOKEN}`,
  `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`,
  `Token ${TOKEN}`,
  TOKEN,
  // obs-text bytes (Node sends these strings as latin1)
  `Bearer ${TOKEN}\u00e9`,
  'Bearer \u00ff\u00fe\u0080A',
]

describe.each(STORE_KINDS)('a token-protected server on the %s store', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await startServer(kind, `sec-auth-${kind}`, { env: { EVENT_SERVER_TOKEN: TOKEN } })
  })
  afterAll(async () => {
    await r?.close()
  })

  it('every non-public route refuses a missing or wrong token with 401 JSON; exactly the public paths answer without one', async () => {
    const routes = r.server.routes
    expect(routes.length).toBeGreaterThan(25)
    const isPublic = (path: string): boolean => PUBLIC_PATHS.has(path)
    // The public set is the health probe, the API docs and the viewer shell (which asks for the token itself).
    expect(routes.filter((x) => isPublic(x.path)).map((x) => `${x.method} ${x.path}`).sort()).toEqual(
      ['GET /', 'GET /docs', 'GET /favicon.ico', 'GET /health', 'GET /openapi.json', 'GET /ui', 'GET /ui/app.css', 'GET /ui/app.js'],
    )
    let refused = 0
    for (const route of routes) {
      const path = route.path.replace('{event_id}', ULID)
      const body = route.method === 'GET' ? undefined : route.path === '/events/batch' ? '[{"event_type":"test"}]' : '{"event_type":"test"}'
      if (isPublic(route.path)) {
        const res = await raw(r.url, route.method, path)
        expect([route.path, res.status]).toEqual([route.path, 200])
        continue
      }
      const attempts: Array<Record<string, string | Buffer>> = [{}, ...WRONG_AUTH.map((a) => ({ authorization: a }))]
      for (const headers of attempts) {
        // A token in the query string counts for the live streams only (browsers cannot set headers there).
        const q = path.startsWith('/events/stream') ? `?access_token=${TOKEN}x` : `?access_token=${TOKEN}`
        for (const p of [path, path + q]) {
          const res = await raw(r.url, route.method, p, headers, body)
          const what = `${route.method} ${p} ${String(headers.authorization ?? '(none)').slice(0, 40)}`
          expect([what, res.status], res.text).toEqual([what, 401])
          expect(JSON.parse(res.text).detail, what).toMatch(/^(Not authenticated|Invalid token)$/)
          expect(res.headers['www-authenticate']).toBe('Bearer')
          expect(res.text).not.toContain(TOKEN)
          refused++
        }
      }
    }
    expect(refused).toBe(routes.filter((x) => !isPublic(x.path)).length * (WRONG_AUTH.length + 1) * 2)
    // Nothing got through: no event stored, no backup made, no export written.
    const events = await call(r.url, 'GET', '/events', undefined, { authorization: `Bearer ${TOKEN}` })
    expect(events.status).toBe(200)
    expect(events.json()).toEqual({})
    expect(readdirSync(r.dir)).not.toContain('backups')
    const metrics = (await call(r.url, 'GET', '/metrics', undefined, { authorization: `Bearer ${TOKEN}` })).text
    expect(Number(/^madsci_auth_failures_total (\d+)$/m.exec(metrics)?.[1])).toBe(refused)
  })

  it('a refused request on the WebSocket path gets 401 too, whatever the token length', async () => {
    for (const q of ['', '?access_token=', `?access_token=${TOKEN.slice(1)}`, `?access_token=${TOKEN}${TOKEN}`]) {
      const res = await raw(r.url, 'GET', `/events/ws${q}`, { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' })
      expect([q, res.status]).toEqual([q, 401])
    }
  })
})

describe('an unexpected error with the token in the query string', () => {
  it('is printed without the token (the live streams take ?access_token=)', async () => {
    const r = await startServer('file', 'sec-auth-500', {
      env: { EVENT_SERVER_TOKEN: TOKEN },
      // A route that fails unexpectedly: the server answers a plain 500 and reports the request line.
      plugins: [(router) => void router.add('GET', '/boom', () => Promise.reject(new Error('unexpected')))],
    })
    try {
      const res = await raw(r.url, 'GET', `/boom?x=1&access_token=${TOKEN}&y=2`, { authorization: `Bearer ${TOKEN}` })
      expect(res.status).toBe(500)
      expect(res.text).toBe('Internal Server Error')
      expect(r.errors.map((e) => e.where)).toEqual(['GET /boom?x=1&access_token=***&y=2'])
    } finally {
      await r.close()
    }
  })
})

describe('the token comparison', () => {
  it('hashes both sides with SHA-256 and compares the equal-length digests with crypto.timingSafeEqual, with no early exit on length', () => {
    const source = readFileSync(fileURLToPath(new URL('../../adapters/server/guard.ts', import.meta.url)), 'utf8')
    const check = source.slice(source.indexOf('check(req: IncomingMessage'), source.indexOf('// ---', source.indexOf('check(req: IncomingMessage')))
    expect(source).toMatch(/import \{[^}]*\btimingSafeEqual\b[^}]*\} from 'node:crypto'/)
    expect(source).toMatch(/const digest = \(s: string\): Buffer => createHash\('sha256'\)\.update\(s\)\.digest\(\)/)
    expect(check).toMatch(/timingSafeEqual\(digest\(given\), this\.#expected\)/)
    // The stored side is the digest, never the token itself; no comparison of the strings or their lengths.
    expect(source).toMatch(/this\.#expected = token \? digest\(token\) : undefined/)
    expect(check.replaceAll('given === undefined', '')).not.toMatch(/===\s*this\.#expected|\.length\s*[!=]==|given\s*===|===\s*given/)
  })

  it('refuses every other token of any length with a 401 HttpError (property, 2000 runs) and accepts only the token itself', () => {
    const auth = new TokenAuth(TOKEN)
    const reqWith = (authorization?: string) => ({ method: 'GET', headers: authorization === undefined ? {} : { authorization } }) as never
    const q = new URLSearchParams()
    let runs = 0
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 64 }), fc.constantFrom(TOKEN.slice(0, -1), TOKEN + ' x', TOKEN.repeat(3))), (given) => {
        runs++
        fc.pre(given.trim() !== TOKEN)
        let thrown: unknown
        try {
          auth.check(reqWith(`Bearer ${given}`), '/events', q)
        } catch (err) {
          thrown = err
        }
        expect(thrown).toBeInstanceOf(HttpError)
        expect((thrown as HttpError).status).toBe(401)
      }),
      { numRuns: 2000 },
    )
    expect(runs).toBeGreaterThanOrEqual(2000)
    expect(() => auth.check(reqWith(`Bearer ${TOKEN}`), '/events', q)).not.toThrow()
    expect(() => auth.check(reqWith(`bearer   ${TOKEN}  `), '/events', q)).not.toThrow()
  })
})

/**
 * Secrets in everything the server prints, answers and stores. The server runs as the CLI's
 * `serve` in a child process, so its own stdout/stderr (default warning and error printers) are
 * captured as an operator would see them.
 */
describe('secrets never leave the server', () => {
  const SMTP_PW = 'smtp-pw-Zq8!r2'
  const SMTP_USER = 'alerts-user-k3'
  const DB_PW = 'db-pw-Yx4p7w'
  let cert: TestCert
  let smtp: TestSmtpServer
  beforeAll(async () => {
    cert = makeSelfSignedCert()
    // The SMTP server wants another password: every login fails, and the failure is reported.
    smtp = await startSmtpServer({ tls: cert, auth: { user: SMTP_USER, pass: 'the-right-one' }, authRequired: true })
  })
  afterAll(async () => {
    await smtp?.close()
  })

  const cli = fileURLToPath(new URL('../../adapters/cli/index.ts', import.meta.url))
  function serve(env: NodeJS.ProcessEnv): { url: Promise<string>; output: () => string; stop(): Promise<void> } {
    const dir = tempDir('sec-secrets')
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--port', '0', '--host', '127.0.0.1'], {
      env: { PATH: process.env.PATH, HOME: dir, MADSCI_SETTINGS_DIR: dir, EVENT_DATA_FILE: `${dir}/events.ndjson`, EVENT_BACKUP_DIR: `${dir}/backups`, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
    const url = eventually(() => /server at (http:\/\/\S+)/.exec(out)?.[1] ?? (child.exitCode !== null ? Promise.reject(new Error(`serve exited:\n${out}`)) : undefined))
    return {
      url,
      output: () => out,
      async stop() {
        child.kill('SIGTERM')
        await exited
      },
    }
  }

  it('the token and the SMTP credentials are not in stdout/stderr, error bodies, /settings, /metrics, /health or the stored events', async () => {
    const s = serve({
      EVENT_SERVER_TOKEN: TOKEN,
      EVENT_EMAIL_ALERTS: JSON.stringify({
        smtp_server: '127.0.0.1',
        smtp_port: smtp.port,
        smtp_username: SMTP_USER,
        smtp_password: SMTP_PW,
        sender: 'madsci@lab.example',
        email_addresses: ['ops@lab.example'],
        tls_ca: cert.cert,
      }),
    })
    const answers: string[] = []
    try {
      const url = await s.url
      const auth = { authorization: `Bearer ${TOKEN}` }
      const keep = async (p: Promise<{ text: string; headers: Headers | Record<string, unknown> }>): Promise<void> => {
        const res = await p
        answers.push(res.text, JSON.stringify(Object.fromEntries(res.headers instanceof Headers ? res.headers : Object.entries(res.headers))))
      }
      // Alerts whose SMTP login fails (the failure is reported as an event and on stderr).
      for (let i = 0; i < 3; i++) await keep(call(url, 'POST', '/event', { event_type: 'test', log_level: 50, alert: true, event_data: { i } }, auth))
      await eventually(async () => {
        const m = (await call(url, 'GET', '/metrics', undefined, auth)).text
        return /outcome="failed"\} [1-9]/.test(m) ? true : undefined
      }, 100)
      expect(smtp.logins.map((l) => l.pass)).toContain(SMTP_PW) // the password really was used (and refused)
      // Wrong tokens, bad input, errors of every kind.
      await keep(call(url, 'GET', '/events', undefined, { authorization: `Bearer ${TOKEN}x` }))
      await keep(call(url, 'GET', `/events?access_token=${TOKEN}`))
      await keep(call(url, 'POST', '/events/query', { $where: 'sleep(100)' }, auth))
      await keep(call(url, 'POST', '/event', '{"event_type":"te', auth))
      await keep(call(url, 'POST', '/event', { event_type: 'nope', log_level: 'nope' }, auth))
      await keep(call(url, 'GET', `/event/${ULID}`, undefined, auth))
      await keep(call(url, 'GET', `/utilization/sessions?csv_format=true&save_to_file=true&output_path=/etc`, undefined, auth))
      await keep(call(url, 'GET', `/settings?include_schema=true`, undefined, auth))
      await keep(call(url, 'GET', `/settings?include_defaults=false`, undefined, auth))
      await keep(call(url, 'GET', '/metrics', undefined, auth))
      await keep(call(url, 'GET', '/health'))
      await keep(call(url, 'GET', '/openapi.json'))
      await keep(call(url, 'GET', '/docs'))
      await keep(call(url, 'GET', '/events?number=1000', undefined, auth))
      await keep(call(url, 'GET', '/events/export?format=ndjson', undefined, auth))
      await keep(call(url, 'GET', '/ui/api/events?number=500', undefined, auth))
      await keep(call(url, 'POST', '/backup', { description: 'after the alerts' }, auth))
      await keep(call(url, 'GET', '/backup/status', undefined, auth))
      // The failed deliveries were stored as events of the server itself: they are in the export above.
      const stored = answers.join('\n')
      expect(stored).toMatch(/"event_type":"test"/)
      const settings = JSON.parse((await call(url, 'GET', '/settings', undefined, auth)).text).settings
      expect(settings.auth_token).toBe('***REDACTED***')
      expect(settings.email_alerts.smtp_password).toBe('***REDACTED***')
    } finally {
      await s.stop()
    }
    const everything = answers.join('\n') + '\n' + s.output()
    // The output is not empty: the SMTP failures were reported somewhere an operator looks.
    expect(s.output()).toContain('madsci-events server at')
    for (const secret of [TOKEN, SMTP_PW]) expect(everything.includes(secret), `${secret} leaked:\n${everything.slice(Math.max(0, everything.indexOf(secret) - 300), everything.indexOf(secret) + 100)}`).toBe(false)
  })

  it('a database password is not in the start line, /health, the 503 answers or the printed errors', async () => {
    // A database that is down: the server still starts, says so, and answers writes with 503.
    const s = serve({ EVENT_SERVER_TOKEN: TOKEN, EVENT_DB_URL: `mongodb://lab:${DB_PW}@127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300` })
    const answers: string[] = []
    try {
      const url = await s.url
      const auth = { authorization: `Bearer ${TOKEN}` }
      const health = await call(url, 'GET', '/health')
      answers.push(health.text)
      expect(health.json().db_connected).toBe(false)
      // In parallel: each waits for the driver's server selection to fail.
      const replies = await Promise.all(
        ([
          ['GET', '/events', undefined],
          ['POST', '/events/query', { log_level: 20 }],
          ['GET', '/events/export', undefined],
          ['GET', '/events/export?format=ndjson&save_to_file=true', undefined],
          ['GET', '/utilization/sessions', undefined],
          ['GET', '/settings', undefined],
        ] as const).map(async ([m, p, b]) => [p, await call(url, m, p, b, auth)] as const),
      )
      for (const [p, res] of replies) {
        answers.push(res.text)
        // A store that is down is a 503 with a JSON body (the export used to start a 200 and break off).
        if (p.startsWith('/events')) expect([p, res.status, res.json().detail]).toEqual([p, 503, expect.stringMatching(/^The database is unavailable/)])
        else expect([p, res.status]).toEqual([p, 200])
      }
    } finally {
      await s.stop()
    }
    expect(s.output()).toMatch(/storing in MongoDB mongodb:\/\/lab:\*+@127\.0\.0\.1:1/)
    const everything = answers.join('\n') + '\n' + s.output()
    expect(everything.includes(DB_PW), everything.slice(Math.max(0, everything.indexOf(DB_PW) - 300), everything.indexOf(DB_PW) + 100)).toBe(false)
  })
})
