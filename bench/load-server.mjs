#!/usr/bin/env node
// Sustained load on our server adapter (issue 9, "Load"):
//
//   node bench/load-server.mjs [--duration 60] [--probe 5] [--connections 4,8,16,32,64,128] [--json bench/results/load.json]
//
// createServer on a private FerretDB (or MONGODB_URL), in its own process (bench/cases/server-child.mjs);
// the load comes from this process (autocannon): single `POST /event` requests, each answered once
// the event is stored. First a short probe at each connection count measures the capacity (the
// count with the most 2xx/s); then `--duration` seconds at that count. Reports errors (goal 0),
// p50/p99, the server's RSS after warm-up (10 s) and at the end (goal: flat), and checks that the
// store holds exactly one event per 2xx answer. Writes bench/results/load.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { BUILD_DIR, buildForBench } from './lib/build.mjs'
import { runChild } from './lib/child.mjs'
import { describeMachine, machineInfo } from './lib/machine.mjs'
import { ensureFerretDB, startFerretDB } from '../scripts/lib/ferretdb.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    probe: { type: 'string', default: '5' },
    connections: { type: 'string', default: '4,8,16,32,64,128' },
    warmup: { type: 'string', default: '10' },
    // Server settings as JSON, e.g. '{"live_poll_interval_ms": 2000}'.
    settings: { type: 'string', default: '{}' },
    json: { type: 'string', default: join(HERE, 'results', 'load.json') },
  },
})
const log = (...a) => process.stderr.write(`load-server: ${a.join(' ')}\n`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// Build only when there is no bench build (a rebuild would pull it from under a running bench).
if (!existsSync(join(BUILD_DIR, 'server.js'))) {
  log('building the package into bench/.build ...')
  await buildForBench()
}
const machine = machineInfo()

function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

const body = JSON.stringify({ event_type: 'log_info', log_level: 20, source: { node_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' }, event_data: { message: 'sustained load', step: 1, ok: true } })

function load(url, connections, duration) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `${url}/event`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration, pipelining: 1, timeout: 10 },
      (err, r) => (err ? reject(err) : resolve(r)),
    )
  })
}

const summary = (r) => ({
  connections: r.connections,
  durationS: r.duration,
  requests: r.requests.total,
  // Sent includes the requests in flight when the run stopped: stored, but never answered to autocannon.
  sent: r.requests.sent,
  ok2xx: r['2xx'],
  non2xx: r.non2xx,
  errors: r.errors,
  timeouts: r.timeouts,
  rps: Math.round(r['2xx'] / (r.duration || 1)),
  p50ms: r.latency.p50,
  p90ms: r.latency.p90,
  p99ms: r.latency.p99,
  maxMs: r.latency.max,
})

let db
let mongoUrl = process.env.MONGODB_URL
let mongoDescription = 'MongoDB from MONGODB_URL'
if (!mongoUrl) {
  db = await startFerretDB({ binary: await ensureFerretDB({ quiet: true }), timeoutMs: 60_000 })
  mongoUrl = db.url
  mongoDescription = `FerretDB ${db.version} (SQLite backend)`
}
let server
let serverProc
let stopping = false
const ready = new Promise((resolve) => {
  server = runChild(join(HERE, 'cases', 'server-child.mjs'), { backend: 'mongo', mongoUrl, db: `load_server_${process.pid}`, settings: JSON.parse(args.settings) }, {
    timeoutMs: 3_600_000,
    onMessage: (m, child) => {
      if (m.type === 'ready') {
        serverProc = child
        resolve(m.url)
      } else if (m.type === 'count') pending.get(m.id)?.(m)
    },
  })
  // The server child ends on `stop` without a result message; only a failure before that is news.
  server.catch((err) => stopping || log(`server: ${err.message}`))
})
const pending = new Map()
let nextId = 0
const count = () =>
  new Promise((resolve, reject) => {
    const id = ++nextId
    pending.set(id, (m) => (m.error ? reject(new Error(m.error)) : resolve(m.value)))
    serverProc.send({ type: 'count', id, selector: {} })
  })

