// The Python MADSci Event Manager and EventClient 0.8.1 from PyPI (pinned in
// scripts/python/requirements.txt) as the conformance peer. Plain ESM; Node 20 builtins only.
//
//   await ensurePythonPeer({ cacheDir?, basePython?, log? })
//       → { python, version, venvDir, built }       venv built once per requirements hash
//   await startPythonEventManager({ python, mongoUrl, databaseName?, port?, timeoutMs?, env? })
//       → { url, port, version, pid, databaseName, workDir, output(), stop() }
//   await runPythonClient({ python, script | file, serverUrl?, input?, env?, args?, timeoutMs? })
//       → the JSON value the script printed on stdout (see scripts/python/madsci_peer.py)
//   await runPythonScript(same options) → { code, signal, stdout, stderr }   (no parsing, no throw on exit code)
//
// CLI: node scripts/lib/python-peer.mjs setup
//      node scripts/lib/python-peer.mjs start (--mongo-url URL | --ferretdb) [--database NAME] [--port N]
//
// How the peer is isolated: every Python process gets a fresh temp working directory holding an
// empty `.madsci/` (MADSci's project sentinel), with HOME and MADSCI_SETTINGS_DIR pointing there,
// and an environment built from scratch (PATH, TZ, locale only), so no settings file, `.env` or
// EVENT_* variable of the developer leaks in, and MADSci's logs, backups and ID registry stay in
// that directory, which stop() removes. The processes are killed when this Node process exits, and
// the Event Manager also stops itself (SIGTERM to itself) when its parent process goes away.
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
/** The pinned requirements; the venv is keyed by a hash of this file. */
export const REQUIREMENTS_FILE = resolve(here, '..', 'python', 'requirements.txt')
/** Directory put on PYTHONPATH for runPythonClient scripts (holds madsci_peer.py). */
export const PYTHON_HELPERS_DIR = resolve(here, '..', 'python')
/** Bump to force a rebuild of existing venvs when the build steps change. */
const LAYOUT = '1'
const MARKER = '.madsci-peer.json'

/** An error of the Python peer setup or processes; `output` holds the tail of what the command printed. */
export class PythonPeerError extends Error {
  constructor(message, { command, exitCode, signal, output } = {}) {
    super(message)
    this.name = 'PythonPeerError'
    this.command = command
    this.exitCode = exitCode
    this.signal = signal
    this.output = output
  }
}

/** `$MADSCI_EVENTS_CACHE`, else `~/.cache/madsci-events` (shared with scripts/lib/ferretdb.mjs). */
export function defaultCacheDir() {
  return process.env.MADSCI_EVENTS_CACHE || join(homedir(), '.cache', 'madsci-events')
}

// ---------------------------------------------------------------------------------------------
// helpers

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g

function tail(text, lines = 40) {
  return String(text ?? '')
    .replace(ANSI, '')
    .split('\n')
    .filter((l, i, all) => l.trim() !== '' || i < all.length - 1)
    .slice(-lines)
    .join('\n')
}

function quote(args) {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${String(a).replace(/'/g, `'\\''`)}'`)).join(' ')
}

/** Collects a child's output, keeping only the last `limit` characters. */
function outputCollector(limit = 256 * 1024) {
  let text = ''
  return {
    push(chunk) {
      text += chunk
      if (text.length > limit * 2) text = text.slice(-limit)
    },
    get text() {
      return text.length > limit ? text.slice(-limit) : text
    },
  }
}

/** Run a command to completion, asynchronously; rejects with a PythonPeerError on failure. */
function runCommand(cmd, args, { env, cwd, timeoutMs = 15 * 60_000, what } = {}) {
  return new Promise((resolvePromise, reject) => {
    const out = outputCollector()
    const command = quote([cmd, ...args])
    let child
    try {
      child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err) {
      reject(new PythonPeerError(`${what ?? 'A setup step'} failed: could not run \`${command}\`: ${err.message}`, { command }))
      return
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => out.push(d))
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(new PythonPeerError(`${what ?? 'A setup step'} failed: could not run \`${command}\`: ${err.message}`, { command }))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) return resolvePromise(out.text)
      const why = signal ? `was killed by ${signal}${signal === 'SIGKILL' ? ` (time limit ${timeoutMs} ms?)` : ''}` : `exited with code ${code}`
      reject(
        new PythonPeerError(`${what ?? 'A setup step'} failed: \`${command}\` ${why}. Last output:\n${tail(out.text)}`, {
          command,
          exitCode: code,
          signal,
          output: tail(out.text, 200),
        }),
      )
    })
  })
}

