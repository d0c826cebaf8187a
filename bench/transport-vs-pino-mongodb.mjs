#!/usr/bin/env node
// Transport benchmark (issue 4): pino → madsci-events/transport → MongoDB against pino → pino-mongodb
// (the existing pino transport for MongoDB) → the same server, in the same run.
//
//   node bench/transport-vs-pino-mongodb.mjs [--smoke] [--runs N] [--events N] [--out PATH]
//
// Method. Each run is a fresh Node process that creates a pino logger with one of the two
// transports (a worker thread each, as users run them), logs --events lines as fast as it can,
// then calls `logger.flush(cb)`, which for both transports calls back once every line is stored:
// ours implements flush so; pino-mongodb (which inserts lines one by one, in order) gets the same
// from a thin wrapper that only watches its queue (bench/transport-baseline-pino-mongodb.cjs).
// events/s = lines / (callback time − first log call). Nothing polls the database meanwhile (on
// FerretDB every count is a scan of the whole collection, which would slow both). The child is then
// stopped with SIGTERM and, after its exit, the lines in the database are counted: a run that did
// not store them all counts the missing ones as lost and gives no events/s. Runs alternate between
// the transports; the median of --runs runs (default 5) is reported with min and max. Goal: our
// events/s ≥ 20× pino-mongodb's, with zero loss.
//
// Services: its own FerretDB (scripts/lib/ferretdb.mjs, built from Go modules), or the server at
// MADSCI_BENCH_MONGO_URL. The transport is the package build: $MADSCI_BENCH_BUILD_DIR/transport.js
// (bench/run.mjs builds one), else dist/transport.js (run `npx tsup` first).
//
// For context each run also times raw insertMany of the same Event documents from this process
// (batches of 1 000, 4 at once): the server's own limit, which caps the ratio on a slow server.
//
// Writes bench/results/transport.json:
//   { generatedAt, command, smoke, machine, method, entries: [{ name, unit, runs, median, min, max,
//     lost, baseline: { name, unit, runs, median, min, max, lost }, ratio, ceiling: {...}, goal, met }] }
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(import.meta.url)
const ROOT = join(dirname(SCRIPT), '..')
const log = (m) => process.stderr.write(`[bench transport] ${m}\n`)
/** A run that has not stored its lines after this long ends there (the rest counts as lost). */
const LIMIT_MS = 15 * 60_000
const NODE_ID = '01JRB6Y0000000000000000005'
const BASELINE = join(dirname(SCRIPT), 'transport-baseline-pino-mongodb.cjs')

// ------------------------------------------------------------------ child: one logging process

if (process.argv[2] === '--child') {
  const cfg = JSON.parse(process.argv[3])
  const { default: pino } = await import('pino')
  const transport =
    cfg.kind === 'madsci'
      ? pino.transport({ target: cfg.target, options: { mongodb: { url: cfg.url, database: cfg.database }, spool: cfg.spool, flushTimeoutMs: cfg.limitMs } })
      : pino.transport({ target: BASELINE, options: { uri: cfg.url, database: cfg.database, collection: 'events' } })
  const logger = pino(transport)
  await new Promise((resolve) => transport.once('ready', resolve))
  const started = Date.now()
  for (let i = 0; i < cfg.events; i++) logger.info({ i, step: i % 10, node_id: NODE_ID, reading: { od600: (i % 1000) / 1000 } }, 'bench line')
  const loggedMs = Date.now() - started
  // Calls back when the transport has stored every line (see the header).
  logger.flush((err) => process.stdout.write(`DONE ${JSON.stringify({ ms: Date.now() - started, loggedMs, error: err?.message })}\n`))
  setInterval(() => {}, 1 << 30)
} else {
  await main()
}

// ------------------------------------------------------------------ statistics and the entry shape

function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (!v.length) return null
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}

function round(x) {
  if (x === null || !Number.isFinite(x)) return null
  if (x === 0) return 0
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))))
  return Number(x.toFixed(Math.min(digits, 6)))
}

function summarize(runs) {
  const v = runs.filter(Number.isFinite)
  return { runs: runs.map(round), median: round(median(v)), min: v.length ? round(Math.min(...v)) : null, max: v.length ? round(Math.max(...v)) : null }
}

// ------------------------------------------------------------------ parent

