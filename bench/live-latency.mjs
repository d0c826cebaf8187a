#!/usr/bin/env node
// Cross-instance live latency, and what the polling costs the store:
//
//   node bench/live-latency.mjs [--polls 100,250,500,1000] [--windows 500] [--seconds 10] [--rate 20]
//                               [--store-events 20000] [--json bench/results/live-latency.json]
//
// Two `serve` instances (A on FerretDB front end 0, B on front end 1) on one PostgreSQL. A client
// POSTs `--rate` events/s to A (`POST /event`, its send time in the event); an SSE client on B
// receives them: latency = receive time − send time (one process, one clock), p50/p99 over
// `--seconds` after a 2 s warm-up. Each poll interval × order window gets fresh instances on the
// same store, which holds `--store-events` events first (FerretDB v1 does not push `_id` ranges
// down to PostgreSQL, so each poll reads the whole collection: its cost follows the store's size).
// Cost over the same seconds: CPU of PostgreSQL (postmaster + backends), of B's front end and of
// B, and PostgreSQL's rows read and transactions per second (pg_stat_database); first without a
// client on B (B does not poll then) as the baseline.
import { mkdirSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { buildForBench } from './lib/build.mjs'
import { buildFile, loadCore } from './lib/load.mjs'
import { describeMachine, machineInfo } from './lib/machine.mjs'
import { measureIngest } from './lib/scale-out.mjs'
import { ensureFerretDB, startFerretDB } from '../scripts/lib/ferretdb.mjs'
import { processCpuSeconds, startPostgres } from '../scripts/lib/postgres.mjs'
import { startServe } from '../scripts/lib/cluster.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({
  options: {
    polls: { type: 'string', default: '100,250,500,1000' },
    windows: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '20' },
    'store-events': { type: 'string', default: '20000' },
    json: { type: 'string', default: join(HERE, 'results', 'live-latency.json') },
  },
})
const log = (m) => process.stderr.write(`live-latency: ${m}\n`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const seconds = Number(args.seconds)
const rate = Number(args.rate)

await buildForBench()
const core = await loadCore()
const machine = machineInfo()
log(describeMachine(machine))
const binary = await ensureFerretDB({ quiet: true })
const pg = await startPostgres({ timeoutMs: 60_000 })
const [f0, f1] = await Promise.all([startFerretDB({ binary, postgresqlUrl: pg.url }), startFerretDB({ binary, postgresqlUrl: pg.url })])
const database = 'latency'
const rows = []

async function pgCounters() {
  const [[rowsRead, commits]] = await pg.query(`SELECT tup_returned + tup_fetched, xact_commit FROM pg_stat_database WHERE datname = '${pg.database}'`)
  return { rowsRead: Number(rowsRead), commits: Number(commits) }
}

/** An SSE client collecting (id, receive time, send time). */
function sse(url) {
  const got = []
  let live = false
  const req = request(`${url}/events/stream?event_type=test`, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
    let buf = ''
    res.setEncoding('utf8').on('data', (chunk) => {
      buf += chunk
      let i
      while ((i = buf.indexOf('\n\n')) !== -1) {
        const frame = buf.slice(0, i)
        buf = buf.slice(i + 2)
        if (frame.includes(': live')) live = true
        const data = frame.split('\n').find((l) => l.startsWith('data: '))
        if (data) {
          const e = JSON.parse(data.slice(6))
          got.push({ id: e._id, at: performance.timeOrigin + performance.now(), sentAt: e.event_data?.sentAt })
        }
      }
    })
  })
  req.end()
  return { got, get live() { return live }, close: () => req.destroy() }
}

