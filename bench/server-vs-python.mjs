#!/usr/bin/env node
// Server benchmark (issue 5): our server vs the Python MADSci Event Manager 0.8.1, both storing in
// the same FerretDB, in the same run, with the load generated from this process (autocannon), which
// is separate from both servers.
//
//   node bench/server-vs-python.mjs [--smoke] [--runs N] [--duration S] [--out PATH]
//
// Measures
//   1. single POST /event: requests/s, p50 and p99 latency, ours and Python's (goal: ≥ 5× Python's req/s);
//   2. events/s through our POST /events/batch (1 000 events per request) vs events/s through the
//      Python server's only ingest route, POST /event (goal: ≥ 100×);
//   3. for reference, the same batch route on our embedded file store (no database in the way).
// Each condition is run --runs times (default 3; --smoke: once, 2 s, nothing judged); the median is
// reported with min and max. Writes bench/results/server.json:
//   { generatedAt, command, smoke, machine, method, entries: [{ name, unit, runs, median, min, max, baseline, ratio, goal, met }] }
//
// Services: its own FerretDB (built from Go modules by scripts/lib/ferretdb.mjs, or MADSCI_BENCH_MONGO_URL),
// its own Python Event Manager (scripts/lib/python-peer.mjs) and our server (the package build:
// $MADSCI_BENCH_BUILD_DIR/server.js, else dist/server.js; run `npx tsup` first) in a child process.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import autocannon from 'autocannon'
import { MongoClient } from 'mongodb'
import { ensureFerretDB, startFerretDB } from '../scripts/lib/ferretdb.mjs'
import { ensurePythonPeer, startPythonEventManager } from '../scripts/lib/python-peer.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const log = (m) => process.stderr.write(`[bench server] ${m}\n`)

function parseArgs(argv) {
  const a = { smoke: process.env.MADSCI_BENCH_SMOKE === '1', runs: 3, duration: 5, out: join(ROOT, 'bench', 'results', 'server.json') }
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]
    const val = () => (x.includes('=') ? x.slice(x.indexOf('=') + 1) : argv[++i])
    if (x === '--smoke') a.smoke = true
    else if (x.startsWith('--runs')) a.runs = Number(val())
    else if (x.startsWith('--duration')) a.duration = Number(val())
    else if (x.startsWith('--out')) a.out = val()
    else if (x === '--help' || x === '-h') {
      process.stdout.write('node bench/server-vs-python.mjs [--smoke] [--runs N] [--duration S] [--out PATH]\n')
      process.exit(0)
    } else throw new Error(`unknown argument ${x}; see --help`)
  }
  if (!Number.isInteger(a.runs) || a.runs < 1) throw new Error('--runs must be an integer ≥ 1')
  if (!(a.duration > 0)) throw new Error('--duration must be a number of seconds > 0')
  if (a.smoke) {
    a.runs = 1
    a.duration = 2
  }
  return a
}

// ------------------------------------------------------------------ statistics

function median(values) {
  const v = values.filter(Number.isFinite).sort((x, y) => x - y)
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

/** One result entry; `goal` is `{ text, min }` on the ratio (median / baseline median), judged unless smoke. */
function entry({ name, unit, runs, baseline, goal, smoke, notes }) {
  const s = summarize(runs)
  const b = baseline ? { name: baseline.name, unit: baseline.unit ?? unit, ...summarize(baseline.runs) } : null
  const ratio = b && b.median && s.median !== null ? round(s.median / b.median) : null
  const met = goal && !smoke && ratio !== null ? ratio >= goal.min : null
  return { group: 'server', name, unit, ...s, baseline: b, ratio, goal: goal?.text ?? null, met, ...(notes ? { notes } : {}) }
}

// ------------------------------------------------------------------ our server in its own process

const SERVER_CHILD = `
const { createServer } = await import(process.env.MADSCI_BENCH_SERVER_MODULE)
const server = createServer({
  env: { HOME: process.env.MADSCI_BENCH_HOME, MADSCI_SETTINGS_DIR: process.env.MADSCI_BENCH_HOME },
  settings: process.env.MADSCI_BENCH_MONGO_URL ? { document_db_url: process.env.MADSCI_BENCH_MONGO_URL, database_name: process.env.MADSCI_BENCH_DATABASE } : {},
  onWarning: () => {},
})
const { url } = await server.listen(0, '127.0.0.1')
process.stdout.write(JSON.stringify({ url }) + '\\n')
process.on('SIGTERM', () => server.close().then(() => process.exit(0), () => process.exit(1)))
`

function serverModule() {
  const dirs = [process.env.MADSCI_BENCH_BUILD_DIR, join(ROOT, 'dist')].filter(Boolean)
  for (const d of dirs) if (existsSync(join(d, 'server.js'))) return pathToFileURL(join(d, 'server.js')).href
  throw new Error(`No build of the server found (looked for server.js in ${dirs.join(', ')}); run \`npx tsup\` first`)
}

function startOurServer({ mongoUrl, database, home }) {
  // Without mongoUrl: the embedded file store under home/.madsci.
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER_CHILD], {
      env: { PATH: process.env.PATH, MADSCI_BENCH_SERVER_MODULE: serverModule(), MADSCI_BENCH_HOME: home, MADSCI_BENCH_MONGO_URL: mongoUrl ?? '', MADSCI_BENCH_DATABASE: database ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (d) => (err = (err + d).slice(-4000)))
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) {
        const { url } = JSON.parse(line)
        resolve({
          url,
          pid: child.pid,
          stop: () =>
            new Promise((res) => {
              if (child.exitCode !== null) return res()
              child.once('exit', () => res())
              child.kill('SIGTERM')
              setTimeout(() => child.kill('SIGKILL'), 15_000).unref()
            }),
        })
      }
    })
    child.on('exit', (code, signal) => reject(new Error(`our server exited (${signal ?? code}) before it was ready:\n${err}`)))
  })
}

