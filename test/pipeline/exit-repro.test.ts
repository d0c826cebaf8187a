import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script without type declarations
import { freePort, startFerretDB } from '../../scripts/lib/ferretdb.mjs'
import { createServer } from '../../adapters/server/server.js'
import { createEventLogger, type MadsciWarning } from '../../src/index.js'
import { cleanEnv, ensureBuilt } from '../transport/helpers.js'

/**
 * The reports of issue 15, as a new user met them, written as tests: each failed before the fix.
 *
 * 1. Zero configuration, no close(): five `logger.warn()` and the script ends (returning,
 *    process.exit, an uncaught throw): 0 of 5 were written.
 * 2. A spool left by an earlier run while the database was down; the database back: a script that
 *    logs 5 events and returns never exited (the MongoDB client's sockets kept it alive), and events
 *    logged just before process.exit were lost (left in the spool's write buffer: a 0-byte segment).
 * 3. An unreachable store was silent; close() blocked 10 s before spooling; the server started
 *    against a dead database was silent, then printed a stack and a wrong "no change streams".
 */

const APP = fileURLToPath(new URL('./fixtures/exit-app.mjs', import.meta.url))
const cleanup: Array<() => Promise<unknown>> = []
afterAll(async () => {
  while (cleanup.length) await cleanup.pop()?.()
})
beforeAll(() => ensureBuilt())

async function project(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'madsci-repro-'))
  await mkdir(join(dir, '.madsci'))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

interface Ran {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
  ms: number
  /** ms from the start to the first store-unreachable notice. */
  noticeMs: number | undefined
}

/** Run the fixture program (zero options: it configures itself from the environment, as a user's). */
function run(dir: string, cfg: Record<string, unknown>, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Ran> {
  const started = Date.now()
  const child: ChildProcess = spawn(process.execPath, [APP, JSON.stringify({ api: 'logger', count: 5, run: 'r', ...cfg })], {
    cwd: dir,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let noticeMs: number | undefined
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
    if (noticeMs === undefined && stderr.includes('MADSCI_WARN_STORE_UNREACHABLE')) noticeMs = Date.now() - started
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stderr, ms: Date.now() - started, noticeMs })
    }),
  )
}

function lines(path: string): Array<{ event_data: { run?: string; i?: number } }> {
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : []
}

function segments(dir: string): Array<{ name: string; size: number }> {
  const out: Array<{ name: string; size: number }> = []
  const walk = (d: string): void => {
    if (!existsSync(d)) return
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, f.name)
      if (f.isDirectory()) walk(p)
      else if (f.name.startsWith('seg-')) out.push({ name: p, size: statSync(p).size })
    }
  }
  walk(dir)
  return out
}

describe('1. zero configuration, no close()', () => {
  for (const end of ['natural', 'exit', 'throw', 'reject'] as const) {
    it(`5 × logger.warn() then ${end}: 5 events in .madsci/events/events.ndjson, nothing said on stderr but the program's own error`, async () => {
      const dir = await project()
      const r = await run(dir, { end, run: end })
      expect(r.code).toBe(end === 'throw' || end === 'reject' ? 1 : 0)
      const events = lines(join(dir, '.madsci', 'events', 'events.ndjson'))
      expect(events.map((e) => e.event_data.i)).toEqual([0, 1, 2, 3, 4])
      expect(r.stderr).not.toMatch(/madsci-events/)
    })
  }
})