/** The environment every peer process starts from: nothing of the developer's MADSci/EVENT_ settings. */
function baseEnv(workDir) {
  const env = {}
  for (const key of ['PATH', 'TZ', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TMPDIR', 'SYSTEMROOT']) {
    if (process.env[key] !== undefined) env[key] = process.env[key]
  }
  env.HOME = workDir
  env.MADSCI_SETTINGS_DIR = workDir
  env.PYTHONUNBUFFERED = '1'
  env.PYTHONIOENCODING = 'utf-8'
  return env
}

/** A fresh temp dir with an empty `.madsci/` sentinel (MADSci's walk-ups stop there). */
function makeWorkDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  mkdirSync(join(dir, '.madsci'))
  return dir
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

// Processes to end when this Node process exits (normal exit or process.exit()). On a signal or a
// crash of Node, the Event Manager notices its parent is gone and stops itself (see BOOTSTRAP).
const running = new Map() // child -> workDir
let exitHookInstalled = false
function track(child, workDir) {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', () => {
      for (const [c, dir] of running) {
        try {
          c.kill('SIGKILL')
        } catch {}
        if (dir) rmSync(dir, { recursive: true, force: true })
      }
    })
  }
  running.set(child, workDir)
  child.once('exit', () => running.delete(child))
}

// ---------------------------------------------------------------------------------------------
// venv

async function findBasePython(basePython) {
  const candidates = basePython ? [basePython] : process.env.MADSCI_PYTHON ? [process.env.MADSCI_PYTHON] : ['python3', 'python3.11', 'python']
  const problems = []
  for (const cmd of candidates) {
    const res = spawnSync(cmd, ['-c', 'import sys, json; print(json.dumps(list(sys.version_info[:3])))'], { encoding: 'utf8' })
    if (res.error || res.status !== 0) {
      problems.push(`${cmd}: ${res.error ? res.error.message : tail(res.stderr, 3)}`)
      continue
    }
    const [major, minor, micro] = JSON.parse(res.stdout.trim())
    if (major === 3 && minor >= 10) return { cmd, version: `${major}.${minor}.${micro}`, series: `${major}.${minor}` }
    problems.push(`${cmd}: Python ${major}.${minor}.${micro} (MADSci 0.8.1 needs 3.10 or newer)`)
  }
  throw new PythonPeerError(
    `No usable Python found for the MADSci peer venv (tried ${candidates.join(', ')}). Install Python 3.10+ (python3 -m venv must work) or set MADSCI_PYTHON to one.\n${problems.join('\n')}`,
  )
}

/** The installed madsci-event-manager version in `python`'s environment, or null if it does not run. */
function installedVersion(python) {
  if (!existsSync(python)) return null
  const res = spawnSync(python, ['-c', 'import importlib.metadata as m; print(m.version("madsci-event-manager"), m.version("madsci-client"))'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: tmpdir() },
  })
  if (res.error || res.status !== 0) return null
  const [server, client] = res.stdout.trim().split(/\s+/)
  return server === client ? server : `${server} (client ${client})`
}

function removeStaleBuilds(root) {
  let entries = []
  try {
    entries = readdirSync(root)
  } catch {
    return
  }
  for (const name of entries) {
    const m = /^\.build-[0-9a-f]+-(\d+)-/.exec(name)
    if (m && !pidAlive(Number(m[1]))) rmSync(join(root, name), { recursive: true, force: true })
    if (/^\.trash-/.test(name)) rmSync(join(root, name), { recursive: true, force: true })
  }
}

/**
 * Make sure the peer venv exists: `<cacheDir>/python/venv-<hash>`, where the hash covers
 * requirements.txt and the base Python's minor version. Built once (about a minute on a cold pip
 * cache) in a private temp dir next to it, then renamed into place, so concurrent callers never see
 * a half-built venv; a caller that loses the race drops its copy and uses the winner's.
 * The venv is only used as `<venv>/bin/python -m ...`, which keeps working after the rename.
 */
