import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { inject } from 'vitest'
// @ts-expect-error plain ESM script without type declarations
import { runPythonClient } from '../../scripts/lib/python-peer.mjs'
import { createServer, type MadsciServer, type ServerOptions, type ServerSettings } from '../../adapters/server/index.js'
import type { MadsciWarning } from '../../src/warnings.js'

/**
 * Shared plumbing of the server tests: our server on either store (FerretDB through
 * `inject('mongoUrl')`, or the embedded file store in a temp dir), plain HTTP calls that keep the
 * exact response bytes, and the Python peer (madsci-client 0.8.1) as a driver.
 */

export type StoreKind = 'ferretdb' | 'file'
export const STORE_KINDS: StoreKind[] = ['ferretdb', 'file']

let counter = 0

export interface Running {
  server: MadsciServer
  url: string
  kind: StoreKind
  /** Temp directory holding `.madsci/`, backups, exports and (file store) the data file. */
  dir: string
  /** The MongoDB database (FerretDB kind). */
  database?: string
  warnings: MadsciWarning[]
  errors: Array<{ err: Error; where: string }>
  close(): Promise<void>
}

export interface StartOptions extends Omit<ServerOptions, 'env' | 'settings' | 'onWarning' | 'onError'> {
  settings?: Partial<ServerSettings>
  /** Extra environment (the base is an isolated HOME / MADSCI_SETTINGS_DIR). */
  env?: NodeJS.ProcessEnv
  /** Use this database name (FerretDB) instead of a fresh one: to share it between instances. */
  database?: string
  /** Use this directory instead of a fresh one (file store: shares the data file). */
  dir?: string
  /** Do not listen (tests of `listen()` itself). */
  listen?: false
  port?: number
  host?: string
  /** Keep the database when closing (a later instance reads it). */
  keepDatabase?: boolean
}

/** A fresh temp dir with an empty `.madsci/` (MADSci's project sentinel, so nothing leaks from $HOME). */
export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `madsci-srv-${name}-`))
  mkdirSync(join(dir, '.madsci'))
  return dir
}

export function databaseName(name: string): string {
  return `t_server_${name}_${process.pid}_${++counter}`
}

/** Our server on `kind`, listening on a free loopback port. */
export async function startServer(kind: StoreKind, name: string, options: StartOptions = {}): Promise<Running> {
  const dir = options.dir ?? tempDir(name)
  const database = kind === 'ferretdb' ? (options.database ?? databaseName(name)) : undefined
  const warnings: MadsciWarning[] = []
  const errors: Array<{ err: Error; where: string }> = []
  const storeSettings: Partial<ServerSettings> =
    kind === 'ferretdb' ? { document_db_url: inject('mongoUrl'), database_name: database } : { data_file: join(dir, 'events.ndjson') }
  const { settings, env, listen, port, host, keepDatabase, database: _db, dir: _dir, ...rest } = options
  const server = createServer({
    ...rest,
    env: { HOME: dir, MADSCI_SETTINGS_DIR: dir, ...env },
    settings: { backup_dir: join(dir, 'backups'), export_dir: join(dir, 'exports'), ...storeSettings, ...settings },
    onWarning: (w) => warnings.push(w),
    onError: (err, where) => errors.push({ err, where }),
  })
  const url = listen === false ? '' : (await server.listen(port ?? 0, host)).url
  return {
    server,
    url,
    kind,
    dir,
    database,
    warnings,
    errors,
    async close() {
      await server.close()
      if (database && !keepDatabase) await dropDatabase(database)
      if (!options.dir) rmSync(dir, { recursive: true, force: true })
    },
  }
}

export async function dropDatabase(name: string): Promise<void> {
  const client = await MongoClient.connect(inject('mongoUrl'))
  try {
    await client.db(name).dropDatabase()
  } finally {
    await client.close()
  }
}

/** Run `fn` with a server that is closed afterwards, whatever happens. */
export async function withServer<T>(kind: StoreKind, name: string, fn: (r: Running) => Promise<T>, options: StartOptions = {}): Promise<T> {
  const r = await startServer(kind, name, options)
  try {
    return await fn(r)
  } finally {
    await r.close()
  }
}

export interface Reply {
  status: number
  headers: Headers
  /** The exact body text. */
  text: string
  json<T = any>(): T
}

/** One HTTP request; `body` objects are sent as JSON, strings as they are. */
export async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] ??= 'application/json'
  }
  const res = await fetch(base + path, init)
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: () => JSON.parse(text),
  }
}

/** The keys of a JSON object text, in the order they appear (JS objects would reorder integer-like keys). */
export function orderedKeys(text: string): string[] {
  const keys: string[] = []
  let depth = 0
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      if (depth === 1 && text[j + 1] === ':') keys.push(JSON.parse(text.slice(i, j + 1)))
      i = j + 1
      continue
    }
    if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') depth--
    i++
  }
  return keys
}

/** The Python peer's interpreter and a runner for client scripts (madsci-client 0.8.1). */
export function python(): string {
  return inject('python')
}

export function runPython<T = any>(script: string, options: { serverUrl?: string; input?: unknown; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<T> {
  return runPythonClient({ python: python(), script, ...options }) as Promise<T>
}

/** Python-naive ISO timestamp `days` days from now (what MADSci clients stamp), with microseconds. */
export function naiveDaysAgo(days: number, from = Date.now()): string {
  const d = new Date(from - days * 86_400_000)
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}000`
}

/**
 * A Node HTTP server that mounts our API (`server.handle`) and records every request line and
 * headers: how a test sees exactly what the Python client sends.
 */
export async function recordingFront(server: MadsciServer): Promise<{ url: string; requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>; close(): Promise<void> }> {
  const requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }> = []
  const front: Server = createHttpServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    void server.handle(req, res)
  })
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
  const { port } = front.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        front.closeAllConnections()
        front.close(() => resolve())
      }),
  }
}

/** Poll `check` until it returns a value other than undefined (no timing assertions: the test timeout bounds it). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, intervalMs = 50): Promise<T> {
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
