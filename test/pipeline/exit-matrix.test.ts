import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script without type declarations
import { freePort, startFerretDB } from '../../scripts/lib/ferretdb.mjs'
import { createServer, type MadsciServer } from '../../adapters/server/server.js'
import { createEventLogger } from '../../src/index.js'
import { newUlid } from '../../src/event/ulid.js'
import { nowTimestamp } from '../../src/event/timestamp.js'
import { sinkKey } from '../../src/pipeline/pipeline.js'
import { Spool } from '../../src/pipeline/spool.js'
import { FileStore } from '../../src/stores/file.js'
import { HttpStore } from '../../src/stores/http.js'
import { MongoStore } from '../../src/stores/mongo.js'
import type { Sink } from '../../src/stores/types.js'
import { cleanEnv, ensureBuilt } from '../transport/helpers.js'

/**
 * THE EXIT MATRIX: a program that logs and never calls close() loses nothing, however it ends.
 *
 * API {createEventLogger, pino transport} × sink {file, MongoDB up, MongoDB down then up, Event
 * Manager up, Event Manager down then up} × spool left by earlier runs {none, some (two slots, as
 * two runs at once leave)} × end {natural, process.exit, throw, unhandled rejection, SIGTERM,
 * SIGINT, SIGKILL with spool mode `always`}: 140 child processes (test/pipeline/fixtures/exit-app.mjs,
 * the built package), a few at a time. MongoDB is real FerretDB (the suite's, and a second one
 * started on a reserved port once the "down" runs are over); the Event Manager is our server,
 * likewise. Then "the next run" (a logger on the same sink and spool) replays what was spooled.
 *
 * Every event is counted by (run, i) and by id: each of the N logged, and each left by the
 * earlier runs, stored exactly once; none under two ids, no line twice. Where the store was up
 * and the program ended by returning, SIGTERM or SIGINT (and for the file sink, any way but
 * SIGKILL), everything is stored by the run itself, not left for the next. SIGKILL: every event
 * that reached the spool file before the kill is stored after the replay; the loss of the events
 * logged after it (at most the last turn's) is counted and reported. A store that is down is
 * said on stderr (naming it); no stack trace of ours; no run hangs.
 */

const N = 20
const CONCURRENCY = 6
const RUN_TIMEOUT_MS = 30_000
const APP = fileURLToPath(new URL('./fixtures/exit-app.mjs', import.meta.url))
const DB = `t_exit_matrix_${process.pid}`

type Api = 'logger' | 'pino'
type SinkName = 'file' | 'mongodb' | 'mongodb-down' | 'em' | 'em-down'
type End = 'natural' | 'exit' | 'throw' | 'reject' | 'SIGTERM' | 'SIGINT' | 'SIGKILL'
const APIS: Api[] = ['logger', 'pino']
const SINKS: SinkName[] = ['file', 'mongodb', 'mongodb-down', 'em', 'em-down']
const EARLIER = ['none', 'some'] as const
const ENDS: End[] = ['natural', 'exit', 'throw', 'reject', 'SIGTERM', 'SIGINT', 'SIGKILL']

interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
  hung: boolean
  /** When the outage notice arrived (ms from the start), for the "down" sinks. */
  noticeAtMs: number | undefined
  /** SIGKILL: tail events the program said it had logged before the kill. */
  tailLogged: number
}

interface Counted {
  /** Distinct ids stored per logged index (i < N; tail events ≥ N). */
  byIndex: Map<number, Set<string>>
  /** How many times each id is stored (lines of a file; documents otherwise). */
  copies: Map<string, number>
}

interface Case {
  name: string
  api: Api
  sink: SinkName
  earlier: (typeof EARLIER)[number]
  end: End
  run: string
  dir: string
  spool: string
  earlierIds: string[]
  result?: RunResult
  beforeReplay?: Counted
  afterReplay?: Counted
  replayError?: string
}

const cases: Case[] = []
const cleanup: Array<() => Promise<unknown>> = []
let matrixMs = 0
const phases = { runs: 0, replays: 0 }
const urls = { mongodb: '', mongodbDown: '', em: '', emDown: '' }
const files = { em: '', emDown: '' }
let mongo: MongoClient
/** The second FerretDB, started once the "down" runs are over. */
let mongoBack: MongoClient

