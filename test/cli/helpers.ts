import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { inject } from 'vitest'
import { cleanEnv, ensureBuilt, ROOT } from '../transport/helpers.js'

/**
 * The CLI as users run it: `node dist/cli.js` (built by `npx tsup`, or here when missing), in a
 * scratch directory whose HOME is itself and which holds an empty `.madsci/` (so defaults land
 * inside it), with no MADSci variable from the parent unless given.
 */
export const CLI = join(ROOT, 'dist', 'cli.js')

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliRun {
  child: ChildProcess
  /** What it printed so far. */
  stdout(): string
  stderr(): string
  /** Resolves when stdout or stderr contains `text`. */
  printed(text: string): Promise<void>
  done: Promise<CliResult>
}

/** A scratch project: `<dir>/.madsci/` exists; HOME and the working directory are `dir`. */
export function scratch(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `madsci-cli-${name}-`))
  mkdirSync(join(dir, '.madsci'))
  return dir
}

export function startCli(args: string[], o: { cwd: string; env?: Record<string, string | undefined> }): CliRun {
  ensureBuilt()
  const child = spawn(process.execPath, [CLI, ...args], { cwd: o.cwd, env: cleanEnv({ HOME: o.cwd, ...o.env }), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiters: Array<{ text: string; resolve: () => void }> = []
  const check = (): void => {
    for (const w of waiters) if (stdout.includes(w.text) || stderr.includes(w.text)) w.resolve()
  }
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString()
    check()
  })
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
    check()
  })
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
  return {
    child,
    done,
    stdout: () => stdout,
    stderr: () => stderr,
    printed(text) {
      if (stdout.includes(text) || stderr.includes(text)) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        waiters.push({ text, resolve })
        void done.then((r) => reject(new Error(`the CLI ended (code ${r.code}) before printing ${JSON.stringify(text)}:\n${r.stdout}\n${r.stderr}`)))
      })
    },
  }
}

/** Run the CLI to the end. */
export function runCli(args: string[], o: { cwd: string; env?: Record<string, string | undefined> }): Promise<CliResult> {
  return startCli(args, o).done
}

/** The test MongoDB URL with `database` in its path (`mongodb://host:port/<database>?…`). */
export function urlWithDatabase(database: string): string {
  const u = new URL(inject('mongoUrl'))
  u.pathname = `/${database}`
  return u.href
}

let counter = 0
export function databaseName(name: string): string {
  return `t_cli_${name}_${process.pid}_${++counter}`
}

/** Names of the databases on the test server. */
export async function databases(): Promise<string[]> {
  const client = await MongoClient.connect(inject('mongoUrl'))
  try {
    return (await client.db().admin().listDatabases()).databases.map((d) => d.name)
  } finally {
    await client.close()
  }
}

export async function dropDatabases(names: string[]): Promise<void> {
  const client = await MongoClient.connect(inject('mongoUrl'))
  try {
    for (const n of names) await client.db(n).dropDatabase().catch(() => undefined)
  } finally {
    await client.close()
  }
}

/** An NDJSON event file of `count` events (one a second from 2025-01-06), for reading commands. */
export function writeEventFile(path: string, count: number, data: (i: number) => Record<string, unknown> = (i) => ({ message: `event ${i}`, i })): string[] {
  const ids: string[] = []
  const lines: string[] = []
  const t0 = Date.UTC(2025, 0, 6)
  for (let i = 0; i < count; i++) {
    // ULID-shaped, increasing: 26 Crockford characters.
    const id = `01JH${String(i).padStart(22, '0')}`
    ids.push(id)
    const ts = new Date(t0 + i * 1000).toISOString().replace('Z', '000')
    lines.push(JSON.stringify({ event_id: id, event_type: i % 10 === 0 ? 'log_warning' : 'log_info', log_level: i % 10 === 0 ? 30 : 20, alert: false, event_timestamp: ts, source: {}, event_data: data(i), trace_id: null, span_id: null, archived: false, archived_at: null }))
  }
  writeFileSync(path, lines.join('\n') + '\n')
  return ids
}

/** Leftover temporary files (`.<name>.<pid>-<hex>.tmp`) in a directory. */
export function tempFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.tmp'))
}