// ------------------------------------------------------------------ load

function load({ url, path, body, connections, duration }) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: url + path, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration, pipelining: 1 },
      (err, result) => (err ? reject(err) : resolve(result)),
    )
  })
}

/** Requests/s counting 2xx answers only, and latency percentiles (ms). */
function measure(result) {
  return {
    rps: result['2xx'] / (result.duration || 1),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  }
}

const oneEvent = JSON.stringify({ event_type: 'log_info', log_level: 20, source: { node_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' }, event_data: { message: 'bench single post', step: 1, ok: true } })
const BATCH = 1000
const batchBody = JSON.stringify(Array.from({ length: BATCH }, (_, i) => ({ event_type: 'log_info', log_level: 20, source: { node_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' }, event_data: { message: 'bench batch', i } })))

// ------------------------------------------------------------------ main

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const started = new Date()
  const stops = []
  const scratch = mkdtempSync(join(os.tmpdir(), 'madsci-bench-server-'))
  mkdirSync(join(scratch, '.madsci'))
  try {
    let mongoUrl = process.env.MADSCI_BENCH_MONGO_URL
    let mongoDescription = 'MADSCI_BENCH_MONGO_URL'
    if (!mongoUrl) {
      const db = await startFerretDB({ binary: await ensureFerretDB(), timeoutMs: 60_000 })
      stops.push(() => db.stop())
      mongoUrl = db.url
      mongoDescription = `FerretDB ${db.version} (SQLite backend)`
    }
    const peer = await ensurePythonPeer({ log })
    const pyDb = `bench_server_python_${process.pid}`
    const oursDb = `bench_server_ours_${process.pid}`
    const em = await startPythonEventManager({ python: peer.python, mongoUrl, databaseName: pyDb })
    stops.push(() => em.stop())
    const ours = await startOurServer({ mongoUrl, database: oursDb, home: scratch })
    stops.push(() => ours.stop())
    // For reference (no goal): our server on its embedded file store, to show where the limit is.
    const fileHome = join(scratch, 'file')
    mkdirSync(join(fileHome, '.madsci'), { recursive: true })
    const oursFile = await startOurServer({ home: fileHome })
    stops.push(() => oursFile.stop())
    stops.push(async () => {
      const c = await MongoClient.connect(mongoUrl)
      try {
        for (const d of [pyDb, oursDb]) await c.db(d).dropDatabase()
      } finally {
        await c.close()
      }
    })
    log(`${mongoDescription} at ${mongoUrl}; Python Event Manager ${em.version} at ${em.url}; ours at ${ours.url} (pid ${ours.pid})`)

    const conditions = {
      pySingle: { url: em.url, path: '/event', body: oneEvent, connections: 16 },
      ourSingle: { url: ours.url, path: '/event', body: oneEvent, connections: 16 },
      ourBatch: { url: ours.url, path: '/events/batch', body: batchBody, connections: 4 },
      ourBatchFile: { url: oursFile.url, path: '/events/batch', body: batchBody, connections: 4 },
    }
    const results = { pySingle: [], ourSingle: [], ourBatch: [], ourBatchFile: [] }
    // Warm-up (JIT, connection pools, FerretDB's tables), then interleaved runs so drift hits both.
    for (const c of Object.values(conditions)) await load({ ...c, duration: 1 })
    for (let run = 0; run < args.runs; run++) {
      for (const [name, c] of Object.entries(conditions)) {
        const m = measure(await load({ ...c, duration: args.duration }))
        results[name].push(m)
        log(`run ${run + 1}/${args.runs} ${name}: ${m.rps.toFixed(1)} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms${m.non2xx || m.errors ? `, ${m.non2xx} non-2xx, ${m.errors} errors` : ''}`)
      }
    }

    const pick = (name, key) => results[name].map((m) => m[key])
    const failures = Object.entries(results).flatMap(([name, ms]) => ms.filter((m) => m.non2xx || m.errors).map((m) => `${name}: ${m.non2xx} non-2xx, ${m.errors} errors`))
    const python = { name: 'Python Event Manager 0.8.1, POST /event' }
    const entries = [
      entry({ name: 'POST /event requests/s (ours vs Python)', unit: 'req/s', runs: pick('ourSingle', 'rps'), baseline: { ...python, runs: pick('pySingle', 'rps') }, goal: { text: '≥ 5×', min: 5 }, smoke: args.smoke }),
      entry({ name: 'POST /event latency p50 (ours vs Python)', unit: 'ms', runs: pick('ourSingle', 'p50'), baseline: { ...python, runs: pick('pySingle', 'p50') }, smoke: args.smoke }),
      entry({ name: 'POST /event latency p99 (ours vs Python)', unit: 'ms', runs: pick('ourSingle', 'p99'), baseline: { ...python, runs: pick('pySingle', 'p99') }, smoke: args.smoke }),
      entry({
        name: `events/s: our POST /events/batch (${BATCH} per request) vs Python POST /event`,
        unit: 'events/s',
        runs: pick('ourBatch', 'rps').map((r) => r * BATCH),
        baseline: { ...python, unit: 'events/s', runs: pick('pySingle', 'rps') },
        goal: { text: '≥ 100×', min: 100 },
        smoke: args.smoke,
      }),
      entry({ name: `POST /events/batch latency p50 (${BATCH} events)`, unit: 'ms', runs: pick('ourBatch', 'p50'), smoke: args.smoke }),
      entry({
        name: `reference: events/s through POST /events/batch on our embedded file store (no database)`,
        unit: 'events/s',
        runs: pick('ourBatchFile', 'rps').map((r) => r * BATCH),
        baseline: { ...python, unit: 'events/s', runs: pick('pySingle', 'rps') },
        smoke: args.smoke,
        notes: 'Not the goal condition (the goal compares both servers on the same FerretDB); shows what the server does when the database is not the limit.',
      }),
    ]
    const doc = {
      generatedAt: started.toISOString(),
      durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
      command: `node ${relative(process.cwd(), fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.trim(),
      smoke: args.smoke,
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, loadAverageAtStart: os.loadavg().map((x) => round(x)) },
      method:
        `Both servers store in the same ${mongoDescription} (separate databases), on loopback; each runs in its own process and the load comes from this one (autocannon, ` +
        `16 connections for single POSTs, 4 for batches, ${args.duration} s per run after a 1 s warm-up, runs interleaved). req/s counts 2xx answers only. ` +
        'Python: madsci-event-manager 0.8.1 from PyPI (uvicorn, one worker, rate limiter exempting loopback, as shipped).',
      failures,
      entries,
    }
    mkdirSync(dirname(args.out), { recursive: true })
    writeFileSync(args.out, JSON.stringify(doc, null, 2) + '\n')
    for (const e of entries) {
      log(`${e.name}: median ${e.median} ${e.unit}${e.baseline ? ` vs ${e.baseline.median} (ratio ${e.ratio}${e.goal ? `, goal ${e.goal}: ${e.met === null ? 'not judged' : e.met ? 'met' : 'NOT met'}` : ''})` : ''}`)
    }
    log(`wrote ${relative(process.cwd(), args.out)}`)
    if (failures.length) log(`non-2xx answers or errors during the load: ${failures.join('; ')}`)
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err) => log(`cleanup: ${err.message}`))
    rmSync(scratch, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench/server-vs-python.mjs failed: ${err.stack ?? err.message}\n`)
    process.exit(1)
  },
)