describe('2. a spool left by an earlier run, the database back', () => {
  /** A database on a port of its own: down until `up()`. */
  async function database(): Promise<{ url: string; env: Record<string, string>; up: () => Promise<MongoClient> }> {
    const port = await freePort()
    const url = `mongodb://127.0.0.1:${port}/`
    return {
      url,
      env: { EVENT_DB_URL: url },
      up: async () => {
        const db = await startFerretDB({ binary: inject('ferretdbBinary'), port })
        cleanup.push(() => db.stop())
        const client = new MongoClient(url)
        cleanup.push(() => client.close())
        return client
      },
    }
  }

  async function stored(client: MongoClient): Promise<Record<string, number[]>> {
    const byRun: Record<string, number[]> = {}
    for (const d of await client.db('madsci_events').collection('events').find({}).toArray()) (byRun[d.event_data.run] ??= []).push(d.event_data.i)
    for (const r of Object.values(byRun)) r.sort()
    return byRun
  }

  it('a run while the database is down says so within ~2 s, names it and where the events go, and leaves them in the spool', async () => {
    const dir = await project()
    const db = await database()
    const down = await run(dir, { end: 'natural', run: 'down' }, db.env)
    expect(down.code).toBe(0)
    expect(down.stderr).toContain(`MADSCI_WARN_STORE_UNREACHABLE: Cannot reach the store: MongoDB at ${db.url}`)
    expect(down.stderr).toMatch(/events are kept in memory .* written to the spool .*\.madsci\/spool/)
    expect(down.stderr).toMatch(/5 event\(s\) saved to the spool before the program ended/)
    expect(down.stderr).not.toMatch(/^\s+at /m)
    // About 2 s of trying (the driver's server selection), plus the start of node.
    expect(down.noticeMs).toBeLessThan(6000)
  })

  it('the database back: a run that logs 5 events and returns exits promptly (it never did), with everything stored', async () => {
    const dir = await project()
    const db = await database()
    expect((await run(dir, { end: 'natural', run: 'down' }, db.env)).code).toBe(0)
    const client = await db.up()
    const back = await run(dir, { end: 'natural', run: 'back' }, db.env, 20_000)
    expect(back.signal).toBeNull()
    expect(back.code).toBe(0)
    expect(back.ms).toBeLessThan(15_000)
    expect(await stored(client)).toEqual({ down: [0, 1, 2, 3, 4], back: [0, 1, 2, 3, 4] })
    expect(segments(join(dir, '.madsci', 'spool')).filter((s) => s.size > 0)).toEqual([])
  }, 60_000)

  it('events logged just before process.exit() by a run replaying such a spool are saved (not a 0-byte segment) and delivered by the next run', async () => {
    const dir = await project()
    const db = await database()
    expect((await run(dir, { end: 'exit', run: 'exit-down' }, db.env)).code).toBe(0)
    const client = await db.up()
    const exitBack = await run(dir, { end: 'exit', run: 'exit-back' }, db.env)
    expect(exitBack.code).toBe(0)
    expect(exitBack.stderr).toMatch(/5 event\(s\) saved to the spool at exit/)
    const records = segments(join(dir, '.madsci', 'spool'))
      .map((s) => readFileSync(s.name, 'utf8'))
      .join('')
    expect(records.match(/"run":"exit-back"/g)).toHaveLength(5)
    expect((await run(dir, { end: 'natural', run: 'last' }, db.env, 20_000)).code).toBe(0)
    expect(await stored(client)).toEqual({ 'exit-down': [0, 1, 2, 3, 4], 'exit-back': [0, 1, 2, 3, 4], last: [0, 1, 2, 3, 4] })
  }, 60_000)
})