function caseName(api: Api, sink: SinkName, earlier: string, end: End): string {
  return `${api} · ${sink} · earlier spool ${earlier} · ${end}`
}

function sinkOptions(c: Case): Record<string, unknown> {
  switch (c.sink) {
    case 'file':
      return { file: join(c.dir, 'events.ndjson') }
    case 'mongodb':
      return { mongodb: { url: urls.mongodb, database: DB } }
    case 'mongodb-down':
      return { mongodb: { url: urls.mongodbDown, database: DB } }
    case 'em':
      return { eventManager: urls.em }
    case 'em-down':
      return { eventManager: urls.emDown }
  }
}

function spoolOption(c: Case): Record<string, unknown> {
  return c.end === 'SIGKILL' ? { dir: c.spool, mode: 'always' } : { dir: c.spool }
}

/** The sink as the library builds it, for its spool directory name. */
function sinkOf(c: Case): Sink {
  const o = sinkOptions(c) as { file?: string; mongodb?: { url: string; database: string }; eventManager?: string }
  if (o.file) return new FileStore(o.file)
  if (o.mongodb) return new MongoStore(o.mongodb.url, { database: o.mongodb.database })
  return new HttpStore(o.eventManager as string)
}

/** What two earlier runs that ended while the store was down leave: records in slots 0 and 1. */
async function leaveEarlierSpool(c: Case): Promise<void> {
  const sink = sinkOf(c)
  const root = join(c.spool, sinkKey(sink))
  await sink.close().catch(() => undefined)
  const slots = [Spool.open(root, { fsync: 'never' }), Spool.open(root, { fsync: 'never' })]
  let k = 0
  for (const [s, count] of [
    [slots[0], 3],
    [slots[1], 2],
  ] as const) {
    const records: string[] = []
    for (let j = 0; j < count; j++) {
      const id = newUlid()
      c.earlierIds.push(id)
      records.push(
        JSON.stringify({
          event_id: id,
          event_type: 'log_info',
          log_level: 20,
          alert: false,
          event_timestamp: nowTimestamp(),
          source: {},
          event_data: { message: 'left by an earlier run', run: c.run, i: -++k },
          trace_id: null,
          span_id: null,
          archived: false,
          archived_at: null,
        }),
      )
    }
    s.append(records)
    await s.sync()
  }
  for (const s of slots) await s.close()
}

/** Records of the run in the spool files (the SIGKILL case waits for all N on disk). */
function spooledIndexes(c: Case): Set<number> {
  const out = new Set<number>()
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8')
    } catch {
      return '' // delivered and deleted meanwhile
    }
  }
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, f.name)
      if (f.isDirectory()) walk(p)
      else if (/^seg-\d+\.log$/.test(f.name)) {
        for (const line of read(p).split('\n')) {
          if (!line.includes(c.run) || line.includes('"tail":true')) continue
          try {
            const data = (JSON.parse(line.slice(9)) as { event_data?: { run?: string; i?: number } }).event_data
            if (data?.run === c.run && typeof data.i === 'number') out.add(data.i)
          } catch {
            /* a record being written */
          }
        }
      }
    }
  }
  walk(c.spool)
  return out
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function runCase(c: Case): Promise<RunResult> {
  const started = Date.now()
  const signal = c.end.startsWith('SIG') ? (c.end as NodeJS.Signals) : undefined
  const end = c.end === 'SIGKILL' ? 'tail' : signal ? 'wait' : c.end
  const config = { api: c.api, options: { ...sinkOptions(c), spool: spoolOption(c) }, count: N, run: c.run, end }
  const child: ChildProcess = spawn(process.execPath, [APP, JSON.stringify(config)], { cwd: c.dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let noticeAtMs: number | undefined
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
    if (noticeAtMs === undefined && stderr.includes('MADSCI_WARN_STORE_UNREACHABLE')) noticeAtMs = Date.now() - started
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, sig) => resolve({ code, signal: sig })))
  let hung = false
  const watchdog = setTimeout(() => {
    hung = true
    child.kill('SIGKILL')
  }, RUN_TIMEOUT_MS)
  let tailLogged = 0
  if (signal) {
    while (!stdout.includes('READY') && child.exitCode === null && !hung) await sleep(5)
    if (c.end === 'SIGKILL') {
      // Killed once every one of the N events is in the spool file: they must all survive.
      while (spooledIndexes(c).size < N && child.exitCode === null && !hung) await sleep(20)
      await sleep(30)
      const tails = [...stdout.matchAll(/TAIL (\d+)/g)]
      tailLogged = tails.length ? Number(tails[tails.length - 1][1]) : 0
    }
    child.kill(signal)
  }
  const { code, signal: sig } = await exited
  clearTimeout(watchdog)
  return { code, signal: sig, stdout, stderr, ms: Date.now() - started, hung, noticeAtMs, tailLogged }
}

