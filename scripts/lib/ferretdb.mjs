/**
 * FerretDB v1.24.2 (the MongoDB wire protocol on SQLite or PostgreSQL) as a local test service, built from Go
 * modules by our small embedding program in scripts/ferretdb (see scripts/ferretdb/NOTES.md for
 * what it does and refuses). Plain ESM, no build step; Node 20 builtins plus the `mongodb` driver
 * (a dependency of this package) for the readiness check.
 *
 * API
 *
 *   await ensureFerretDB({ cacheDir?, quiet? }) → string
 *     Path of the built binary. Built once with `go build -trimpath` into
 *     `<cacheDir>/ferretdb/ferretdb-1.24.2-<os>-<arch>-<hash of go.mod+go.sum+main.go>`, so any change
 *     to those files rebuilds; concurrent builds write to their own temp file and rename atomically.
 *     cacheDir defaults to `$MADSCI_EVENTS_CACHE`, else `~/.cache/madsci-events`. Go's output goes
 *     to stderr (`quiet: true` keeps it back unless the build fails). Throws FerretDBError
 *     (with `.command` and `.output`, the stderr tail) when Go is missing or the build fails.
 *
 *   await startFerretDB({ binary?, port?, dataDir?, postgresqlUrl?, timeoutMs = 30000, logLevel = 'warn', cacheDir?, echo = false }) → FerretDBServer
 *     Spawns the binary on 127.0.0.1 (a free port when `port` is not given), with SQLite files in
 *     `dataDir` (default: its own mkdtemp directory, removed by stop()), waits for its readiness line
 *     and a real MongoDB `hello` + `buildInfo` over the wire, and resolves with a FerretDBServer.
 *     With `postgresqlUrl` (see scripts/lib/postgres.mjs) it uses FerretDB's PostgreSQL backend
 *     instead of SQLite, and has no data directory: several front ends on one PostgreSQL database
 *     share one store (create a database's collections and indexes before a second front end first
 *     reads them: FerretDB v1 caches the catalogue per process, see scripts/ferretdb/NOTES.md).
 *     Without `binary` it calls ensureFerretDB({ cacheDir }). The process output is kept (the last
 *     40 lines, see output()) and, with `echo: true`, also copied to our stderr. Throws FerretDBError
 *     naming what failed (exit at start, busy port, timeout, hello failure) with that output's tail.
 *
 *   FerretDBServer
 *     url            'mongodb://127.0.0.1:PORT/'
 *     port           number (stays the same across restart())
 *     dataDir        the SQLite directory (one <database>.sqlite file per database); undefined on PostgreSQL
 *     backend        'sqlite' or 'postgresql'
 *     version        FerretDB version reported by buildInfo.ferretdbVersion, e.g. '1.24.2'
 *     mongodbVersion MongoDB version it claims in buildInfo.version, e.g. '7.0.42'
 *     pid            current process id (changes after restart())
 *     running        whether the current process is alive
 *     output()       the last lines the process printed (stdout and stderr)
 *     kill(signal = 'SIGKILL') → Promise<{ code, signal }>
 *                    sends the signal; for terminating signals waits until the process is gone
 *                    (SIGSTOP / SIGCONT return at once: a hung server, then a resumed one)
 *     restart({ timeoutMs? }) → Promise<void>
 *                    starts a new process on the same port and dataDir (stopping the old one
 *                    gracefully first if it still runs) and waits for readiness again; a database
 *                    file a SIGKILL left without FerretDB's metadata table (it holds nothing, and
 *                    FerretDB would refuse to start) is renamed aside first
 *     stop({ graceMs = 5000 }) → Promise<void>
 *                    SIGTERM, SIGKILL after graceMs, waits for exit, removes the dataDir it created;
 *                    idempotent
 *
 * Lifetime: the children are not detached (Ctrl-C in a terminal reaches them too) and are unref'd
 * (a forgotten server does not keep Node alive). On process 'exit' every running server is SIGKILLed
 * and the temp dirs are removed. If this process dies without running 'exit' handlers (SIGKILL,
 * a fatal signal), the Go program notices it was re-parented within 250 ms, stops, and removes its
 * temp dir itself (-cleanup-if-orphaned).
 *
 * CLI
 *   node scripts/lib/ferretdb.mjs build [--cache-dir DIR]     builds (if needed), prints the binary path
 *   node scripts/lib/ferretdb.mjs start [--port N] [--data-dir DIR] [--log-level L] [--timeout-ms N] [--cache-dir DIR]
 *                                                             starts one, prints its URL, stops on Ctrl-C
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The FerretDB module version pinned in scripts/ferretdb/go.mod. */
export const FERRETDB_VERSION = '1.24.2'