export async function ensurePythonPeer({ cacheDir, basePython, log = (msg) => process.stderr.write(`${msg}\n`), timeoutMs = 20 * 60_000 } = {}) {
  if (!existsSync(REQUIREMENTS_FILE)) throw new PythonPeerError(`The peer's requirements file is missing: ${REQUIREMENTS_FILE}`)
  const base = await findBasePython(basePython)
  const key = createHash('sha256').update(readFileSync(REQUIREMENTS_FILE)).update(`\0${base.series}\0${LAYOUT}`).digest('hex').slice(0, 16)
  const root = join(cacheDir ?? defaultCacheDir(), 'python')
  const venvDir = join(root, `venv-${key}`)
  const python = join(venvDir, 'bin', 'python')

  if (existsSync(join(venvDir, MARKER))) {
    const version = installedVersion(python)
    if (version) return { python, version, venvDir, built: false }
    // Broken (e.g. its base Python was removed): move it aside and build again.
    log(`The cached MADSci peer venv at ${venvDir} no longer runs; rebuilding it.`)
    try {
      renameSync(venvDir, join(root, `.trash-${key}-${process.pid}-${randomBytes(4).toString('hex')}`))
    } catch {}
  }

  mkdirSync(root, { recursive: true })
  removeStaleBuilds(root)
  const staging = join(root, `.build-${key}-${process.pid}-${randomBytes(4).toString('hex')}`)
  const stagingPython = join(staging, 'bin', 'python')
  const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' }
  const started = Date.now()
  log(`Building the Python MADSci peer venv (madsci-event-manager 0.8.1 with ${base.cmd} ${base.version}; first run only, about a minute)...`)
  try {
    await runCommand(base.cmd, ['-m', 'venv', staging], { env, timeoutMs, what: 'Creating the peer venv' })
    await runCommand(stagingPython, ['-m', 'pip', 'install', '--progress-bar', 'off', '-r', REQUIREMENTS_FILE], {
      env,
      timeoutMs,
      what: `Installing ${REQUIREMENTS_FILE} into the peer venv`,
    })
    await runCommand(stagingPython, ['-m', 'pip', 'check'], { env, timeoutMs: 120_000, what: 'Checking the peer venv (pip check)' })
    await runCommand(stagingPython, ['-c', 'import madsci.event_manager.event_server, madsci.client.event_client'], {
      env: { PATH: process.env.PATH, HOME: staging },
      cwd: staging,
      timeoutMs: 120_000,
      what: 'Importing the MADSci Event Manager and EventClient in the new venv',
    })
  } catch (err) {
    rmSync(staging, { recursive: true, force: true })
    throw err
  }
  const version = installedVersion(stagingPython)
  writeFileSync(join(staging, MARKER), `${JSON.stringify({ version, basePython: base, requirementsKey: key, builtAt: new Date().toISOString() }, null, 2)}\n`)
  try {
    renameSync(staging, venvDir)
  } catch (err) {
    rmSync(staging, { recursive: true, force: true })
    if (!existsSync(join(venvDir, MARKER))) {
      throw new PythonPeerError(`Could not move the new peer venv into ${venvDir}: ${err.message}`)
    }
    // Another process finished first; use its venv.
  }
  const finalVersion = installedVersion(python)
  if (!finalVersion) throw new PythonPeerError(`The peer venv at ${venvDir} was built but its Python does not run (${python}).`)
  log(`Python MADSci peer ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${python}`)
  return { python, version: finalVersion, venvDir, built: true }
}

// ---------------------------------------------------------------------------------------------
// Event Manager server

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolvePromise(port))
    })
  })
}

function getJson(url, timeoutMs = 2000) {
  return new Promise((resolvePromise) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => {
        try {
          resolvePromise({ status: res.statusCode, body: JSON.parse(body) })
        } catch {
          resolvePromise({ status: res.statusCode, body })
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolvePromise({ error: err }))
    req.end()
  })
}