function count(events: Iterable<Record<string, unknown>>, run: string): Counted {
  const byIndex = new Map<number, Set<string>>()
  const copies = new Map<string, number>()
  for (const e of events) {
    const data = e.event_data as { run?: string; i?: number } | null
    if (data?.run !== run || typeof data.i !== 'number') continue
    const id = String(e.event_id ?? e._id)
    copies.set(id, (copies.get(id) ?? 0) + 1)
    const set = byIndex.get(data.i) ?? new Set<string>()
    set.add(id)
    byIndex.set(data.i, set)
  }
  return { byIndex, copies }
}

/** The events of an NDJSON file; a line torn by a SIGKILL mid-write is skipped, as the store's readers do. */
function fileLines(path: string): Array<Record<string, unknown>> {
  if (!existsSync(path)) return []
  const out: Array<Record<string, unknown>> = []
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (!l.trim()) continue
    try {
      out.push(JSON.parse(l) as Record<string, unknown>)
    } catch {
      // torn: its events are counted as not stored
    }
  }
  return out
}

/** What every case has in its store now (the Event Managers' files read once). */
async function storedAll(key: 'beforeReplay' | 'afterReplay'): Promise<void> {
  const em = { em: fileLines(files.em), 'em-down': fileLines(files.emDown) }
  await pool(cases, CONCURRENCY, async (c) => {
    c[key] = c.sink === 'em' || c.sink === 'em-down' ? count(em[c.sink], c.run) : await stored(c)
  })
}

async function stored(c: Case): Promise<Counted> {
  switch (c.sink) {
    case 'file':
      return count(fileLines(join(c.dir, 'events.ndjson')), c.run)
    case 'em':
    case 'em-down':
      throw new Error('read by storedAll')
    case 'mongodb':
      return count(await mongo.db(DB).collection('events').find({ 'event_data.run': c.run }).toArray(), c.run)
    case 'mongodb-down':
      return count(await mongoBack.db(DB).collection('events').find({ 'event_data.run': c.run }).toArray(), c.run)
  }
}

/** The next run: a logger on the same sink and spool, which replays what the spool holds. */
async function replay(c: Case): Promise<void> {
  const logger = createEventLogger({ ...(sinkOptions(c) as object), spool: c.spool, env: {}, onWarning: () => {}, saveOnExit: false })
  try {
    await logger.flush({ timeoutMs: 30_000 })
  } finally {
    await logger.close({ timeoutMs: 5000 })
  }
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++])
    }),
  )
}

async function startEventManager(port: number, dataFile: string): Promise<{ server: MadsciServer; url: string }> {
  const server = createServer({ settings: { data_file: dataFile }, env: {}, viewer: false, analysis: false, onWarning: () => {} })
  const { url } = await server.listen(port, '127.0.0.1')
  cleanup.push(() => server.close({ timeoutMs: 1000 }))
  return { server, url }
}

