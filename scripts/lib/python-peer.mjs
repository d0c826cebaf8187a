// The Python MADSci Event Manager and EventClient from PyPI (pinned in scripts/python/requirements.txt)
// as the conformance peer. Plain ESM; Node 20 builtins only.
//
//   ensurePythonPeer({ cacheDir? })  → { python, version }   (a venv built once, keyed by the requirements)
//   startPythonEventManager({ python, mongoUrl, databaseName, port?, timeoutMs?, env? })
//                                    → { url, port, pid, version, stop() }
//   runPython({ python, code, env?, input?, timeoutMs? }) → stdout parsed as JSON (or text)
//
// CLI: node scripts/lib/python-peer.mjs setup | start --mongo-url URL
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cacheRoot, freePort } from './ferretdb.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const requirements = join(here, '..', 'python', 'requirements.txt')

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  if (res.error || res.status !== 0) {
    const tail = `${res.stdout ?? ''}\n${res.stderr ?? ''}`.split('\n').slice(-25).join('\n')
    throw new Error(`\`${cmd} ${args.join(' ')}\` ${res.error ? `could not run: ${res.error.message}` : `exited with ${res.status}`}\n${tail}`)
  }
  return res.stdout
}

/** Create the venv once (in the cache, keyed by a hash of requirements.txt). */
export function ensurePythonPeer({ cacheDir, pythonBin = process.env.PYTHON ?? 'python3' } = {}) {
  const reqs = readFileSync(requirements)
  const key = createHash('sha256').update(reqs).digest('hex').slice(0, 16)
  const root = join(cacheRoot(cacheDir), 'python')
  const venv = join(root, `venv-${key}`)
  const python = join(venv, 'bin', 'python')
  const marker = join(venv, '.complete')
  if (!existsSync(marker)) {
    mkdirSync(root, { recursive: true })
    process.stderr.write('Creating the Python MADSci peer venv (first run only; about a minute)...\n')
    // Built aside, then renamed into place, so two runs at once never share a half-built venv.
    const staging = `${venv}.staging-${process.pid}`
    rmSync(staging, { recursive: true, force: true })
    run(pythonBin, ['-m', 'venv', staging])
    try {
      run(join(staging, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--no-input', '-r', requirements], { stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err) {
      rmSync(staging, { recursive: true, force: true })
      throw new Error(`Installing the Python MADSci peer failed: ${err.message}`)
    }
    // A venv moved after creation keeps working for `python -m` use (its scripts' shebangs are not used).
    if (!existsSync(marker)) {
      try {
        renameSync(staging, venv)
      } catch {
        rmSync(staging, { recursive: true, force: true }) // another run finished first
      }
      writeFileSync(marker, new Date().toISOString())
    }
  }
  const version = run(python, ['-c', 'import importlib.metadata as m; print(m.version("madsci.event_manager"))']).trim()
  return { python, version }
}

const running = new Set()
process.on('exit', () => {
  for (const c of running) {
    try {
      c.kill('SIGKILL')
    } catch {}
  }
})

/**
 * Start the Python Event Manager on loopback against `mongoUrl`, in its own temp working directory
 * (its `.madsci/` logs and backups stay there). Resolves when `/health` reports the database connected.
 */
export async function startPythonEventManager({ python, mongoUrl, databaseName = 'madsci_events_python', port, timeoutMs = 60_000, env = {} }) {
  port ??= await freePort()
  const cwd = mkdtempSync(join(tmpdir(), 'madsci-python-em-'))
  // A `.git` marker stops MADSci's settings walk-up here, so no settings file from elsewhere applies.
  mkdirSync(join(cwd, '.git'))
  const url = `http://127.0.0.1:${port}`
  const child = spawn(python, ['-m', 'madsci.event_manager.event_server'], {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: cwd,
      EVENT_SERVER_URL: url,
      EVENT_DB_URL: mongoUrl,
      EVENT_DATABASE_NAME: databaseName,
      EVENT_ENABLE_REGISTRY_RESOLUTION: 'false',
      PYTHONUNBUFFERED: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  void exited.then(() => running.delete(child))
  const deadline = Date.now() + timeoutMs
  let version = null
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`The Python Event Manager exited at start (code ${child.exitCode}):\n${output.split('\n').slice(-30).join('\n')}`)
    }
    try {
      const res = await fetch(`${url}/health`)
      if (res.ok) {
        const body = await res.json()
        if (body.db_connected === true) {
          version = body.version
          break
        }
      }
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`The Python Event Manager did not become healthy at ${url} within ${timeoutMs} ms:\n${output.split('\n').slice(-30).join('\n')}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    url,
    port,
    version,
    databaseName,
    pid: child.pid,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const t = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(t)
      }
      rmSync(cwd, { recursive: true, force: true })
    },
  }
}

/**
 * Run Python code with the peer's interpreter. `code` prints its result; JSON output is parsed.
 * Rejects with the stderr tail when the code fails.
 */
export function runPython({ python, code, env = {}, input, timeoutMs = 120_000 }) {
  return new Promise((resolve, reject) => {
    const cwd = mkdtempSync(join(tmpdir(), 'madsci-python-run-'))
    mkdirSync(join(cwd, '.git'))
    const child = spawn(python, ['-c', code], { cwd, env: { PATH: process.env.PATH, HOME: cwd, PYTHONUNBUFFERED: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      rmSync(cwd, { recursive: true, force: true })
      if (code !== 0) return reject(new Error(`Python exited with ${code}:\n${err.split('\n').slice(-30).join('\n')}`))
      const text = out.trim()
      try {
        resolve(JSON.parse(text.split('\n').pop()))
      } catch {
        resolve(text)
      }
    })
    if (input !== undefined) child.stdin.end(typeof input === 'string' ? input : JSON.stringify(input))
    else child.stdin.end()
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cmd = process.argv[2]
  if (cmd === 'setup') {
    const { python, version } = ensurePythonPeer()
    console.log(`${python} (madsci-event-manager ${version})`)
  } else if (cmd === 'start') {
    const i = process.argv.indexOf('--mongo-url')
    if (i === -1) {
      console.error('usage: node scripts/lib/python-peer.mjs start --mongo-url mongodb://127.0.0.1:27017/')
      process.exit(2)
    }
    const { python } = ensurePythonPeer()
    const em = await startPythonEventManager({ python, mongoUrl: process.argv[i + 1] })
    console.log(`Python Event Manager ${em.version} at ${em.url} (database ${em.databaseName}); Ctrl-C stops it`)
    const stop = async () => {
      await em.stop()
      process.exit(0)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    setInterval(() => {}, 1 << 30)
  } else {
    console.error('usage: node scripts/lib/python-peer.mjs setup | start --mongo-url URL')
    process.exit(2)
  }
}
