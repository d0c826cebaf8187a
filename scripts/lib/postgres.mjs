/**
 * PostgreSQL 15 as a local test service: the shared store under several FerretDB front ends
 * (`startFerretDB({ postgresqlUrl })`, scripts/lib/ferretdb.mjs). Plain ESM, Node 20 builtins only;
 * it runs the machine's `initdb`, `postgres` and `psql` (Debian's postgresql-15 packages).
 *
 * API
 *
 *   await startPostgres({ port?, timeoutMs = 30000, database = 'madsci', fsync = true, echo = false }) → PostgresServer
 *     `initdb` a fresh cluster in its own mkdtemp directory (trust authentication for the
 *     `postgres` role, on loopback only, no Unix socket), starts `postgres` on 127.0.0.1 (a free
 *     port when `port` is not given), waits until it accepts queries and creates `database`.
 *     PostgreSQL refuses to run as root: when we are root, the directory is given to the OS user
 *     `postgres` (created with `useradd --system` if absent) and both programs run as that user.
 *     `fsync: false` trades durability on power loss for speed (the process being killed is safe
 *     either way). Throws PostgresError naming what failed, with the output's tail.
 *
 *   PostgresServer
 *     url             'postgres://postgres@127.0.0.1:PORT/<database>' (what FerretDB is given)
 *     port, dataDir, database
 *     pid             the postmaster's pid (changes after restart())
 *     running
 *     output()        the last lines the server printed
 *     query(sql)      → Promise<string[][]> rows (psql -At, fields split on '|')
 *     cpuSeconds()    CPU time (user + system) of the postmaster and every backend it started so
 *                     far, as counted by the kernel; take the difference across a measurement
 *     kill(signal = 'SIGKILL') → Promise<{ code, signal }>  (postgres's own signals: SIGTERM smart,
 *                     SIGINT fast, SIGQUIT immediate shutdown)
 *     restart({ timeoutMs? }) → Promise<void>   fast shutdown if running, then start on the same port and data
 *     stop({ graceMs = 5000 }) → Promise<void>  fast shutdown (SIGKILL after graceMs), removes the data directory; idempotent
 *
 * Lifetime: on process 'exit' every running server is SIGKILLed and its directory removed. If this
 * process dies without running 'exit' handlers (SIGKILL), a small shell watchdog started with each
 * cluster notices within 250 ms that we are gone, stops the postmaster (SIGQUIT, then SIGKILL) and
 * removes the directory; it exits by itself once stop() has removed the directory.
 *
 * CLI
 *   node scripts/lib/postgres.mjs start [--port N] [--database NAME]   starts one, prints its URL, stops on Ctrl-C
 */
import { spawn, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, held } from './ferretdb.mjs'

const OUTPUT_LINES = 40
/** The kernel's clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100

export class PostgresError extends Error {
  /**
   * @param {string} message
   * @param {{ output?: string, cause?: unknown }} [details]
   */
  constructor(message, { output, cause } = {}) {
    super(output ? `${message}\n--- last output ---\n${output}` : message, cause ? { cause } : undefined)
    this.name = 'PostgresError'
    this.output = output
  }
}

/** @type {Map<import('node:child_process').ChildProcess, string>} running postmasters → their data dirs */
const live = new Map()
let exitHookInstalled = false
function installExitHook() {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const [child, dir] of live) {
      try {
        child.kill('SIGKILL')
      } catch {}
      try {
        rmSync(dir, { recursive: true, force: true })
      } catch {}
    }
  })
}

/** The OS user to run PostgreSQL as: ourselves, or `postgres` when we are root (created if absent). */
function runAs() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined
  const id = (flag) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' })
  let uid = id('-u')
  if (uid.status !== 0) {
    const made = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' })
    if (made.status !== 0) throw new PostgresError(`PostgreSQL refuses to run as root and there is no 'postgres' user; useradd failed: ${made.stderr || made.error?.message}`)
    uid = id('-u')
  }
  const gid = id('-g')
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

function findBinary(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, name))) return join(dir, name)
  for (const dir of readdirSafe('/usr/lib/postgresql').sort().reverse()) {
    const p = join('/usr/lib/postgresql', dir, 'bin', name)
    if (existsSync(p)) return p
  }
  throw new PostgresError(`${name} not found on PATH or in /usr/lib/postgresql/*/bin; install PostgreSQL (apt-get install postgresql)`)
}