beforeAll(async () => {
  ensureBuilt()
  const started = Date.now()
  const root = await mkdtemp(join(tmpdir(), 'madsci-exit-matrix-'))
  cleanup.push(() => rm(root, { recursive: true, force: true }))
  urls.mongodb = inject('mongoUrl')
  mongo = new MongoClient(urls.mongodb)
  cleanup.push(async () => {
    await mongo.db(DB).dropDatabase().catch(() => undefined)
    await mongo.close()
  })
  // The "down" stores: reserved ports with nothing listening until the runs are over.
  const [mongoDownPort, emDownPort] = [await freePort(), await freePort()]
  urls.mongodbDown = `mongodb://127.0.0.1:${mongoDownPort}/`
  urls.emDown = `http://127.0.0.1:${emDownPort}`
  files.em = join(root, 'em-up.ndjson')
  files.emDown = join(root, 'em-down.ndjson')
  urls.em = (await startEventManager(0, files.em)).url

  for (const api of APIS)
    for (const sink of SINKS)
      for (const earlier of EARLIER)
        for (const end of ENDS) {
          const name = caseName(api, sink, earlier, end)
          const dir = join(root, `${api}-${sink}-${earlier}-${end}`)
          await mkdir(join(dir, '.madsci'), { recursive: true })
          cases.push({ name, api, sink, earlier, end, run: `${api}-${sink}-${earlier}-${end}-${process.pid}`, dir, spool: join(dir, 'spool'), earlierIds: [] })
        }
  for (const c of cases) if (c.earlier === 'some') await leaveEarlierSpool(c)

  // The runs: the "down" ones first (their store comes up once they are all over).
  const down = cases.filter((c) => c.sink.endsWith('-down'))
  const up = cases.filter((c) => !c.sink.endsWith('-down'))
  await pool([...down, ...up], CONCURRENCY, async (c) => {
    c.result = await runCase(c)
  })
  phases.runs = Date.now() - started
  const db2 = await startFerretDB({ binary: inject('ferretdbBinary'), port: mongoDownPort })
  cleanup.push(() => db2.stop())
  mongoBack = new MongoClient(urls.mongodbDown)
  cleanup.push(() => mongoBack.close())
  await startEventManager(emDownPort, files.emDown)

  await storedAll('beforeReplay')
  await pool(cases, CONCURRENCY, async (c) => {
    try {
      await replay(c)
    } catch (err) {
      c.replayError = (err as Error).message
    }
  })
  await storedAll('afterReplay')
  matrixMs = Date.now() - started
  phases.replays = matrixMs - phases.runs
}, 240_000)

afterAll(async () => {
  while (cleanup.length) await cleanup.pop()?.()
  if (cases.length) {
    const slowest = [...cases].sort((a, b) => (b.result?.ms ?? 0) - (a.result?.ms ?? 0))[0]
    const kills = cases
      .filter((c) => c.end === 'SIGKILL')
      .map((c) => `${c.name}: ${lostTail(c)} of ${c.result?.tailLogged} tail events lost, ${[...(c.afterReplay?.copies.values() ?? [])].filter((n) => n > 1).length} line(s) written twice`)
    const notices = cases.filter((c) => c.result?.noticeAtMs !== undefined).map((c) => c.result?.noticeAtMs as number)
    process.stdout.write(
      `\nexit matrix: ${cases.length} runs and their replays in ${(matrixMs / 1000).toFixed(1)} s (runs ${(phases.runs / 1000).toFixed(1)} s, ${CONCURRENCY} at a time; replays ${(phases.replays / 1000).toFixed(1)} s); slowest run ${slowest.name} ${slowest.result?.ms} ms; ` +
        `outage notice at ${Math.min(...notices)}–${Math.max(...notices)} ms from the start of a run\n  SIGKILL ${kills.join('\n  SIGKILL ')}\n`,
    )
  }
})

/** SIGKILL: tail events the program had logged (by its last report) that are not stored. */
function lostTail(c: Case): number {
  const found = c.afterReplay ? [...c.afterReplay.byIndex.keys()].filter((i) => i >= N && i < N + (c.result?.tailLogged ?? 0)).length : 0
  return (c.result?.tailLogged ?? 0) - found
}

const EXPECTED_END: Record<End, { code: number | null; signal: NodeJS.Signals | null; stderr?: RegExp }> = {
  natural: { code: 0, signal: null },
  exit: { code: 0, signal: null },
  throw: { code: 1, signal: null, stderr: /uncaught on purpose/ },
  reject: { code: 1, signal: null, stderr: /unhandled rejection on purpose/ },
  SIGTERM: { code: null, signal: 'SIGTERM' },
  SIGINT: { code: null, signal: 'SIGINT' },
  SIGKILL: { code: null, signal: 'SIGKILL' },
}