/** The Go embedding program's directory (go.mod, go.sum, main.go). */
export const FERRETDB_SOURCE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'ferretdb')

const SOURCE_FILES = ['go.mod', 'go.sum', 'main.go']
const OUTPUT_LINES = 40
const READY_RE = /^ferretdb listening on (\S+):(\d+)$/m

/** What went wrong with building or running FerretDB; `command` and `output` (a tail) when known. */
export class FerretDBError extends Error {
  /**
   * @param {string} message
   * @param {{ command?: string, output?: string, cause?: unknown }} [details]
   */
  constructor(message, { command, output, cause } = {}) {
    super(output ? `${message}\n--- last output ---\n${output}` : message, cause ? { cause } : undefined)
    this.name = 'FerretDBError'
    this.command = command
    this.output = output
  }
}

/**
 * The cache root: `cacheDir`, else `$MADSCI_EVENTS_CACHE`, else `~/.cache/madsci-events`.
 * @param {string} [cacheDir]
 */
export function cacheRoot(cacheDir) {
  return resolve(cacheDir || process.env.MADSCI_EVENTS_CACHE || join(homedir(), '.cache', 'madsci-events'))
}

/**
 * Where the binary for the current sources lives (whether built yet or not).
 * @param {{ cacheDir?: string }} [options]
 */
export function ferretdbBinaryPath({ cacheDir } = {}) {
  const hash = createHash('sha256')
  for (const f of SOURCE_FILES) {
    hash.update(`${f}\0`)
    hash.update(readFileSync(join(FERRETDB_SOURCE_DIR, f)))
  }
  const key = hash.digest('hex').slice(0, 16)
  return join(cacheRoot(cacheDir), 'ferretdb', `ferretdb-${FERRETDB_VERSION}-${process.platform}-${process.arch}-${key}`)
}

/**
 * Build the embedding program once (see the module doc); resolves with the binary's path.
 * @param {{ cacheDir?: string, quiet?: boolean }} [options]
 * @returns {Promise<string>}
 */