function parseArgs(argv) {
  const a = { smoke: process.env.MADSCI_BENCH_SMOKE === '1', runs: 5, events: 10_000, out: join(ROOT, 'bench', 'results', 'transport.json') }
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]
    const val = () => (x.includes('=') ? x.slice(x.indexOf('=') + 1) : argv[++i])
    if (x === '--smoke') a.smoke = true
    else if (x.startsWith('--runs')) a.runs = Number(val())
    else if (x.startsWith('--events')) a.events = Number(val())
    else if (x.startsWith('--out')) a.out = val()
    else if (x === '--help' || x === '-h') {
      process.stdout.write('node bench/transport-vs-pino-mongodb.mjs [--smoke] [--runs N] [--events N] [--out PATH]\n')
      process.exit(0)
    } else throw new Error(`unknown argument ${x}; see --help`)
  }
  if (a.smoke) {
    a.runs = 1
    a.events = Math.min(a.events, 300)
  }
  if (!Number.isInteger(a.runs) || a.runs < 1) throw new Error('--runs must be an integer ≥ 1')
  if (!Number.isInteger(a.events) || a.events < 1) throw new Error('--events must be an integer ≥ 1')
  return a
}

function transportTarget() {
  const dir = process.env.MADSCI_BENCH_BUILD_DIR
  if (dir && existsSync(join(dir, 'transport.js'))) return join(dir, 'transport.js')
  const dist = join(ROOT, 'dist', 'transport.js')
  if (!existsSync(dist)) throw new Error('No build of the transport: run `npx tsup` (or set MADSCI_BENCH_BUILD_DIR to a build directory)')
  return dist
}