function readdirSafe(dir) {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/**
 * @typedef {object} PostgresServer
 * @property {string} url
 * @property {number} port
 * @property {string} dataDir
 * @property {string} database
 * @property {number} pid
 * @property {boolean} running
 * @property {() => string} output
 * @property {(sql: string) => Promise<string[][]>} query
 * @property {() => number} cpuSeconds
 * @property {(signal?: NodeJS.Signals) => Promise<{ code: number | null, signal: string | null }>} kill
 * @property {(options?: { timeoutMs?: number }) => Promise<void>} restart
 * @property {(options?: { graceMs?: number }) => Promise<void>} stop
 */

/**
 * Start a private PostgreSQL cluster on loopback (see the module doc).
 * @param {{ port?: number, timeoutMs?: number, database?: string, fsync?: boolean, echo?: boolean }} [options]
 * @returns {Promise<PostgresServer>}
 */
export async function startPostgres({ port, timeoutMs = 30_000, database = 'madsci', fsync = true, echo = false } = {}) {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new PostgresError(`startPostgres: database must be a plain lower-case identifier, got ${JSON.stringify(database)}`)
  const initdb = findBinary('initdb')
  const postgres = findBinary('postgres')
  const psql = findBinary('psql')
  const user = runAs()
  installExitHook()
  const dataDir = mkdtempSync(join(tmpdir(), 'madsci-postgres-'))
  const ids = user ? { uid: user.uid, gid: user.gid } : {}
  // The postgres user must be able to reach its directory: mkdtemp made it 0700 and ours.
  if (user) chownSync(dataDir, user.uid, user.gid)
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC', HOME: dataDir }
  const cleanup = () => rmSync(dataDir, { recursive: true, force: true })

  const init = spawnSync(initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'], {
    ...ids,
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
  })
  if (init.status !== 0) {
    cleanup()
    throw new PostgresError(`initdb failed (${init.error?.message ?? `exit ${init.status}`})`, { output: `${init.stdout ?? ''}${init.stderr ?? ''}`.trim().split('\n').slice(-OUTPUT_LINES).join('\n') })
  }
  // Loopback TCP only; no Unix socket (its default directory may not exist or be ours).
  const conf = [
    "listen_addresses = '127.0.0.1'",
    "unix_socket_directories = ''",
    'max_connections = 200',
    `fsync = ${fsync ? 'on' : 'off'}`,
    "logging_collector = off",
    "log_min_messages = warning",
    'track_io_timing = off',
  ]
  writeFileSync(join(dataDir, 'postgresql.auto.conf'), conf.join('\n') + '\n')
  if (user) chownSync(join(dataDir, 'postgresql.auto.conf'), user.uid, user.gid)

  /** @type {import('node:child_process').ChildProcess} */
  let child
  /** @type {Promise<{ code: number | null, signal: string | null }>} */
  let exited = Promise.resolve({ code: null, signal: null })
  let lines = []
  let stopped = false
  const info = { port: port ?? 0 }

  const psqlRun = (sql, db = database, timeout = 30_000) =>
    new Promise((done, reject) => {
      const p = spawn(psql, ['-h', '127.0.0.1', '-p', String(info.port), '-U', 'postgres', '-d', db, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
        env: { ...env, PGCONNECT_TIMEOUT: '5' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      let err = ''
      const timer = setTimeout(() => p.kill('SIGKILL'), timeout)
      p.stdout.setEncoding('utf8').on('data', (d) => (out += d))
      p.stderr.setEncoding('utf8').on('data', (d) => (err += d))
      p.once('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
      p.once('close', (code) => {
        clearTimeout(timer)
        if (code === 0) done(out.split('\n').filter((l) => l !== '').map((l) => l.split('|')))
        else reject(new PostgresError(`psql failed (exit ${code}) on: ${sql.slice(0, 200)}`, { output: err.trim() }))
      })
    })

  const launch = async (wantPort, launchTimeoutMs) => {
    const deadline = Date.now() + launchTimeoutMs
    lines = []
    const c = spawn(postgres, ['-D', dataDir, '-p', String(wantPort)], { ...ids, env, stdio: ['ignore', 'pipe', 'pipe'] })
    child = c
    live.set(c, dataDir)
    exited = new Promise((done) => {
      c.once('error', (err) => {
        lines.push(`spawn error: ${err.message}`)
        live.delete(c)
        done({ code: null, signal: null })
      })
      c.once('close', (code, signal) => {
        live.delete(c)
        done({ code, signal })
      })
    })
    const keep = (d) => {
      if (echo) process.stderr.write(d)
      lines.push(...String(d).split('\n').filter(Boolean))
      if (lines.length > OUTPUT_LINES) lines.splice(0, lines.length - OUTPUT_LINES)
    }
    c.stdout.on('data', keep)
    c.stderr.on('data', keep)
    c.unref()
    for (const s of [c.stdout, c.stderr]) /** @type {any} */ (s).unref?.()
    info.port = wantPort
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null || !live.has(c)) {
        await exited
        const busy = lines.some((l) => /could not bind|Address already in use/.test(l))
        throw new PostgresError(`postgres exited at start${busy ? ` (port ${wantPort} is in use)` : ''}`, { output: lines.join('\n') })
      }
      try {
        await psqlRun('SELECT 1', 'postgres', 5000)
        return
      } catch {}
      if (Date.now() > deadline) {
        c.kill('SIGKILL')
        await exited
        throw new PostgresError(`postgres did not accept connections on 127.0.0.1:${wantPort} within ${launchTimeoutMs} ms`, { output: lines.join('\n') })
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  const isRunning = () => !!child && child.exitCode === null && child.signalCode === null && live.has(child)
  const stopProcess = async (graceMs) => {
    if (!isRunning()) return exited
    const c = child
    c.kill('SIGINT') // fast shutdown: clients are disconnected, data is flushed
    const timer = setTimeout(() => c.kill('SIGKILL'), graceMs)
    const r = await held(exited)
    clearTimeout(timer)
    return r
  }

  try {
    const deadline = Date.now() + timeoutMs
    for (let attempt = 1; ; attempt++) {
      try {
        await held(launch(port ?? (await freePort()), Math.max(1000, deadline - Date.now())))
        break
      } catch (err) {
        // A free port taken by someone else between our probe and postgres's bind: pick another.
        if (port != null || attempt >= 5 || !(err instanceof PostgresError && /in use/.test(err.message))) throw err
      }
    }
    await held(psqlRun(`CREATE DATABASE ${database}`, 'postgres'))
    startWatchdog(dataDir)
  } catch (err) {
    if (isRunning()) child.kill('SIGKILL')
    await exited
    cleanup()
    throw err
  }

  /** @type {PostgresServer} */
  const server = {
    get url() {
      return `postgres://postgres@127.0.0.1:${info.port}/${database}`
    },
    get port() {
      return info.port
    },
    dataDir,
    database,
    get pid() {
      return child.pid ?? -1
    },
    get running() {
      return isRunning()
    },
    output: () => lines.join('\n'),
    query: (sql) => held(psqlRun(sql)),
    cpuSeconds: () => (isRunning() && child.pid ? treeCpuSeconds(child.pid) : 0),
    async kill(signal = 'SIGKILL') {
      if (!isRunning()) return exited
      child.kill(signal)
      return held(exited)
    },
    async restart({ timeoutMs: restartTimeoutMs = timeoutMs } = {}) {
      if (stopped) throw new PostgresError('restart() after stop(): the data directory is gone')
      await stopProcess(5000)
      const deadline = Date.now() + restartTimeoutMs
      for (;;) {
        try {
          await held(launch(info.port, Math.max(1000, deadline - Date.now())))
          return
        } catch (err) {
          if (!(err instanceof PostgresError && /in use/.test(err.message)) || Date.now() + 250 > deadline) throw err
          await new Promise((r) => setTimeout(r, 200))
        }
      }
    },
    async stop({ graceMs = 5000 } = {}) {
      if (stopped) return
      stopped = true
      await stopProcess(graceMs)
      cleanup()
    },
  }
  return server
}

/**
 * A detached-from-us `sh` loop: while this process lives and the data directory exists, sleep;
 * if we die first, stop the postmaster named in postmaster.pid and remove the directory.
 */
function startWatchdog(dataDir) {
  const script = [
    'parent=$1; dir=$2',
    'while kill -0 "$parent" 2>/dev/null && [ -d "$dir" ]; do sleep 0.25; done',
    '[ -d "$dir" ] || exit 0',
    'pid=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null)',
    'if [ -n "$pid" ]; then kill -QUIT "$pid" 2>/dev/null; i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL "$pid" 2>/dev/null; fi',
    'rm -rf "$dir"',
  ].join('\n')
  const w = spawn('sh', ['-c', script, 'madsci-postgres-watchdog', String(process.pid), dataDir], { stdio: 'ignore', detached: true })
  w.unref()
}

/** CPU seconds of `pid` and every process whose parent is `pid` (postgres backends are the postmaster's children). */
function treeCpuSeconds(pid) {
  let ticks = 0
  for (const name of readdirSafe('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue
    }
    // Fields after the command name (which may hold spaces) start at ") ".
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    const ppid = Number(f[1])
    if (Number(name) === pid || ppid === pid) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
  }
  return ticks / CLOCK_TICKS
}

/** CPU seconds (user + system, with reaped children) of one process, from /proc; 0 when it is gone. */
export function processCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLOCK_TICKS
  } catch {
    return 0
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd, ...rest] = process.argv.slice(2)
  const flag = (name) => {
    const i = rest.indexOf(`--${name}`)
    return i >= 0 ? rest[i + 1] : undefined
  }
  if (cmd !== 'start') {
    console.error('usage: node scripts/lib/postgres.mjs start [--port N] [--database NAME]')
    process.exit(2)
  }
  try {
    const t0 = Date.now()
    const pg = await startPostgres({ port: flag('port') ? Number(flag('port')) : undefined, database: flag('database'), echo: true })
    console.log(pg.url)
    console.error(`PostgreSQL in ${pg.dataDir}, pid ${pg.pid}, ready in ${Date.now() - t0} ms; Ctrl-C stops it`)
    const keepAlive = setInterval(() => {}, 1 << 30)
    const shutdown = async () => {
      await pg.stop()
      clearInterval(keepAlive)
      process.exit(0)
    }
    process.on('SIGINT', shutdown)
    process.on('SIGTERM', shutdown)
  } catch (err) {
    console.error(err instanceof PostgresError ? err.message : err)
    process.exit(1)
  }
}