// Starts exactly what `python -m madsci.event_manager.event_server` starts (EventManager().run_server(),
// settings from the environment), plus a watchdog thread that sends SIGTERM to itself (uvicorn's
// graceful shutdown) when the parent Node process has gone away, and then removes its working
// directory (which the parent can no longer do). uvicorn re-raises the SIGTERM it caught once it
// has shut down; the handler installed here turns that into a normal exit so atexit hooks run.
const BOOTSTRAP = `
import atexit, os, shutil, signal, threading, time
_parent = int(os.environ.pop("MADSCI_PEER_PARENT_PID", "0") or 0)
_orphaned = []
def _watch_parent():
    while True:
        time.sleep(0.5)
        if os.getppid() != _parent:
            _orphaned.append(True)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(15)
            os._exit(1)
def _cleanup():
    if _orphaned:
        shutil.rmtree(os.getcwd(), ignore_errors=True)
def _exit_on_term(signum, frame):
    # uvicorn re-raises SIGTERM after its graceful shutdown; exit normally so atexit hooks run.
    raise SystemExit(0)
signal.signal(signal.SIGTERM, _exit_on_term)
if _parent:
    atexit.register(_cleanup)
    threading.Thread(target=_watch_parent, name="madsci-peer-parent-watch", daemon=True).start()
from madsci.event_manager.event_server import EventManager
EventManager().run_server()
`

/**
 * Start the real Python Event Manager on 127.0.0.1 against `mongoUrl`, using database
 * `databaseName` (default: a fresh `madsci_events_py_<random>`), in its own temp working directory.
 * Settings are the package defaults (rate limiter, ID registry, retention off, ...) except the
 * server URL, the database URL and name; `env` adds or overrides EVENT_* settings
 * (e.g. `{ EVENT_RETENTION_ENABLED: 'true' }`).
 * Resolves once `GET /health` answers `healthy: true, db_connected: true`.
 */
export async function startPythonEventManager({
  python,
  mongoUrl,
  databaseName,
  port,
  timeoutMs = 60_000,
  env = {},
  stopGraceMs = 5000,
} = {}) {
  if (!python) throw new PythonPeerError('startPythonEventManager needs `python` (from ensurePythonPeer()).')
  if (!mongoUrl) throw new PythonPeerError('startPythonEventManager needs `mongoUrl` (e.g. the url of startFerretDB()).')
  databaseName ??= `madsci_events_py_${randomBytes(4).toString('hex')}`
  const fixedPort = port !== undefined
  const deadline = Date.now() + timeoutMs
  for (let attempt = 1; ; attempt++) {
    const thisPort = fixedPort ? port : await freePort()
    try {
      return await launchEventManager({ python, mongoUrl, databaseName, port: thisPort, deadline, timeoutMs, env, stopGraceMs })
    } catch (err) {
      // An auto-picked port can be taken by someone else between picking and binding: pick again.
      if (!fixedPort && attempt < 3 && /address already in use|Errno 98/i.test(err.output ?? '')) continue
      throw err
    }
  }
}