try {
  const url = await ready
  log(`server at ${url} (pid ${serverProc.pid}), storing in ${mongoDescription}`)
  // 1. Capacity: a short probe at each connection count.
  const probes = []
  for (const c of args.connections.split(',').map(Number)) {
    const r = summary(await load(url, c, Number(args.probe)))
    log(`probe ${c} connections: ${r.rps} req/s, p50 ${r.p50ms} ms, p99 ${r.p99ms} ms, errors ${r.errors + r.timeouts + r.non2xx}`)
    probes.push(r)
    await sleep(1000)
  }
  const best = probes.reduce((a, b) => (b.rps > a.rps ? b : a))
  // 2. Sustained: `duration` s at the capacity's connection count, RSS sampled every second.
  log(`sustained: ${args.duration} s at ${best.connections} connections (${best.rps} req/s in the probe) ...`)
  const rss = []
  const t0 = Date.now()
  const sampler = setInterval(() => rss.push({ t: Math.round((Date.now() - t0) / 1000), mb: rssOf(serverProc.pid) }), 1000)
  const sustained = summary(await load(url, best.connections, Number(args.duration)))
  clearInterval(sampler)
  await sleep(500)
  const stored = await count()
  const ok2xxTotal = probes.reduce((a, p) => a + p.ok2xx, 0) + sustained.ok2xx
  const sentTotal = probes.reduce((a, p) => a + p.sent, 0) + sustained.sent
  // Every answered event is stored; the rest stored are the ones in flight when a run stopped (at most one per connection).
  const storedOk = stored >= ok2xxTotal && stored <= sentTotal
  const warm = Number(args.warmup)
  const afterWarm = rss.filter((s) => s.t >= warm && s.mb !== null)
  const rssWarm = afterWarm[0]?.mb ?? null
  const rssEnd = afterWarm[afterWarm.length - 1]?.mb ?? null
  const rssMax = Math.max(...afterWarm.map((s) => s.mb))
  // Least-squares slope of RSS after warm-up, MB per minute.
  const n = afterWarm.length
  const mx = afterWarm.reduce((a, s) => a + s.t, 0) / n
  const my = afterWarm.reduce((a, s) => a + s.mb, 0) / n
  const slope = (afterWarm.reduce((a, s) => a + (s.t - mx) * (s.mb - my), 0) / afterWarm.reduce((a, s) => a + (s.t - mx) ** 2, 0)) * 60
  const errors = sustained.errors + sustained.timeouts + sustained.non2xx
  const result = {
    machine,
    startedAt: new Date(t0).toISOString(),
    storeDescription: mongoDescription,
    method:
      'createServer (bench build) in its own process on loopback, storing in the database named; load from another process (autocannon, pipelining 1, 10 s timeout), single POST /event of a small event, each answered after the event is stored. Capacity = the connection count whose short probe gave the most 2xx/s; the sustained run uses it. RSS of the server process from /proc every second; warm-up is the first ' +
      warm +
      ' s.',
    probes,
    capacity: { connections: best.connections, rps: best.rps },
    sustained,
    errors,
    rssMB: { atWarmup: rssWarm, end: rssEnd, maxAfterWarmup: rssMax, slopeMBperMin: Math.round(slope * 100) / 100, samples: rss },
    store: { answered2xx: ok2xxTotal, sent: sentTotal, stored, inFlightAtStops: stored - ok2xxTotal, match: storedOk },
    goals: {
      noErrors: errors === 0,
      // Growth is the failure; RSS falling after a major GC (a sawtooth) is not.
      rssFlat: rssWarm !== null && rssEnd - rssWarm < 32 && slope < 16,
      storedEqualsAnswered: storedOk,
    },
  }
  const s = sustained
  result.table =
    `| run | connections | s | 2xx | errors | req/s | p50 ms | p99 ms | RSS MB (warm-up → end) |\n|---|---|---|---|---|---|---|---|---|\n` +
    probes.map((p) => `| probe | ${p.connections} | ${p.durationS} | ${p.ok2xx} | ${p.errors + p.timeouts + p.non2xx} | ${p.rps} | ${p.p50ms} | ${p.p99ms} | |`).join('\n') +
    `\n| sustained | ${s.connections} | ${s.durationS} | ${s.ok2xx} | ${errors} | ${s.rps} | ${s.p50ms} | ${s.p99ms} | ${rssWarm?.toFixed(1)} → ${rssEnd?.toFixed(1)} (max ${rssMax.toFixed(1)}, slope ${result.rssMB.slopeMBperMin} MB/min) |\n`
  result.verdict =
    `stored ${stored} events for ${ok2xxTotal} 2xx answers and ${sentTotal - ok2xxTotal} requests in flight when a run stopped; goals: errors 0 ${result.goals.noErrors ? 'met' : 'NOT MET'}, RSS flat ${result.goals.rssFlat ? 'met' : 'NOT MET'}, every answered event stored ${result.goals.storedEqualsAnswered ? 'met' : 'NOT MET'}`
  mkdirSync(dirname(args.json), { recursive: true })
  writeFileSync(args.json, JSON.stringify(result, null, 2) + '\n')
  process.stdout.write(`\nLoad on our server, ${describeMachine(machine)}; ${mongoDescription}\n\n${result.table}\n${result.verdict}\n`)
  log(`wrote ${args.json}`)
} finally {
  stopping = true
  serverProc?.send({ type: 'stop' })
  await server?.catch(() => undefined)
  await db?.stop()
}
process.exit(0)