async function post(url, body) {
  const res = await fetch(`${url}/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  await res.text()
  if (res.status !== 200) throw new Error(`POST /event answered ${res.status}`)
}

async function measure({ pollMs, windowMs, withClient }) {
  const settings = { document_db_url: '', database_name: database, live_poll_interval_ms: pollMs, live_order_window_ms: windowMs }
  const a = await startServe({ serverModule: buildFile('server.js'), settings: { ...settings, document_db_url: f0.url } })
  const b = await startServe({ serverModule: buildFile('server.js'), settings: { ...settings, document_db_url: f1.url } })
  try {
    const client = withClient ? sse(b.url) : undefined
    while (client && !client.live) await sleep(20)
    let stop = false
    let sent = 0
    const postMs = []
    const producer = (async () => {
      const every = 1000 / rate
      const t0 = Date.now()
      while (!stop) {
        const t = performance.now()
        await post(a.url, { event_type: 'test', event_data: { sentAt: performance.timeOrigin + t, n: sent++ } })
        postMs.push(performance.now() - t)
        const next = t0 + sent * every
        await sleep(Math.max(0, next - Date.now()))
      }
    })()
    await sleep(2000)
    const from = client?.got.length ?? 0
    const before = { pg: pg.cpuSeconds(), front: processCpuSeconds(f1.pid), b: b.cpuSeconds(), ...(await pgCounters()), at: Date.now() }
    await sleep(seconds * 1000)
    const after = { pg: pg.cpuSeconds(), front: processCpuSeconds(f1.pid), b: b.cpuSeconds(), ...(await pgCounters()), at: Date.now() }
    stop = true
    await producer
    const span = (after.at - before.at) / 1000
    const lat = client ? client.got.slice(from).map((g) => g.at - g.sentAt).sort((x, y) => x - y) : []
    client?.close()
    const q = (p) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]) : null)
    return {
      pollMs: withClient ? pollMs : null,
      windowMs: withClient ? windowMs : null,
      samples: lat.length,
      p50: q(0.5),
      p99: q(0.99),
      max: lat.length ? Math.round(lat[lat.length - 1]) : null,
      // How long A took to store an event (POST /event answers once stored): part of the latency.
      storeP50: Math.round(postMs.sort((x, y) => x - y)[Math.floor(postMs.length / 2)] ?? 0),
      pgCpuPct: Math.round(((after.pg - before.pg) / span) * 1000) / 10,
      frontEndCpuPct: Math.round(((after.front - before.front) / span) * 1000) / 10,
      instanceCpuPct: Math.round(((after.b - before.b) / span) * 1000) / 10,
      pgRowsReadPerS: Math.round((after.rowsRead - before.rowsRead) / span),
      pgCommitsPerS: Math.round((after.commits - before.commits) / span),
    }
  } finally {
    await b.stop()
    await a.stop()
  }
}

try {
  // The collection and its indexes through front end 0 first (FerretDB v1 caches the catalogue per front end).
  const seed = await startServe({ serverModule: buildFile('server.js'), settings: { document_db_url: f0.url, database_name: database } })
  const storeEvents = Number(args['store-events'])
  log(`filling the store with ${storeEvents} events ...`)
  while (true) {
    const n = Number((await (await fetch(`${seed.url}/health`)).json()).total_events ?? 0)
    if (n >= storeEvents) break
    await measureIngest({ HttpStore: core.HttpStore, parseEvent: core.parseEvent, urls: [seed.url], seconds: 1, concurrency: 4 })
  }
  await seed.stop()
  const configs = [{ withClient: false, pollMs: 500, windowMs: 500 }]
  for (const windowMs of args.windows.split(',').map(Number)) for (const pollMs of args.polls.split(',').map(Number)) configs.push({ withClient: true, pollMs, windowMs })
  for (const c of configs) {
    const r = await measure(c)
    rows.push(r)
    log(c.withClient ? `poll ${c.pollMs} ms, window ${c.windowMs} ms: p50 ${r.p50} ms, p99 ${r.p99} ms (${r.samples}); PostgreSQL ${r.pgCpuPct} % CPU, ${r.pgRowsReadPerS} rows read/s, ${r.pgCommitsPerS} commits/s; front end ${r.frontEndCpuPct} %, instance ${r.instanceCpuPct} %` : `no client (no polls): PostgreSQL ${r.pgCpuPct} % CPU, ${r.pgRowsReadPerS} rows read/s; front end ${r.frontEndCpuPct} %, instance ${r.instanceCpuPct} %`)
  }
} finally {
  await f0.stop()
  await f1.stop()
  await pg.stop()
}

const header = ['poll interval', 'order window', 'p50 ms', 'p99 ms', 'PostgreSQL CPU', 'rows read/s', 'commits/s', 'B front end CPU', 'B CPU']
const table = [header, ...rows.map((r) => [r.pollMs === null ? 'no client' : `${r.pollMs} ms`, r.windowMs === null ? '–' : `${r.windowMs} ms`, r.p50 ?? '–', r.p99 ?? '–', `${r.pgCpuPct} %`, r.pgRowsReadPerS, r.pgCommitsPerS, `${r.frontEndCpuPct} %`, `${r.instanceCpuPct} %`])].map((r) => `| ${r.join(' | ')} |`)
table.splice(1, 0, `|${header.map(() => '---').join('|')}|`)
process.stdout.write(`\nCross-instance live latency (POST on A, SSE on B; ${rate} events/s; store of ${args['store-events']} events) on ${describeMachine(machine)}\n\n${table.join('\n')}\n\n`)
mkdirSync(dirname(args.json), { recursive: true })
writeFileSync(args.json, JSON.stringify({ machine, startedAt: new Date().toISOString(), options: args, rows, table: table.join('\n') }, null, 2) + '\n')
log(`wrote ${args.json}`)
process.exit(0)