async function launchEventManager({ python, mongoUrl, databaseName, port, deadline, timeoutMs, env, stopGraceMs }) {
  const workDir = makeWorkDir('madsci-python-em-')
  const url = `http://127.0.0.1:${port}`
  const childEnv = {
    ...baseEnv(workDir),
    EVENT_SERVER_URL: url,
    EVENT_DB_URL: mongoUrl,
    EVENT_DATABASE_NAME: databaseName,
    MADSCI_PEER_PARENT_PID: String(process.pid),
    ...env,
  }
  const out = outputCollector()
  const child = spawn(python, ['-c', BOOTSTRAP], { cwd: workDir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  track(child, workDir)
  child.stdout.on('data', (d) => out.push(d))
  child.stderr.on('data', (d) => out.push(d))
  let spawnError = null
  child.on('error', (err) => (spawnError = err))
  const exited = new Promise((resolvePromise) => child.once('close', (code, signal) => resolvePromise({ code, signal })))
  const isRunning = () => child.exitCode === null && child.signalCode === null && !spawnError

  let stopping = null
  const stop = () => {
    stopping ??= (async () => {
      if (isRunning()) {
        child.kill('SIGTERM')
        const killer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs)
        await exited
        clearTimeout(killer)
      }
      running.delete(child)
      rmSync(workDir, { recursive: true, force: true })
    })()
    return stopping
  }

  const fail = async (message) => {
    await stop()
    const output = tail(out.text, 200)
    throw new PythonPeerError(`${message}\nCommand: ${quote([python, '-c', '<bootstrap: EventManager().run_server()>'])} (cwd ${workDir})\nLast output:\n${tail(out.text)}`, {
      command: `${python} -c <bootstrap>`,
      exitCode: child.exitCode,
      signal: child.signalCode,
      output,
    })
  }

  let last = null
  for (;;) {
    if (spawnError) await fail(`The Python Event Manager could not be started: ${spawnError.message}`)
    if (!isRunning()) {
      const { code, signal } = await exited
      await fail(`The Python Event Manager exited during startup (${signal ? `signal ${signal}` : `exit code ${code}`}); database ${databaseName} at ${mongoUrl}.`)
    }
    last = await getJson(`${url}/health`, 2000)
    if (last.status === 200 && last.body && last.body.healthy === true && last.body.db_connected === true) break
    if (Date.now() > deadline) {
      const seen = last.error ? `no answer (${last.error.message})` : `HTTP ${last.status} ${JSON.stringify(last.body)}`
      await fail(`The Python Event Manager at ${url} was not healthy with db_connected: true within ${timeoutMs} ms; last /health: ${seen}.`)
    }
    await new Promise((r) => setTimeout(r, 150))
  }

  return {
    url,
    port,
    version: last.body.version ?? null,
    pid: child.pid,
    databaseName,
    mongoUrl,
    workDir,
    /** What the server printed so far (last 256 KiB, ANSI colours removed). */
    output: () => out.text.replace(ANSI, ''),
    /** SIGTERM, then SIGKILL after the grace period; removes the working directory. Idempotent. */
    stop,
  }
}

// ---------------------------------------------------------------------------------------------
// Python client scripts

/**
 * Run a Python script with the peer's interpreter in a temp working directory (with its own
 * `.madsci/`), scripts/python on PYTHONPATH (for madsci_peer), and, when `serverUrl` is given,
 * MADSCI_PEER_SERVER_URL and EVENT_SERVER_URL set to it. `input` (any JSON value, or a string)
 * is written to stdin. Resolves with `{ code, signal, stdout, stderr }` whatever the exit code.
 */
export async function runPythonScript({ python, script, file, args = [], env = {}, input, serverUrl, timeoutMs = 120_000 } = {}) {
  if (!python) throw new PythonPeerError('runPythonClient needs `python` (from ensurePythonPeer()).')
  if ((script === undefined) === (file === undefined)) throw new PythonPeerError('runPythonClient needs exactly one of `script` (Python source) or `file` (a path).')
  const workDir = makeWorkDir('madsci-python-client-')
  const path = file ? resolve(file) : join(workDir, 'script.py')
  if (!file) writeFileSync(path, script)
  // No bytecode writes: madsci_peer.py lives in the repository.
  const childEnv = { ...baseEnv(workDir), PYTHONPATH: PYTHON_HELPERS_DIR, PYTHONDONTWRITEBYTECODE: '1' }
  if (serverUrl) {
    childEnv.MADSCI_PEER_SERVER_URL = serverUrl
    childEnv.EVENT_SERVER_URL = serverUrl
  }
  Object.assign(childEnv, env)
  try {
    return await new Promise((resolvePromise, reject) => {
      const child = spawn(python, [path, ...args], { cwd: workDir, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] })
      track(child, null)
      let stdout = ''
      let stderr = ''
      let timedOut = false
      child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
      child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
      const timer = setTimeout(() => {
        timedOut = true
        child.kill('SIGKILL')
      }, timeoutMs)
      child.on('error', (err) => {
        clearTimeout(timer)
        reject(new PythonPeerError(`Could not run ${python}: ${err.message}`, { command: `${python} ${path}` }))
      })
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        if (timedOut) {
          reject(
            new PythonPeerError(`The Python client script did not finish within ${timeoutMs} ms and was killed.\nstderr:\n${tail(stderr)}\nstdout:\n${tail(stdout, 10)}`, {
              command: `${python} ${path}`,
              signal,
              output: tail(stderr, 200),
            }),
          )
        } else resolvePromise({ code, signal, stdout, stderr })
      })
      child.stdin.on('error', () => {}) // the script may exit without reading stdin
      if (input === undefined) child.stdin.end()
      else child.stdin.end(typeof input === 'string' ? input : JSON.stringify(input))
    })
  } finally {
    rmSync(workDir, { recursive: true, force: true })
  }
}