export async function ensureFerretDB({ cacheDir, quiet = false } = {}) {
  const binary = ferretdbBinaryPath({ cacheDir })
  if (isExecutableFile(binary)) return binary
  mkdirSync(dirname(binary), { recursive: true })
  const tmp = `${binary}.tmp-${process.pid}-${Date.now().toString(36)}`
  const args = ['build', '-trimpath', '-buildvcs=false', '-ldflags=-s -w', '-o', tmp, '.']
  const command = `go ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')} (in ${FERRETDB_SOURCE_DIR})`
  if (!quiet) process.stderr.write(`Building FerretDB ${FERRETDB_VERSION} from Go modules (first run, or the sources changed): ${command}\n`)
  const started = Date.now()
  const tail = new Tail(OUTPUT_LINES)
  const result = await new Promise((done) => {
    // CGO_ENABLED=0: the SQLite backend is pure Go (modernc.org/sqlite), so no C compiler is needed.
    const child = spawn('go', args, {
      cwd: FERRETDB_SOURCE_DIR,
      env: { ...process.env, CGO_ENABLED: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const onData = (d) => {
      tail.push(d)
      if (!quiet) process.stderr.write(d)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('error', (error) => done({ error }))
    child.once('close', (code, signal) => done({ code, signal }))
  })
  if (result.error) {
    rmSync(tmp, { force: true })
    const hint = result.error.code === 'ENOENT' ? 'Go is not installed or not on PATH: install Go 1.24 or newer.' : result.error.message
    throw new FerretDBError(`Building FerretDB failed: could not run \`${command}\`. ${hint}`, { command, cause: result.error })
  }
  if (result.code !== 0) {
    rmSync(tmp, { force: true })
    throw new FerretDBError(
      `Building FerretDB failed: \`${command}\` exited with ${result.code ?? result.signal}. ` +
        'Check that the Go module proxy is reachable (or the modules are in the Go module cache) and that scripts/ferretdb compiles.',
      { command, output: tail.text() },
    )
  }
  chmodSync(tmp, 0o755)
  renameSync(tmp, binary) // atomic; a concurrent build of the same sources renames an identical file
  if (!quiet) process.stderr.write(`Built ${binary} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  return binary
}

/** A free TCP port on 127.0.0.1 (it may be taken again before you use it; prefer letting startFerretDB pick). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address())
      srv.close(() => resolvePort(port))
    })
  })
}

/** Running children and the temp dirs we own: cleaned up on process exit. */
const live = new Map() // ChildProcess → dataDir to remove, or null
const ownedDirs = new Set()
let exitHookInstalled = false
function installExitHook() {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of live.keys()) {
      try {
        child.kill('SIGKILL')
      } catch {}
    }
    for (const dir of ownedDirs) {
      try {
        rmSync(dir, { recursive: true, force: true })
      } catch {}
    }
  })
}

/**
 * @typedef {object} FerretDBServer
 * @property {string} url 'mongodb://127.0.0.1:PORT/'
 * @property {number} port
 * @property {string | undefined} dataDir
 * @property {'sqlite' | 'postgresql'} backend
 * @property {string} version FerretDB version from buildInfo.ferretdbVersion, e.g. '1.24.2'
 * @property {string} mongodbVersion MongoDB version from buildInfo.version, e.g. '7.0.42'
 * @property {number} pid
 * @property {boolean} running
 * @property {() => string} output
 * @property {(signal?: NodeJS.Signals | number) => Promise<{ code: number | null, signal: string | null }>} kill
 * @property {(options?: { timeoutMs?: number }) => Promise<void>} restart
 * @property {(options?: { graceMs?: number }) => Promise<void>} stop
 */

/**
 * Start FerretDB on loopback (see the module doc).
 * @param {{ binary?: string, port?: number, dataDir?: string, postgresqlUrl?: string, timeoutMs?: number, logLevel?: 'debug' | 'info' | 'warn' | 'error', cacheDir?: string, echo?: boolean }} [options]
 * @returns {Promise<FerretDBServer>}
 */
export async function startFerretDB({ binary, port, dataDir, postgresqlUrl, timeoutMs = 30_000, logLevel = 'warn', cacheDir, echo = false } = {}) {
  if (postgresqlUrl != null && dataDir != null) throw new FerretDBError('startFerretDB: give dataDir (SQLite) or postgresqlUrl (PostgreSQL), not both')
  if (postgresqlUrl != null && !/^postgres(ql)?:\/\/[^/]+/.test(postgresqlUrl)) throw new FerretDBError(`startFerretDB: postgresqlUrl must be postgres://user@host:port/database, got ${postgresqlUrl}`)
  binary ??= await ensureFerretDB({ cacheDir })
  if (!isExecutableFile(binary)) throw new FerretDBError(`FerretDB binary ${binary} does not exist or is not executable; build it with ensureFerretDB().`)
  if (port != null && !(Number.isInteger(port) && port >= 0 && port < 65536)) throw new FerretDBError(`startFerretDB: port must be an integer 0..65535, got ${port}`)
  installExitHook()
  const backend = postgresqlUrl ? 'postgresql' : 'sqlite'
  const ownDir = !dataDir && !postgresqlUrl
  dataDir = postgresqlUrl ? undefined : ownDir ? mkdtempSync(join(tmpdir(), 'madsci-ferretdb-')) : resolve(/** @type {string} */ (dataDir))
  if (ownDir) ownedDirs.add(dataDir)

  /** @type {import('node:child_process').ChildProcess} */
  let child
  /** @type {Promise<{ code: number | null, signal: string | null }>} */
  let exited
  let tail = new Tail(OUTPUT_LINES)
  let stopped = false
  const info = { port: port ?? 0, version: '', mongodbVersion: '' }

  const launch = async (wantPort, launchTimeoutMs) => {
    const args = ['-listen-addr', `127.0.0.1:${wantPort}`, ...(postgresqlUrl ? ['-postgresql-url', postgresqlUrl] : ['-sqlite-dir', dataDir]), '-log-level', logLevel]
    if (ownDir) args.push('-cleanup-if-orphaned')
    const command = `${binary} ${args.join(' ')}`
    tail = new Tail(OUTPUT_LINES)
    const deadline = Date.now() + launchTimeoutMs
    const c = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false })
    child = c
    live.set(c, ownDir ? dataDir : null)
    exited = new Promise((done) => {
      c.once('error', (err) => {
        tail.push(`spawn error: ${err.message}\n`)
        live.delete(c)
        done({ code: null, signal: null })
      })
      c.once('close', (code, signal) => {
        live.delete(c)
        done({ code, signal })
      })
    })
    let stdoutText = ''
    /** @type {(v: { host: string, port: number }) => void} */
    let onReady = () => {}
    const ready = new Promise((r) => (onReady = r))
    c.stdout.on('data', (d) => {
      tail.push(d)
      if (echo) process.stderr.write(d)
      if (stdoutText.length < 4096) {
        stdoutText += d
        const m = READY_RE.exec(stdoutText)
        if (m) onReady({ host: m[1], port: Number(m[2]) })
      }
    })
    c.stderr.on('data', (d) => {
      tail.push(d)
      if (echo) process.stderr.write(d)
    })
    c.unref()
    for (const stream of [c.stdout, c.stderr]) {
      // stdio pipes are net.Sockets at run time: unref exists there, not on the Readable type.
      const socket = /** @type {any} */ (stream)
      socket.unref?.()
    }

    const fail = async (what) => {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
      await exited
      return new FerretDBError(`FerretDB did not start: ${what}. Command: ${command}`, { command, output: tail.text() || '(no output)' })
    }
    let timer
    const timeout = new Promise((r) => (timer = setTimeout(() => r('timeout'), Math.max(0, deadline - Date.now()))))
    const first = await Promise.race([ready, exited.then((e) => ({ exit: e })), timeout])
    clearTimeout(timer)
    if (first === 'timeout') throw await fail(`no readiness line ("ferretdb listening on ...") within ${launchTimeoutMs} ms`)
    if ('exit' in first) {
      const why = first.exit.code != null ? `exit code ${first.exit.code}` : first.exit.signal ? `signal ${first.exit.signal}` : 'it could not be spawned'
      const busy = /address already in use/.test(tail.text()) ? ` (port ${wantPort} is in use)` : ''
      throw await fail(`the process ended before listening (${why})${busy}`)
    }
    info.port = first.port
    try {
      const build = await helloAndBuildInfo(first.port, Math.max(1000, deadline - Date.now()))
      info.version = String(build.ferretdbVersion ?? '').replace(/^v/, '')
      info.mongodbVersion = String(build.version ?? '')
    } catch (err) {
      throw await fail(`it listens on 127.0.0.1:${first.port} but MongoDB hello/buildInfo failed: ${err instanceof Error ? err.message : err}`)
    }
  }

  const waitExit = () => exited
  const isRunning = () => !!child && child.exitCode === null && child.signalCode === null && live.has(child)

  const stopProcess = async (graceMs) => {
    if (!isRunning()) return waitExit()
    const c = child
    c.kill('SIGTERM')
    try {
      c.kill('SIGCONT') // in case a test SIGSTOPped it
    } catch {}
    const timer = setTimeout(() => c.kill('SIGKILL'), graceMs)
    const result = await waitExit()
    clearTimeout(timer)
    return result
  }

  try {
    await held(launch(port ?? 0, timeoutMs))
  } catch (err) {
    if (ownDir) {
      rmSync(dataDir, { recursive: true, force: true })
      ownedDirs.delete(dataDir)
    }
    throw err
  }

  /** @type {FerretDBServer} */
  const server = {
    get url() {
      return `mongodb://127.0.0.1:${info.port}/`
    },
    get port() {
      return info.port
    },
    dataDir,
    backend,
    get version() {
      return info.version
    },
    get mongodbVersion() {
      return info.mongodbVersion
    },
    get pid() {
      return child.pid ?? -1
    },
    get running() {
      return isRunning()
    },
    output: () => tail.text(),
    /** @param {NodeJS.Signals | number} [signal] */
    async kill(signal = 'SIGKILL') {
      const c = child
      if (!isRunning()) return waitExit()
      c.kill(signal)
      if (signal === 'SIGSTOP' || signal === 'SIGCONT' || signal === 'SIGTSTP' || signal === 0) return { code: null, signal: null }
      return held(waitExit())
    },
    async restart({ timeoutMs: restartTimeoutMs = timeoutMs } = {}) {
      if (stopped) throw new FerretDBError('FerretDB restart() after stop(): its temp data directory is gone; start a new one.')
      await held(stopProcess(5000))
      const deadline = Date.now() + restartTimeoutMs
      let setAside = false
      for (let attempt = 1; ; attempt++) {
        try {
          await held(launch(info.port, Math.max(1000, deadline - Date.now())))
          return
        } catch (err) {
          const output = err instanceof FerretDBError ? (err.output ?? '') : ''
          // A database file created just before a SIGKILL, without FerretDB's metadata table yet:
          // FerretDB refuses to start. Such a file holds nothing, so it is set aside once and we retry.
          if (!setAside && dataDir && UNFINISHED_DB_RE.test(output)) {
            setAside = true
            const moved = setAsideUnfinishedDatabases(dataDir)
            if (moved.length > 0) {
              process.stderr.write(`FerretDB: set aside ${moved.join(', ')} (created just before a kill, without FerretDB's metadata table; it held nothing)\n`)
              continue
            }
          }
          // The port can stay busy for a moment after a kill (or be grabbed by someone else).
          const busy = /address already in use/.test(output)
          if (!busy || Date.now() + 250 > deadline) throw err
          await new Promise((r) => setTimeout(r, 100 * Math.min(attempt, 5)))
        }
      }
    },
    async stop({ graceMs = 5000 } = {}) {
      stopped = true
      await held(stopProcess(graceMs))
      if (ownDir) {
        rmSync(dataDir, { recursive: true, force: true })
        ownedDirs.delete(dataDir)
      }
    },
  }
  return server
}

const UNFINISHED_DB_RE = /no such table: _ferretdb_collections/

/**
 * FerretDB's SQLite backend creates `<database>.sqlite`, then its `_ferretdb_collections` table;
 * a SIGKILL between the two leaves a file without any table, and FerretDB then exits at start
 * ("no such table: _ferretdb_collections"). Renames every such file (and its -wal/-shm/-journal) to
 * `<file>.unfinished-<time>`, which FerretDB does not open, and returns their names. A file with
 * other tables but no metadata table is left alone (that is damage, not an unfinished creation).
 * Reads the files with Python's sqlite3 (Node 20 has no SQLite): the Python peer needs python3 too.
 * @param {string} dataDir
 * @returns {string[]}
 */
export function setAsideUnfinishedDatabases(dataDir) {
  const files = readdirSync(dataDir).filter((f) => f.endsWith('.sqlite'))
  if (files.length === 0) return []
  const script = [
    'import json, sqlite3, sys',
    'out = []',
    'for path in sys.argv[1:]:',
    '    con = sqlite3.connect(path)',
    '    try:',
    '        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = \'table\'")]',
    '    finally:',
    '        con.close()',
    '    if not names: out.append(path)',
    'print(json.dumps(out))',
  ].join('\n')
  const python = process.env.MADSCI_PYTHON || 'python3'
  const r = spawnSync(python, ['-c', script, ...files.map((f) => join(dataDir, f))], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new FerretDBError(`Could not inspect FerretDB's SQLite files in ${dataDir} with ${python} (needed to set aside a database created just before a kill): ${r.error?.message ?? r.stderr.trim()}`)
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const moved = []
  for (const path of /** @type {string[]} */ (JSON.parse(r.stdout))) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) {
      if (existsSync(path + suffix)) renameSync(path + suffix, `${path}${suffix}.unfinished-${stamp}`)
    }
    moved.push(path.slice(dataDir.length + 1))
  }
  return moved
}

/** `hello` + `buildInfo` through the MongoDB driver, with one overall timeout. */
async function helloAndBuildInfo(port, timeoutMs) {
  let MongoClient
  try {
    ;({ MongoClient } = await import('mongodb'))
  } catch (err) {
    throw new Error(`cannot load the mongodb driver for the readiness check (run npm ci): ${err instanceof Error ? err.message : err}`)
  }
  const client = new MongoClient(`mongodb://127.0.0.1:${port}/`, {
    directConnection: true,
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    appName: 'madsci-events-ferretdb-ready',
  })
  try {
    await client.connect()
    const admin = client.db('admin')
    const hello = await admin.command({ hello: 1 })
    if (hello.ok !== 1 || hello.isWritablePrimary !== true) throw new Error(`hello answered ${JSON.stringify(hello)}`)
    return await admin.command({ buildInfo: 1 })
  } finally {
    await client.close().catch(() => {})
  }
}

/**
 * Await `promise` while keeping the event loop alive: the children and their pipes are unref'd,
 * so without this a script whose only pending work is waiting for FerretDB would just exit.
 * @template T
 * @param {Promise<T>} promise
 * @returns {Promise<T>}
 */
export async function held(promise) {
  const keepAlive = setInterval(() => {}, 1 << 30)
  try {
    return await promise
  } finally {
    clearInterval(keepAlive)
  }
}

function isExecutableFile(path) {
  try {
    const st = statSync(path)
    return st.isFile() && (st.mode & 0o111) !== 0
  } catch {
    return false
  }
}

/** Keeps the last `max` lines of a stream of chunks. */
class Tail {
  constructor(max) {
    this.max = max
    this.lines = []
    this.partial = ''
  }
  push(chunk) {
    const parts = (this.partial + chunk).split('\n')
    this.partial = parts.pop() ?? ''
    this.lines.push(...parts)
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max)
    if (this.partial.length > 10_000) this.partial = this.partial.slice(-10_000)
  }
  text() {
    return [...this.lines, this.partial].filter((l, i, a) => l !== '' || i < a.length - 1).join('\n').trimEnd()
  }
}

function parseFlags(argv) {
  const flags = {}
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i])
    if (!m) throw new FerretDBError(`unexpected argument ${argv[i]}\n${USAGE}`)
    flags[m[1]] = m[2] ?? argv[++i]
    if (flags[m[1]] === undefined) throw new FerretDBError(`--${m[1]} needs a value\n${USAGE}`)
  }
  return flags
}

