// 3. HTTP: our HttpStore → our server's batch route, vs the Python EventClient → the Python Event
//    Manager (one POST per event, each on its own thread), vs our HttpStore → the Python Event
//    Manager (single-POST mode). Events/s and events lost.
import { fork } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runPythonClient } from '../../scripts/lib/python-peer.mjs'
import { runChild } from '../lib/child.mjs'
import { loadCore } from '../lib/load.mjs'
import { makeEntry } from '../lib/stats.mjs'

const HTTP_CHILD = fileURLToPath(new URL('./http-child.mjs', import.meta.url))
const SERVER_CHILD = fileURLToPath(new URL('./server-child.mjs', import.meta.url))

export const METHOD =
  'Client and server are separate processes on loopback. Ours: a fresh process with createEventLogger({ eventManager: { url, mode } }), a memory queue that holds all N (no spool, no drop), ' +
  'N logger.info calls in bursts of 1 000, then flush(); events/s = N / (first call → flush resolved). Our server (createServer, its own process) stores in the same FerretDB as the Python Event Manager ' +
  '(and, for reference, in its embedded file store on tmpfs). Python: madsci-client 0.8.1 EventClient from PyPI, N client.info calls (each sends one POST /event on a new thread, as the client does), ' +
  'then every send thread is joined; events/s = N / (first call → last thread joined), timed inside Python. Lost = N − events of that run counted in the store afterwards.'

const k = (n) => (n >= 1000 ? `${n / 1000} k` : String(n))

/** Start our server in its own process; resolves with { url, count(selector), stop() }. */
function startServer(params) {
  return new Promise((resolve, reject) => {
    const child = fork(SERVER_CHILD, [JSON.stringify(params)], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)))
    const waiting = new Map()
    let seq = 0
    child.on('message', (m) => {
      if (m?.type === 'ready') {
        resolve({
          url: m.url,
          count: (selector) =>
            new Promise((res, rej) => {
              const id = ++seq
              waiting.set(id, { res, rej })
              child.send({ type: 'count', id, selector })
            }),
          stop: () =>
            new Promise((res) => {
              if (child.exitCode !== null) return res()
              child.once('exit', () => res())
              child.send({ type: 'stop' })
              setTimeout(() => child.kill('SIGKILL'), 15_000).unref()
            }),
        })
      } else if (m?.type === 'count') {
        const w = waiting.get(m.id)
        waiting.delete(m.id)
        if (m.error) w?.rej(new Error(m.error))
        else w?.res(m.value)
      } else if (m?.type === 'error') reject(new Error(`our server failed to start: ${m.message}`))
    })
    child.on('exit', (code, signal) => {
      for (const w of waiting.values()) w.rej(new Error(`our server exited (${signal ?? code})`))
      reject(new Error(`our server exited (${signal ?? code}) before it was ready:\n${stderr}`))
    })
  })
}

const PYTHON_CLIENT = `
import time
from madsci_peer import event_client, read_input, wait_for_sends, output
p = read_input()
client = event_client(name="madsci_bench")
t0 = time.perf_counter()
for i in range(p["n"]):
    client.info("bench http", run=p["run"], i=i)
wait_for_sends(timeout=600)
seconds = time.perf_counter() - t0
output({"seconds": seconds, "eventsPerSecond": p["n"] / seconds})
`