/**
 * Like runPythonScript, but the script must exit 0 and print JSON on stdout (the whole stdout,
 * or its last non-empty line, e.g. via madsci_peer.output()); resolves with the parsed value.
 */
export async function runPythonClient(options) {
  const { code, signal, stdout, stderr } = await runPythonScript(options)
  const what = options.file ? `Python client script ${options.file}` : 'Python client script'
  if (code !== 0) {
    throw new PythonPeerError(`${what} failed (${signal ? `signal ${signal}` : `exit code ${code}`}).\nstderr:\n${tail(stderr)}\nstdout:\n${tail(stdout, 10)}`, {
      exitCode: code,
      signal,
      output: tail(stderr, 200),
    })
  }
  const text = stdout.trim()
  try {
    return JSON.parse(text)
  } catch {}
  const lastLine = text.split('\n').filter((l) => l.trim() !== '').pop()
  try {
    return JSON.parse(lastLine)
  } catch {}
  throw new PythonPeerError(`${what} exited 0 but did not print JSON on stdout (use madsci_peer.output(value)).\nstdout:\n${tail(stdout, 10)}\nstderr:\n${tail(stderr, 10)}`, {
    exitCode: code,
    output: tail(stdout, 50),
  })
}

// ---------------------------------------------------------------------------------------------
// CLI

function parseFlags(argv) {
  const flags = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new PythonPeerError(`Unexpected argument ${a}`)
    const [name, inline] = a.slice(2).split('=', 2)
    if (inline !== undefined) flags[name] = inline
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) flags[name] = argv[++i]
    else flags[name] = true
  }
  return flags
}

const USAGE = `usage:
  node scripts/lib/python-peer.mjs setup [--cache-dir DIR]
      build (or reuse) the venv; prints {"python", "version", "seconds"}
  node scripts/lib/python-peer.mjs start (--mongo-url URL | --ferretdb) [--database NAME] [--port N] [--timeout-ms N]
      start the Python Event Manager (and FerretDB with --ferretdb); Ctrl-C stops it`

async function main(argv) {
  const [cmd, ...rest] = argv
  const flags = parseFlags(rest)
  if (cmd === 'setup') {
    const t0 = Date.now()
    const peer = await ensurePythonPeer({ cacheDir: flags['cache-dir'] })
    console.log(JSON.stringify({ python: peer.python, version: peer.version, built: peer.built, seconds: (Date.now() - t0) / 1000 }))
    return
  }
  if (cmd === 'start') {
    if (!flags['mongo-url'] && !flags.ferretdb) throw new PythonPeerError(`start needs --mongo-url URL or --ferretdb\n${USAGE}`)
    const peer = await ensurePythonPeer({ cacheDir: flags['cache-dir'] })
    let ferret = null
    let mongoUrl = flags['mongo-url']
    if (!mongoUrl) {
      const { ensureFerretDB, startFerretDB } = await import('./ferretdb.mjs')
      ferret = await startFerretDB({ binary: await ensureFerretDB({ cacheDir: flags['cache-dir'] }) })
      mongoUrl = ferret.url
    }
    const t0 = Date.now()
    const em = await startPythonEventManager({
      python: peer.python,
      mongoUrl,
      databaseName: flags.database,
      port: flags.port ? Number(flags.port) : undefined,
      timeoutMs: flags['timeout-ms'] ? Number(flags['timeout-ms']) : undefined,
    })
    console.log(JSON.stringify({ url: em.url, port: em.port, version: em.version, pid: em.pid, databaseName: em.databaseName, mongoUrl, startSeconds: (Date.now() - t0) / 1000 }))
    console.error('Python Event Manager running; Ctrl-C stops it.')
    const shutdown = async () => {
      await em.stop()
      if (ferret) await ferret.stop()
      process.exit(0)
    }
    process.once('SIGINT', shutdown)
    process.once('SIGTERM', shutdown)
    setInterval(() => {}, 1 << 30)
    return
  }
  console.error(USAGE)
  process.exitCode = 2
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err instanceof PythonPeerError ? err.message : err)
    process.exit(1)
  })
}