/** Stored by the run itself, not left to the next one. */
function deliveredByTheRun(c: Case): boolean {
  if (c.end === 'SIGKILL' || c.sink.endsWith('-down')) return false
  if (c.sink === 'file' || c.api === 'pino') return true // written at exit / delivered in pino's exit window
  return c.end === 'natural' || c.end === 'SIGTERM' || c.end === 'SIGINT'
}

const NAMES: string[] = []
for (const api of APIS) for (const sink of SINKS) for (const earlier of EARLIER) for (const end of ENDS) NAMES.push(caseName(api, sink, earlier, end))

describe('exit matrix: nothing lost, nothing twice, however the program ends', () => {
  it.each(NAMES)('%s', (name) => {
    const c = cases.find((x) => x.name === name) as Case
    const r = c.result as RunResult
    const where = `${c.name}\nstderr:\n${r.stderr}`
    expect(r.hung, `hung: ${where}`).toBe(false)
    const want = EXPECTED_END[c.end]
    expect({ code: r.code, signal: r.signal }, where).toEqual({ code: want.code, signal: want.signal })
    if (want.stderr) expect(r.stderr, where).toMatch(want.stderr)
    // No stack trace of ours (only the program's own error, for throw and reject).
    expect(r.stderr, where).not.toMatch(/^\s+at .*(dist[/\\]|node_modules)/m)
    // The store is said to be down once something tried it: a drain (the natural end, a signal),
    // or the transport's exit window. A program that exits at once never tried (the exit message
    // says where the events went); a SIGKILL may come first.
    const tried = c.end === 'natural' || c.end === 'SIGTERM' || c.end === 'SIGINT' || (c.api === 'pino' && c.end !== 'SIGKILL')
    if (c.sink.endsWith('-down') && tried) {
      const target = c.sink === 'mongodb-down' ? urls.mongodbDown : urls.emDown
      expect(r.stderr, where).toContain('MADSCI_WARN_STORE_UNREACHABLE')
      expect(r.stderr, where).toContain(new URL(target).host)
    }
    expect(c.replayError, where).toBeUndefined()
    const after = c.afterReplay as Counted
    const missing = Array.from({ length: N }, (_, i) => i).filter((i) => !after.byIndex.has(i))
    expect(missing, `missing after the replay: ${where}`).toEqual([])
    const twice = [...after.byIndex.entries()].filter(([, ids]) => ids.size > 1).map(([i]) => i)
    expect(twice, `stored under two ids: ${where}`).toEqual([])
    // A line twice in a file (the file sink, our server's file store). After SIGKILL it may happen
    // (a batch written just before the kill, whose acknowledgement the kill prevented, is written
    // again by the replay; the store keeps the first copy, as MongoDB keeps the first _id): counted
    // and reported. Any other end writes nothing twice.
    const copies = [...after.copies.entries()].filter(([, n]) => n > 1)
    if (c.end !== 'SIGKILL') expect(copies, `stored twice: ${where}`).toEqual([])
    for (const id of c.earlierIds) expect(after.copies.has(id), `earlier run's ${id}: ${where}`).toBe(true)
    if (deliveredByTheRun(c)) {
      const before = c.beforeReplay as Counted
      const notYet = Array.from({ length: N }, (_, i) => i).filter((i) => !before.byIndex.has(i))
      expect(notYet, `not stored by the run itself: ${where}`).toEqual([])
      if (c.end === 'natural' || c.end === 'SIGTERM' || c.end === 'SIGINT' || c.sink === 'file') {
        for (const id of c.earlierIds) expect(before.copies.get(id), `earlier run's ${id} not replayed by the run: ${where}`).toBe(1)
      }
    }
    if (c.end === 'SIGKILL') {
      // What the program logged after its last write to the spool is all a kill can take: one turn.
      const lost = lostTail(c)
      expect(lost, where).toBeGreaterThanOrEqual(0)
      // pino: also the lines still in pino's buffer on their way to its worker thread.
      expect(lost, where).toBeLessThanOrEqual(c.api === 'logger' ? 20 : 1000)
    }
  })
})