export async function http(ctx) {
  const s = ctx.services
  if (!s.python || !s.pythonEventManagerUrl) throw new Error('the HTTP benchmark needs the Python Event Manager (not started)')
  const runs = ctx.smoke ? 1 : Math.min(ctx.runs ?? 5, 3)
  const nPython = ctx.smoke ? 20 : 1000
  const nSingle = ctx.smoke ? 50 : 2000
  const nOurs = ctx.smoke ? 200 : 20_000
  // Events of a run stored by the Python Event Manager, counted through its own API (POST /events/query).
  const { HttpStore } = await loadCore()
  const pyReader = new HttpStore(s.pythonEventManagerUrl, { mode: 'single' })
  const pyCount = async (run) => (await pyReader.queryEvents({ 'event_data.run': run })).length
  const tag = `${process.pid}-${Date.now().toString(36)}`
  const oursMongo = await startServer({ backend: 'mongo', mongoUrl: s.mongoUrl, db: `madsci_bench_http_${process.pid}` })
  const oursFile = await startServer({ backend: 'file', file: join(ctx.scratch, `server-${process.pid}.ndjson`) })
  const res = { python: [], single: [], batchMongo: [], batchFile: [] }
  try {
    for (let r = 0; r < runs; r++) {
      {
        const run = `${tag}-py-${r}`
        ctx.log(`  Python EventClient → Python Event Manager: ${k(nPython)} events`)
        const got = await runPythonClient({ python: s.python, script: PYTHON_CLIENT, input: { n: nPython, run }, serverUrl: s.pythonEventManagerUrl, timeoutMs: 900_000 })
        got.lost = nPython - (await pyCount(run))
        res.python.push(got)
      }
      {
        const run = `${tag}-single-${r}`
        ctx.log(`  our HttpStore (single POST) → Python Event Manager: ${k(nSingle)} events`)
        const got = await runChild(HTTP_CHILD, { url: s.pythonEventManagerUrl, mode: 'single', n: nSingle, run }, { timeoutMs: 900_000 })
        got.lost = nSingle - (await pyCount(run))
        res.single.push(got)
      }
      for (const [key, server] of [
        ['batchMongo', oursMongo],
        ['batchFile', oursFile],
      ]) {
        const run = `${tag}-${key}-${r}`
        ctx.log(`  our HttpStore (batch) → our server (${key === 'batchMongo' ? 'FerretDB' : 'file store'}): ${k(nOurs)} events`)
        const got = await runChild(HTTP_CHILD, { url: server.url, mode: 'batch', n: nOurs, run }, { timeoutMs: 900_000 })
        got.lost = nOurs - (await server.count({ 'event_data.run': run }))
        res[key].push(got)
      }
    }
  } finally {
    await oursMongo.stop()
    await oursFile.stop()
    await pyReader.close()
  }
  const rate = (rs) => rs.map((x) => x.eventsPerSecond)
  const pyBase = { name: 'Python EventClient → Python EM', runs: rate(res.python) }
  const lostOf = (rs) => Math.max(...rs.map((x) => x.lost))
  const entries = [
    makeEntry({
      group: 'http',
      name: `HTTP: our HttpStore → our server batch route (FerretDB), ${k(nOurs)} events`,
      unit: 'events/s',
      runs: rate(res.batchMongo),
      baseline: pyBase,
      goal: { text: '≥ 100× Python client path', on: 'ratio', min: 100 },
      smoke: ctx.smoke,
      extra: { events: nOurs, lost: lostOf(res.batchMongo), baselineEvents: nPython, baselineLost: lostOf(res.python) },
    }),
    makeEntry({
      group: 'http',
      name: `HTTP: our HttpStore → our server batch route (file store, tmpfs), ${k(nOurs)} events`,
      unit: 'events/s',
      runs: rate(res.batchFile),
      baseline: pyBase,
      smoke: ctx.smoke,
      notes: 'reference: the HTTP path when the database is not the bottleneck',
      extra: { events: nOurs, lost: lostOf(res.batchFile) },
    }),
    makeEntry({
      group: 'http',
      name: `HTTP: our HttpStore (single POST) → Python Event Manager, ${k(nSingle)} events`,
      unit: 'events/s',
      runs: rate(res.single),
      baseline: pyBase,
      smoke: ctx.smoke,
      extra: { events: nSingle, lost: lostOf(res.single) },
    }),
    makeEntry({
      group: 'http',
      name: `HTTP: Python EventClient → Python Event Manager, ${k(nPython)} events`,
      unit: 'events/s',
      runs: rate(res.python),
      smoke: ctx.smoke,
      extra: { events: nPython, lost: lostOf(res.python) },
    }),
  ]
  for (const [key, label, n] of [
    ['batchMongo', 'our HttpStore → our server (FerretDB)', nOurs],
    ['batchFile', 'our HttpStore → our server (file store)', nOurs],
    ['single', 'our HttpStore (single POST) → Python EM', nSingle],
    ['python', 'Python EventClient → Python EM', nPython],
  ]) {
    entries.push(
      makeEntry({
        group: 'http',
        name: `HTTP: events lost, ${label}`,
        unit: 'events',
        runs: res[key].map((x) => x.lost),
        goal: key === 'python' ? undefined : { text: '0 in every run', on: 'max', max: 0 },
        smoke: ctx.smoke,
        extra: { events: n },
        notes: key === 'python' ? 'the Python client drops an event whose POST fails' : undefined,
      }),
    )
  }
  return entries
}
