import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, mkdir } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createEventLogger } from '../../src/index.js'
import type { PipelineStats } from '../../src/index.js'
// @ts-expect-error plain ESM fixture without type declarations
import { expectedEvent as expectedMixEvent } from './fixtures/lines.mjs'

/** The repository root (the package the fixtures load by its name, `madsci-events`). */
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const APP = fileURLToPath(new URL('./fixtures/pino-app.mjs', import.meta.url))

/**
 * The transport runs from the built package (`dist/`), as users load it. `npm test` builds first;
 * a single test file run on a fresh checkout builds here.
 */
export function ensureBuilt(): void {
  if (existsSync(join(ROOT, 'dist', 'transport.cjs')) && existsSync(join(ROOT, 'dist', 'index.js'))) return
  const res = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js'), '--silent'], { cwd: ROOT, encoding: 'utf8' })
  if (res.status !== 0) throw new Error(`Building the package failed (npx tsup):\n${res.stdout}\n${res.stderr}`)
}

/** A fresh temp directory holding an empty `.madsci/` (MADSci's project marker), so defaults land inside it. */
export async function projectDir(prefix = 'madsci-transport-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  await mkdir(join(dir, '.madsci'))
  return dir
}

/** The environment of a child: the parent's minus every MADSci variable, plus `extra`. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(EVENT_|MONGO_DB_URL$|DB_URL$|DOCUMENT_DB_URL$|MADSCI_)/i.test(k)) continue
    // vitest's own variables would make a child think it runs under vitest.
    if (/^(VITEST|TEST$|NODE_ENV$)/.test(k)) continue
    env[k] = v
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v
  return env
}

export interface AppResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  pid: number
}

export interface AppRun {
  child: ChildProcess
  /** Resolves when the app printed `text` on stdout. */
  printed(text: string): Promise<void>
  done: Promise<AppResult>
}

/** Start a node program (default: the fixture pino app with `config`). */
export function startApp(config: Record<string, unknown>, o: { env?: NodeJS.ProcessEnv; cwd?: string; script?: string; args?: string[] } = {}): AppRun {
  const args = o.args ?? [o.script ?? APP, JSON.stringify(config)]
  const child = spawn(process.execPath, args, { cwd: o.cwd ?? ROOT, env: o.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiters: Array<{ text: string; resolve: () => void }> = []
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString()
    for (const w of waiters) if (stdout.includes(w.text)) w.resolve()
  })
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const done = new Promise<AppResult>((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr, pid: child.pid as number })))
  return {
    child,
    done,
    printed(text: string) {
      if (stdout.includes(text)) return Promise.resolve()
      return new Promise<void>((res, rej) => {
        waiters.push({ text, resolve: res })
        void done.then((r) => (r.stdout.includes(text) ? res() : rej(new Error(`the app ended (code ${r.code}, signal ${r.signal}) before printing ${text}:\n${r.stderr}`))))
      })
    },
  }
}

/** Run the app to its end. */
export function runApp(config: Record<string, unknown>, o: { env?: NodeJS.ProcessEnv; cwd?: string; script?: string; args?: string[] } = {}): Promise<AppResult> {
  return startApp(config, o).done
}

export type ExitPath = 'normal' | 'exit' | 'throw' | 'reject' | 'SIGTERM' | 'SIGINT'

/** Log `count` lines of the standard mix and end the app by `path`; checks it ended as that path ends a process. */
export async function runExitPath(path: ExitPath, options: Record<string, unknown> | undefined, count: number, run: string, o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<AppResult> {
  const signal = path === 'SIGTERM' || path === 'SIGINT' ? path : undefined
  const app = startApp({ options, count, run, then: signal ? 'wait' : path, shutdown: signal !== undefined }, o)
  if (signal) {
    await app.printed('READY')
    app.child.kill(signal)
  }
  const r = await app.done
  const expected: Record<ExitPath, { code: number | null; signal: NodeJS.Signals | null; stderr?: RegExp }> = {
    normal: { code: 0, signal: null },
    exit: { code: 0, signal: null },
    throw: { code: 1, signal: null, stderr: /uncaught on purpose/ },
    reject: { code: 1, signal: null, stderr: /unhandled rejection on purpose/ },
    SIGTERM: { code: null, signal: 'SIGTERM' },
    SIGINT: { code: null, signal: 'SIGINT' },
  }
  const e = expected[path]
  if (r.code !== e.code || r.signal !== e.signal || (e.stderr && !e.stderr.test(r.stderr))) {
    throw new Error(`the app did not end as "${path}" should (code ${r.code}, signal ${r.signal}):\n${r.stderr}`)
  }
  return r
}

/** Every event in an NDJSON event file and its rotated siblings (`events.ndjson.1`, ...). */
export function readEventFiles(path: string): Array<Record<string, unknown>> {
  const dir = resolve(path, '..')
  const base = path.slice(dir.length + 1)
  const files = readdirSync(dir).filter((f) => f === base || new RegExp(`^${base.replace(/\./g, '\\.')}\\.\\d+$`).test(f))
  // Oldest first, as the file store rotates: events.ndjson.N ... events.ndjson.1, then events.ndjson.
  const rank = (f: string): number => (f === base ? 0 : Number(f.slice(base.length + 1)))
  files.sort((a, b) => rank(b) - rank(a))
  const out: Array<Record<string, unknown>> = []
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line.trim()) out.push(JSON.parse(line))
  }
  return out
}

export interface MixCheck {
  /** Events of the run. */
  count: number
  /** Distinct line numbers among them. */
  distinct: number
  /** The first few differences from the expected events. */
  mismatches: string[]
}

const NAIVE_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}000)?$/

/**
 * Compare stored events with the standard mix: every line 0..count-1 present once, each with the
 * level, type, source and data it must have (ids and timestamps checked for shape).
 */
export function checkMix(events: Array<Record<string, unknown>>, count: number, run: string, pid: number): MixCheck {
  const host = hostname()
  const seen = new Set<number>()
  const mismatches: string[] = []
  let n = 0
  for (const raw of events) {
    const data = raw.event_data as { run?: string; i?: number } | null
    if (!data || data.run !== run) continue
    n++
    const i = data.i as number
    seen.add(i)
    if (mismatches.length >= 5) continue
    const { _id, event_id, event_timestamp, ...rest } = raw
    const id = (event_id ?? _id) as string
    const want = expectedMixEvent(i, run, pid, host)
    const got = { ...rest, event_data: rest.event_data }
    if (JSON.stringify(sortKeys(got)) !== JSON.stringify(sortKeys(want))) mismatches.push(`line ${i}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
    else if (!/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(id)) mismatches.push(`line ${i}: event_id ${id} is not a ULID`)
    else if (typeof event_timestamp !== 'string' || !NAIVE_MS.test(event_timestamp)) mismatches.push(`line ${i}: event_timestamp ${String(event_timestamp)}`)
  }
  return { count: n, distinct: seen.size, mismatches }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]))
  return v
}

/** The transport's closing summary events among stored events. */
export function summaries(events: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return events.filter((e) => (e.event_data as { madsci_events?: { kind?: string } } | null)?.madsci_events?.kind === 'transport_summary')
}

/**
 * Deliver what a finished process left in a spool, as the next process with the same sink and
 * spool directory does: a logger on the same sink replays it at start. Resolves with its stats.
 */
export async function replaySpool(sink: { mongodb?: { url: string; database: string } ; eventManager?: string }, spool: string): Promise<PipelineStats> {
  const logger = createEventLogger({ ...sink, spool, env: {}, onWarning: () => {} })
  await logger.flush()
  const stats = logger.stats()
  await logger.close()
  return stats
}
