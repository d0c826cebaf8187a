// FerretDB v1.24.2 (MongoDB wire protocol on SQLite) as a test service, built from Go modules by
// our embedding program in scripts/ferretdb. Plain ESM; Node 20 builtins only.
//
//   ensureFerretDB({ cacheDir? })                → binary path (built once, keyed by a hash of the Go files)
//   startFerretDB({ binary, port?, dataDir?, timeoutMs? })
//                                                → { url, port, pid, dataDir, version, stop(), kill(signal), restart() }
//
// CLI: node scripts/lib/ferretdb.mjs build | start
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const FERRETDB_VERSION = '1.24.2'
const here = dirname(fileURLToPath(import.meta.url))
const source = join(here, '..', 'ferretdb')

export function cacheRoot(cacheDir) {
  return cacheDir ?? process.env.MADSCI_EVENTS_CACHE ?? join(homedir(), '.cache', 'madsci-events')
}

/** Build the embedding program once into the cache; returns the binary's path. */
export function ensureFerretDB({ cacheDir } = {}) {
  const hash = createHash('sha256')
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(source, f)))
  const key = hash.digest('hex').slice(0, 16)
  const dir = join(cacheRoot(cacheDir), 'ferretdb')
  const binary = join(dir, `ferretdb-${FERRETDB_VERSION}-${key}`)
  if (existsSync(binary)) return binary
  mkdirSync(dir, { recursive: true })
  const tmp = `${binary}.tmp-${process.pid}`
  process.stderr.write(`Building FerretDB ${FERRETDB_VERSION} (first run only; about 2 minutes)...\n`)
  const res = spawnSync('go', ['build', '-trimpath', '-o', tmp, '.'], { cwd: source, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' })
  if (res.error || res.status !== 0) {
    const tail = (res.stderr ?? '').split('\n').slice(-20).join('\n')
    throw new Error(`Building FerretDB failed: \`go build\` in ${source} ${res.error ? `could not run (${res.error.message}); is Go installed?` : `exited with ${res.status}`}\n${tail}`)
  }
  renameSync(tmp, binary)
  return binary
}

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** Send a MongoDB OP_MSG `{ ping: 1 }` and wait for any answer: the server speaks the protocol. */
function wirePing(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1')
    const timer = setTimeout(() => {
      sock.destroy()
      resolve(false)
    }, timeoutMs)
    sock.once('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
    sock.once('connect', () => {
      // BSON { ping: 1, $db: "admin" }
      const doc = Buffer.concat([
        Buffer.from([0x10]), Buffer.from('ping\0'), Buffer.from([1, 0, 0, 0]),
        Buffer.from([0x02]), Buffer.from('$db\0'), Buffer.from([6, 0, 0, 0]), Buffer.from('admin\0'),
        Buffer.from([0]),
      ])
      const bson = Buffer.alloc(4 + doc.length)
      bson.writeInt32LE(bson.length, 0)
      doc.copy(bson, 4)
      const body = Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from([0]), bson]) // flagBits, section kind 0
      const header = Buffer.alloc(16)
      header.writeInt32LE(16 + body.length, 0)
      header.writeInt32LE(1, 4)
      header.writeInt32LE(0, 8)
      header.writeInt32LE(2013, 12) // OP_MSG
      sock.write(Buffer.concat([header, body]))
    })
    sock.once('data', () => {
      clearTimeout(timer)
      sock.destroy()
      resolve(true)
    })
  })
}

const running = new Set()
let exitHookInstalled = false
function installExitHook() {
  if (exitHookInstalled) return
  exitHookInstalled = true
  const killAll = () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL')
      } catch {}
    }
  }
  process.on('exit', killAll)
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      killAll()
      process.kill(process.pid, sig)
    })
  }
}

/**
 * Start FerretDB on loopback. Without `port` a free one is picked; without `dataDir` a temp dir is
 * made (and removed by `stop()`). Resolves when the server answers the wire protocol.
 */
export async function startFerretDB({ binary, port, dataDir, timeoutMs = 30_000 } = {}) {
  binary ??= ensureFerretDB()
  port ??= await freePort()
  const ownDir = !dataDir
  dataDir ??= mkdtempSync(join(tmpdir(), 'madsci-ferretdb-'))
  installExitHook()
  let child
  let output = ''
  const launch = async () => {
    output = ''
    child = spawn(binary, ['-listen-addr', `127.0.0.1:${port}`, '-sqlite-dir', dataDir, '-log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] })
    running.add(child)
    child.on('exit', () => running.delete(child))
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        // Let the output streams drain so the message shows why.
        await new Promise((r) => (child.stdout.readableEnded && child.stderr.readableEnded ? r() : child.once('close', r)))
        throw new Error(`FerretDB exited at start (code ${child.exitCode}, signal ${child.signalCode}) on port ${port}:\n${output.split('\n').slice(-20).join('\n')}`)
      }
      if (await wirePing(port)) return
      await new Promise((r) => setTimeout(r, 100))
    }
    child.kill('SIGKILL')
    throw new Error(`FerretDB did not answer on 127.0.0.1:${port} within ${timeoutMs} ms:\n${output.split('\n').slice(-20).join('\n')}`)
  }
  await launch()
  const waitExit = (c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))
  const handle = {
    url: `mongodb://127.0.0.1:${port}/`,
    port,
    dataDir,
    version: FERRETDB_VERSION,
    get pid() {
      return child.pid
    },
    /** Send a signal (e.g. SIGKILL for crash tests) and wait for the process to end. */
    async kill(signal = 'SIGKILL') {
      const c = child
      c.kill(signal)
      await waitExit(c)
    },
    /** Start again on the same port and data directory (after `kill`); retried briefly if the port is not free yet. */
    async restart() {
      for (let attempt = 1; ; attempt++) {
        try {
          await launch()
          return
        } catch (err) {
          if (attempt >= 5) throw err
          await new Promise((r) => setTimeout(r, 200 * attempt))
        }
      }
    },
    async stop() {
      const c = child
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM')
        const t = setTimeout(() => c.kill('SIGKILL'), 5000)
        await waitExit(c)
        clearTimeout(t)
      }
      if (ownDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
  return handle
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cmd = process.argv[2]
  if (cmd === 'build') {
    console.log(ensureFerretDB())
  } else if (cmd === 'start') {
    const db = await startFerretDB()
    console.log(`FerretDB ${db.version} at ${db.url} (data in ${db.dataDir}); Ctrl-C stops it`)
    const stop = async () => {
      await db.stop()
      process.exit(0)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    setInterval(() => {}, 1 << 30)
  } else {
    console.error('usage: node scripts/lib/ferretdb.mjs build | start')
    process.exit(2)
  }
}