describe('3. an unreachable store is said, and close() does not wait for it', () => {
  it('createEventLogger: one notice naming the target and where events go; close() spools at once', async () => {
    const port = await freePort()
    const dir = await project()
    const notices: MadsciWarning[] = []
    const logger = createEventLogger({ eventManager: `http://127.0.0.1:${port}`, spool: join(dir, 'spool'), env: {}, onWarning: (w) => notices.push(w), saveOnExit: false })
    const started = Date.now()
    for (let i = 0; i < 10; i++) logger.info('while down', { i })
    while (!notices.some((n) => n.code === 'MADSCI_WARN_STORE_UNREACHABLE') && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 20))
    const notice = notices.find((n) => n.code === 'MADSCI_WARN_STORE_UNREACHABLE')
    expect(notice?.message).toContain(`the Event Manager at http://127.0.0.1:${port}/`)
    expect(notice?.message).toContain('ECONNREFUSED')
    expect(notice?.message).toContain(join(dir, 'spool'))
    expect(Date.now() - started).toBeLessThan(2000)
    const closing = Date.now()
    const report = await logger.close()
    expect(Date.now() - closing).toBeLessThan(1000)
    expect(report).toMatchObject({ spooled: 10, lost: 0 })
    // One notice per outage, not one per retry.
    expect(notices.filter((n) => n.code === 'MADSCI_WARN_STORE_UNREACHABLE')).toHaveLength(1)
  })

  it('createEventLogger: the store comes back: one notice saying so and for how long it was down, and everything delivered', async () => {
    const port = await freePort()
    const notices: MadsciWarning[] = []
    const outages: Array<{ reachable: boolean }> = []
    const logger = createEventLogger({ eventManager: `http://127.0.0.1:${port}`, spool: false, retry: { baseMs: 50, maxMs: 300 }, env: {}, onWarning: (w) => notices.push(w), saveOnExit: false })
    logger.on('outage', (o) => outages.push(o))
    for (let i = 0; i < 10; i++) logger.info('while down', { i })
    while (!notices.some((n) => n.code === 'MADSCI_WARN_STORE_UNREACHABLE')) await new Promise((r) => setTimeout(r, 20))
    const dataFile = join(await project(), 'em.ndjson')
    const server = createServer({ settings: { data_file: dataFile }, env: {}, viewer: false, analysis: false, onWarning: () => {} })
    await server.listen(port, '127.0.0.1')
    cleanup.push(() => server.close({ timeoutMs: 1000 }))
    await logger.flush({ timeoutMs: 10_000 })
    expect(notices.find((n) => n.code === 'MADSCI_WARN_STORE_REACHABLE')?.message).toMatch(new RegExp(`the Event Manager at http://127.0.0.1:${port}/, after \\d+\\.\\d s`))
    expect(outages.map((o) => o.reachable)).toEqual([false, true])
    expect(await logger.close()).toMatchObject({ delivered: 10, spooled: 0, lost: 0 })
  })

  it('the pino transport: the same notice on stderr from its worker; the exit is not held 8 s by a store known down', async () => {
    const port = await freePort()
    const dir = await project()
    const r = await run(dir, { api: 'pino', end: 'natural', options: { eventManager: `http://127.0.0.1:${port}`, spool: join(dir, 'spool') } })
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(`MADSCI_WARN_STORE_UNREACHABLE: Cannot reach the store: the Event Manager at http://127.0.0.1:${port}/`)
    expect(r.stderr).not.toMatch(/^\s+at /m)
    expect(r.ms).toBeLessThan(6000)
  })

  it('the server started against a dead database: says so within 2 s, serves, keeps trying, says when it is back; no stack, no "no change streams" until it can tell', async () => {
    const port = await freePort()
    const url = `mongodb://127.0.0.1:${port}/`
    const notices: Array<MadsciWarning & { at: number }> = []
    const errors: string[] = []
    const started = Date.now()
    const server = createServer({
      settings: { document_db_url: url, database_name: 'repro_server' },
      env: {},
      viewer: false,
      onWarning: (w) => notices.push({ ...w, at: Date.now() - started }),
      onError: (err, where) => errors.push(`${where}: ${err.message}`),
    })
    cleanup.push(() => server.close({ timeoutMs: 1000 }))
    const { url: base } = await server.listen(0, '127.0.0.1')
    expect(Date.now() - started).toBeLessThan(2500)
    const down = notices.find((n) => n.code === 'MADSCI_WARN_STORE_UNREACHABLE')
    expect(down?.at).toBeLessThan(2000)
    expect(down?.message).toContain(`MongoDB ${url}`)
    expect(down?.message).toContain('ECONNREFUSED')
    expect(notices.map((n) => n.code)).not.toContain('MADSCI_WARN_NO_CHANGE_STREAMS')
    expect((await fetch(`${base}/health`)).status).toBeLessThan(600)
    const db = await startFerretDB({ binary: inject('ferretdbBinary'), port })
    cleanup.push(() => db.stop())
    const waitFrom = Date.now()
    while (!notices.some((n) => n.code === 'MADSCI_WARN_STORE_REACHABLE') && Date.now() - waitFrom < 15_000) await new Promise((r) => setTimeout(r, 50))
    expect(notices.find((n) => n.code === 'MADSCI_WARN_STORE_REACHABLE')?.message).toContain(`MongoDB ${url}`)
    // Only now can the live stream tell: FerretDB v1 has no change streams.
    while (!notices.some((n) => n.code === 'MADSCI_WARN_NO_CHANGE_STREAMS') && Date.now() - waitFrom < 15_000) await new Promise((r) => setTimeout(r, 50))
    expect(notices.map((n) => n.code)).toContain('MADSCI_WARN_NO_CHANGE_STREAMS')
    expect(await (await fetch(`${base}/health`)).json()).toMatchObject({ healthy: true })
    expect(errors).toEqual([])
  }, 60_000)
})
