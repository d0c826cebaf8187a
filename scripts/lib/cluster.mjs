/**
 * A scale-out deployment on one machine, for the scale-out test and soak: PostgreSQL
 * (scripts/lib/postgres.mjs), FerretDB front ends on it (scripts/lib/ferretdb.mjs), and `serve`
 * instances as child processes (scripts/lib/serve-child.mjs), instance i on front end i mod F.
 *
 *   await startCluster({ serverModule, instances = 3, frontEnds = 2, database = 'scale', settings = {}, binary?, log? })
 *     → { pg, frontEnds, servers, urls, stop() }
 *
 *   servers[i]: { url, port, frontEnd, pid, running, output(), cpuSeconds(), kill(signal = 'SIGKILL'), restart(), stop() }
 *
 * Order matters on FerretDB v1 (it caches the catalogue per front end, see
 * scripts/ferretdb/NOTES.md): instance 0 starts first and creates the collections and indexes
 * through front end 0; the others start after it, so their front ends read a complete catalogue.
 * A restarted instance keeps its port (clients list fixed URLs) and front end.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureFerretDB, startFerretDB } from './ferretdb.mjs'
import { processCpuSeconds, startPostgres } from './postgres.mjs'

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'serve-child.mjs')
const READY_RE = /^listening (http:\/\/\S+)$/m

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set()
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL')
    } catch {}
  }
})

/**
 * Start one `serve` child; resolves once it listens.
 * @param {{ serverModule: string, settings: Record<string, unknown>, port?: number, timeoutMs?: number }} options
 */
export async function startServe({ serverModule, settings, port = 0, timeoutMs = 30_000 }) {
  const dir = mkdtempSync(join(tmpdir(), 'madsci-serve-'))
  let child
  let exited
  let tail = ''
  let url = ''
  const launch = async (wantPort) => {
    const params = { module: serverModule, port: wantPort, dir, settings: { backup_dir: join(dir, 'backups'), export_dir: join(dir, 'exports'), ...settings } }
    const c = spawn(process.execPath, [CHILD, JSON.stringify(params)], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = c
    children.add(c)
    exited = new Promise((done) => c.once('close', (code, signal) => {
      children.delete(c)
      done({ code, signal })
    }))
    let out = ''
    const ready = new Promise((resolve) => {
      c.stdout.setEncoding('utf8').on('data', (d) => {
        out += d
        const m = READY_RE.exec(out)
        if (m) resolve(m[1])
      })
    })
    c.stderr.setEncoding('utf8').on('data', (d) => {
      tail = (tail + d).slice(-8000)
    })
    let timer
    const r = await Promise.race([ready, exited.then(() => 'exit'), new Promise((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)))])
    clearTimeout(timer)
    if (r === 'exit' || r === 'timeout') {
      c.kill('SIGKILL')
      throw new Error(`serve instance did not start (${r}) on port ${wantPort}:\n${tail}`)
    }
    url = r
  }
  await launch(port)
  const boundPort = Number(new URL(url).port)
  const isRunning = () => child.exitCode === null && child.signalCode === null && children.has(child)
  return {
    get url() {
      return url
    },
    port: boundPort,
    get pid() {
      return child.pid
    },
    get running() {
      return isRunning()
    },
    output: () => tail,
    cpuSeconds: () => processCpuSeconds(child.pid),
    async kill(signal = 'SIGKILL') {
      if (!isRunning()) return exited
      child.kill(signal)
      return exited
    },
    async restart() {
      if (isRunning()) {
        child.kill('SIGTERM')
        await exited
      }
      // The port may stay busy for a moment after a kill.
      for (let attempt = 1; ; attempt++) {
        try {
          return await launch(boundPort)
        } catch (err) {
          if (attempt >= 20 || !/EADDRINUSE/.test(String(err))) throw err
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    },
    async stop() {
      if (isRunning()) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * @param {{ serverModule: string, instances?: number, frontEnds?: number, database?: string, settings?: Record<string, unknown>, binary?: string, log?: (msg: string) => void }} options
 */
export async function startCluster({ serverModule, instances = 3, frontEnds = 2, database = 'scale', settings = {}, binary, log = () => {} }) {
  const stops = []
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined)
  }
  try {
    binary ??= await ensureFerretDB({ quiet: true })
    log('starting PostgreSQL ...')
    const pg = await startPostgres({ timeoutMs: 60_000 })
    stops.push(() => pg.stop())
    log(`starting ${frontEnds} FerretDB front ends ...`)
    const fronts = await Promise.all(Array.from({ length: frontEnds }, () => startFerretDB({ binary, postgresqlUrl: pg.url, timeoutMs: 60_000 })))
    for (const f of fronts) stops.push(() => f.stop())
    const settingsFor = (i) => ({ document_db_url: fronts[i % frontEnds].url, database_name: database, ...settings })
    log(`starting ${instances} serve instances ...`)
    // The first one creates the collections and indexes (through front end 0) before the others start.
    const first = await startServe({ serverModule, settings: settingsFor(0) })
    stops.push(() => first.stop())
    const rest = await Promise.all(Array.from({ length: instances - 1 }, (_, k) => startServe({ serverModule, settings: settingsFor(k + 1) })))
    for (const s of rest) stops.push(() => s.stop())
    const servers = [first, ...rest].map((s, i) => Object.assign(s, { frontEnd: i % frontEnds }))
    return { pg, frontEnds: fronts, servers, urls: servers.map((s) => s.url), database, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}