const USAGE = `usage:
  node scripts/lib/ferretdb.mjs build [--cache-dir DIR]
      build FerretDB ${FERRETDB_VERSION} (once) and print the binary path
  node scripts/lib/ferretdb.mjs start [--port N] [--data-dir DIR] [--log-level debug|info|warn|error] [--timeout-ms N] [--cache-dir DIR]
      start it on 127.0.0.1, print its URL; Ctrl-C stops it`

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd, ...rest] = process.argv.slice(2)
  try {
    const flags = parseFlags(rest)
    if (cmd === 'build') {
      console.log(await ensureFerretDB({ cacheDir: flags['cache-dir'] }))
    } else if (cmd === 'start') {
      const t0 = Date.now()
      const db = await startFerretDB({
        cacheDir: flags['cache-dir'],
        port: flags.port != null ? Number(flags.port) : undefined,
        dataDir: flags['data-dir'],
        logLevel: flags['log-level'],
        timeoutMs: flags['timeout-ms'] != null ? Number(flags['timeout-ms']) : undefined,
        echo: true,
      })
      console.log(db.url)
      console.error(`FerretDB ${db.version} (MongoDB ${db.mongodbVersion} wire protocol, SQLite in ${db.dataDir}), pid ${db.pid}, ready in ${Date.now() - t0} ms; Ctrl-C stops it`)
      let stopping = false
      const keepAlive = setInterval(() => {
        if (!stopping && !db.running) {
          console.error(`FerretDB exited by itself:\n${db.output() || '(no output)'}`)
          process.exit(1)
        }
      }, 500)
      const shutdown = async () => {
        if (stopping) return
        stopping = true
        await db.stop()
        clearInterval(keepAlive)
        process.exit(0)
      }
      process.on('SIGINT', shutdown)
      process.on('SIGTERM', shutdown)
    } else {
      console.error(USAGE)
      process.exit(2)
    }
  } catch (err) {
    console.error(err instanceof FerretDBError ? err.message : err)
    process.exit(1)
  }
}