/** One run: the child logs and waits for its transport to store every line; then it is stopped and the lines counted. */
async function measure(client, { kind, url, target, events, scratch, index }) {
  const database = `bench_transport_${kind.replace(/\W/g, '_')}_${process.pid}_${index}`
  const spool = join(scratch, `spool-${index}`)
  const child = spawn(process.execPath, [SCRIPT, '--child', JSON.stringify({ kind, url, target, database, events, spool, limitMs: LIMIT_MS })], {
    cwd: scratch,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const collection = client.db(database).collection('events')
  // The bench lines only (our transport also stores its closing summary event).
  const lines = kind === 'madsci' ? { 'event_data.message': 'bench line' } : { msg: 'bench line' }
  try {
    const deadline = Date.now() + LIMIT_MS
    let done
    while (!done && Date.now() < deadline && child.exitCode === null) {
      const m = /DONE (\{.*\})/.exec(out)
      if (m) done = JSON.parse(m[1])
      else await new Promise((r) => setTimeout(r, 20))
    }
    if (!done) log(`the ${kind} child did not report its lines stored${child.exitCode !== null ? ` (it exited: ${err.trim().split('\n').slice(-3).join(' | ')})` : ' in time'}`)
    child.kill('SIGTERM')
    await exited
    // After the child's exit (its transport closed): what reached the database, for the loss figure.
    const stored = await collection.countDocuments(lines)
    const ok = done && !done.error && stored === events
    return { eventsPerSecond: ok ? events / (done.ms / 1000) : Number.NaN, seconds: done ? done.ms / 1000 : Number.NaN, stored, lost: Math.max(0, events - stored), loggedMs: done?.loggedMs }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await client.db(database).dropDatabase().catch(() => undefined)
  }
}

/**
 * The server's own limit, for context: the same Event documents written by this process with raw
 * `insertMany` (batches of 1 000, unordered, 4 at once, MADSci's indexes), as fast as the server
 * takes them. No transport can beat it; on FerretDB it caps the ratio above.
 */
async function ceiling(client, { events, index }) {
  const database = `bench_transport_raw_${process.pid}_${index}`
  const collection = client.db(database).collection('events')
  try {
    for (const keys of [{ event_timestamp: 1 }, { log_level: 1 }, { archived: 1 }, { archived: 1, archived_at: 1 }]) await collection.createIndex(keys)
    const doc = (i) => ({
      _id: `${String(index).padStart(6, '0')}${String(i).padStart(20, '0')}`,
      event_type: 'log_info',
      log_level: 20,
      alert: false,
      event_timestamp: '2026-11-22T14:00:00.123000',
      source: { node_id: NODE_ID },
      event_data: { message: 'bench line', pid: process.pid, hostname: os.hostname(), i, step: i % 10, reading: { od600: (i % 1000) / 1000 } },
      trace_id: null,
      span_id: null,
      archived: false,
      archived_at: null,
    })
    const started = Date.now()
    let next = 0
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < events) {
          const from = next
          next = Math.min(events, next + 1000)
          const batch = []
          for (let i = from; i < next; i++) batch.push(doc(i))
          await collection.insertMany(batch, { ordered: false })
        }
      }),
    )
    return events / ((Date.now() - started) / 1000)
  } finally {
    await client.db(database).dropDatabase().catch(() => undefined)
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const target = transportTarget()
  const { MongoClient } = await import('mongodb')
  let db
  let url = process.env.MADSCI_BENCH_MONGO_URL
  let server = 'the MongoDB-compatible server at MADSCI_BENCH_MONGO_URL'
  if (!url) {
    const { startFerretDB } = await import('../scripts/lib/ferretdb.mjs')
    db = await startFerretDB({ timeoutMs: 300_000 })
    url = db.url
    server = `FerretDB ${db.version} (SQLite backend), started for this run`
  }
  const scratch = mkdtempSync(join(os.tmpdir(), 'madsci-bench-transport-'))
  const client = new MongoClient(url)
  const ours = []
  const theirs = []
  const raw = []
  try {
    log(`${args.runs} run(s) of ${args.events} lines each, against ${server}; transport ${relative(ROOT, target)}`)
    for (let i = 0; i < args.runs; i++) {
      const a = await measure(client, { kind: 'madsci', url, target, events: args.events, scratch, index: `${i}a` })
      log(`run ${i + 1}: madsci-events transport ${round(a.eventsPerSecond)} events/s (${round(a.seconds)} s, ${a.lost} lost, main thread ${a.loggedMs} ms)`)
      ours.push(a)
      const b = await measure(client, { kind: 'pino-mongodb', url, target, events: args.events, scratch, index: `${i}b` })
      log(`run ${i + 1}: pino-mongodb ${round(b.eventsPerSecond)} events/s (${round(b.seconds)} s, ${b.lost} lost, main thread ${b.loggedMs} ms)`)
      theirs.push(b)
      const c = await ceiling(client, { events: args.events, index: i })
      log(`run ${i + 1}: raw insertMany ${round(c)} events/s (the server's limit)`)
      raw.push(c)
    }
  } finally {
    await client.close()
    if (db) await db.stop()
    rmSync(scratch, { recursive: true, force: true })
  }

  const mine = summarize(ours.map((r) => r.eventsPerSecond))
  const base = summarize(theirs.map((r) => r.eventsPerSecond))
  const lost = ours.reduce((s, r) => s + r.lost, 0)
  const baseLost = theirs.reduce((s, r) => s + r.lost, 0)
  const ratio = mine.median && base.median ? round(mine.median / base.median) : null
  const entry = {
    name: 'pino → madsci-events/transport → MongoDB',
    unit: 'events/s',
    ...mine,
    lost,
    baseline: { name: 'pino → pino-mongodb → MongoDB', unit: 'events/s', ...base, lost: baseLost },
    ratio,
    ceiling: { name: 'raw insertMany, batches of 1 000 (the server\'s limit)', unit: 'events/s', ...summarize(raw) },
    goal: '≥ 20× pino-mongodb, 0 lost',
    met: args.smoke || ratio === null ? null : ratio >= 20 && lost === 0,
  }
  const result = {
    generatedAt: new Date().toISOString(),
    command: `node bench/transport-vs-pino-mongodb.mjs${args.smoke ? ' --smoke' : ''} --runs ${args.runs} --events ${args.events}`,
    smoke: args.smoke,
    machine: { node: process.version, platform: `${process.platform}/${process.arch}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAverage: os.loadavg().map(round) },
    method:
      `${args.events} pino lines per run, logged as fast as possible by a fresh Node process through each transport's worker thread, into ${server}; ` +
      'time from the first log call until logger.flush(cb) calls back with every line stored (pino-mongodb through a wrapper that adds that flush); lines counted in the database after the child exits, for loss. ' +
      `Runs alternate between the transports; median of ${args.runs} with min–max.`,
    entries: [entry],
  }
  mkdirSync(dirname(args.out), { recursive: true })
  writeFileSync(args.out, JSON.stringify(result, null, 2) + '\n')
  log(
    `madsci-events transport ${entry.median} events/s (${entry.min}–${entry.max}), ${lost} lost; pino-mongodb ${base.median} events/s (${base.min}–${base.max}), ${baseLost} lost; ` +
      `ratio ${ratio}× (goal ≥ 20×); the server's own limit (raw insertMany) ${entry.ceiling.median} events/s → ${relative(ROOT, args.out)}`,
  )
}
