// The scale-out run, shared by `npm run soak -- --only scale` and test/server/scale-out-postgres.test.ts:
// serve instances over FerretDB front ends on one PostgreSQL (scripts/lib/cluster.mjs), producers
// through createEventLogger given every instance's URL and the Python EventClient pointed at single
// instances, SSE and WebSocket clients on every instance, and during the run one serve instance
// and one FerretDB front end SIGKILLed and restarted. Everything is counted by event id.
import { request } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import WebSocket from 'ws'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * A live-stream client (SSE or WebSocket) that resumes after a disconnect, as a browser's
 * EventSource does: it reconnects with its last event id, to the next URL of `urls` (one URL:
 * the same instance, retried until it is back).
 */
export class LiveClient {
  /** @type {Array<{ id: string, producer: string | undefined, at: number, conn: number }>} */
  events = []
  resumes = 0
  /** Per connection, the last id it resumed from. */
  resumedFrom = [undefined]
  live = false
  #kind
  #urls
  #at = 0
  #closed = false
  #conn = undefined
  #liveWaiters = []
  name

  constructor(kind, urls, name) {
    this.#kind = kind
    this.#urls = urls
    this.name = name
  }

  get lastId() {
    return this.events.at(-1)?.id
  }

  get url() {
    return this.#urls[this.#at]
  }

  /** Connect; resolves once the server said the stream is live. */
  start() {
    this.#connect()
    return new Promise((resolve) => this.#liveWaiters.push(resolve))
  }

  #onLive() {
    this.live = true
    for (const w of this.#liveWaiters.splice(0)) w()
  }

  #onEvent(event) {
    this.events.push({ id: event._id, producer: event.event_data?.producer, at: Date.now(), conn: this.resumes })
  }

  #dropped() {
    if (this.#closed) return
    this.#conn = undefined
    this.live = false
    this.#at = (this.#at + 1) % this.#urls.length
    setTimeout(() => {
      if (this.#closed) return
      this.resumes++
      this.resumedFrom.push(this.lastId)
      this.#connect()
    }, 200)
  }

  #connect() {
    const base = this.#urls[this.#at]
    const last = this.lastId
    let gone = false
    const drop = () => {
      if (gone) return
      gone = true
      this.#dropped()
    }
    if (this.#kind === 'sse') {
      const req = request(`${base}/events/stream`, { headers: { accept: 'text/event-stream', ...(last ? { 'last-event-id': last } : {}) }, agent: false }, (res) => {
        if (res.statusCode !== 200) {
          res.resume()
          drop()
          return
        }
        let buf = ''
        res.setEncoding('utf8')
        res.on('data', (chunk) => {
          buf += chunk
          let i
          while ((i = buf.indexOf('\n\n')) !== -1) {
            const frame = buf.slice(0, i)
            buf = buf.slice(i + 2)
            let data
            for (const line of frame.split('\n')) {
              if (line === ': live') this.#onLive()
              else if (line.startsWith('data: ')) data = line.slice(6)
            }
            if (data !== undefined) this.#onEvent(JSON.parse(data))
          }
        })
        res.on('close', drop)
        res.on('error', drop)
      })
      req.on('error', drop)
      req.end()
      this.#conn = { close: () => req.destroy() }
    } else {
      const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/events/ws${last ? `?last_event_id=${encodeURIComponent(last)}` : ''}`)
      ws.on('message', (data) => {
        const m = JSON.parse(String(data))
        if (m.type === 'live') this.#onLive()
        else if (m.type === 'event') this.#onEvent(m.event)
      })
      ws.on('close', drop)
      ws.on('error', () => {
        ws.terminate()
        drop()
      })
      this.#conn = { close: () => ws.terminate() }
    }
  }

  close() {
    this.#closed = true
    this.#conn?.close()
  }

  /**
   * Against the ids that should have arrived (`expected`: id → producer): missing, received twice,
   * not in the store at all (`stored`), and per producer (one source each) how often an id came,
   * the first time, after a greater one. Events a resumed connection got from before the id it
   * resumed from are counted apart (`beforeResumePoint`): the instance resumed on cannot know
   * which of those the client had, and sends them (see adapters/server/live.ts).
   */
  check(expected, orderedProducers, stored) {
    const seen = new Map()
    let duplicates = 0
    let unexpected = 0
    let outOfOrder = 0
    let beforeResumePoint = 0
    const top = new Map()
    for (const e of this.events) {
      const from = this.resumedFrom[e.conn]
      if (from !== undefined && e.id < from) beforeResumePoint++
      if (seen.has(e.id)) {
        duplicates++
        continue
      }
      seen.set(e.id, e)
      if (!stored.has(e.id)) unexpected++
      if (from !== undefined && e.id < from) continue
      const p = expected.get(e.id)
      if (p !== undefined && orderedProducers.has(p)) {
        const t = top.get(p)
        if (t !== undefined && e.id < t) outOfOrder++
        else top.set(p, e.id)
      }
    }
    const missingIds = [...expected.keys()].filter((id) => !seen.has(id))
    // Resent after a resume: a client dropping repeated ids sees each once.
    return { client: this.name, live: this.live, lastAt: this.events.at(-1)?.at, received: this.events.length, missing: missingIds.length, duplicates, unexpected, outOfOrder, beforeResumePoint, resumes: this.resumes, missingIds: missingIds.slice(0, 5) }
  }
}

const PYTHON_PRODUCER = `
import time
from madsci.common.types.event_types import Event, EventType
from madsci_peer import event_client, output, read_input, wait_for_sends
inp = read_input()
c = event_client(name=inp["name"])
ids = []
for i in range(inp["count"]):
    e = Event(event_type=EventType.LOG_INFO, event_data={"producer": inp["name"], "seq": i})
    c.log(e)
    ids.append(e.event_id)
    time.sleep(inp["interval"])
wait_for_sends(60)
output(ids)
`

/**
 * Run the scenario on a started cluster (scripts/lib/cluster.mjs).
 * @param {{
 *   cluster: any, createEventLogger: Function, python?: { python: string, runPythonClient: Function },
 *   producers?: number, ratePerProducer?: number, durationMs?: number,
 *   pythonEvents?: number, killServe?: number, killFrontEnd?: number, downMs?: number,
 *   maxInFlight?: number, log?: (msg: string) => void, settleMs?: number,
 * }} options
 */
export async function runScaleOut({
  cluster,
  createEventLogger,
  python,
  producers = 3,
  ratePerProducer = 300,
  durationMs = 8000,
  pythonEvents = 60,
  killServe = 0,
  killFrontEnd = 1,
  downMs = 1500,
  maxInFlight = 1,
  log = () => {},
  settleMs = 30_000,
}) {
  const { servers, urls } = cluster
  const n = servers.length
  const clients = []
  for (let i = 0; i < n; i++) {
    // SSE: back to the same instance (as a browser's EventSource); WebSocket: on to the next instance.
    clients.push(new LiveClient('sse', [urls[i]], `sse@${i}`))
    clients.push(new LiveClient('ws', [urls[i], urls[(i + 1) % n]], `ws@${i}`))
  }
  await Promise.all(clients.map((c) => c.start()))
  log(`${clients.length} live clients connected`)

  const spools = mkdtempSync(join(tmpdir(), 'madsci-scale-spool-'))
  const expected = new Map()
  const loggers = []
  for (let k = 0; k < producers; k++) {
    const logger = createEventLogger({
      eventManager: { url: urls, timeoutMs: 5000 },
      spool: join(spools, `p${k}`),
      env: {},
      level: 'DEBUG',
      batch: { maxInFlight, flushIntervalMs: 50 },
      retry: { baseMs: 50, maxMs: 1000 },
      onWarning: () => {},
    })
    let errors = 0
    logger.on('error', () => errors++)
    loggers.push({ logger, name: `node-${k}`, seq: 0, errors: () => errors })
  }

  // Warm-up: each instance switches its live streams to the shared-store order when a poll first
  // finds another instance's event (before that it sends its own at once). What it sent just before
  // may be out of order, once per instance life; the counted run starts after every client has the
  // warm-up events from every producer.
  const warm = []
  for (let round = 0; round < n; round++) {
    // One batch per round: each producer's batches go round-robin, so every instance ingests some.
    for (const p of loggers) for (let i = 0; i < 10; i++) warm.push(p.logger.info('warm-up', { producer: `warm-up-${p.name}`, seq: round * 10 + i }))
    await Promise.all(loggers.map((p) => p.logger.flush({ timeoutMs: 60_000 })))
  }
  const warmDeadline = Date.now() + 30_000
  while (Date.now() < warmDeadline && !clients.every((c) => hasAll(c, warm))) await sleep(100)
  for (const c of clients) {
    c.events.length = 0
    c.resumedFrom = c.resumedFrom.map(() => undefined)
  }
  const warmIds = new Set(warm)

  const faults = []
  const started = Date.now()
  const killAndRestart = async (at, target, what) => {
    await sleep(Math.max(0, started + durationMs * at - Date.now()))
    const t = Date.now()
    await target.kill('SIGKILL')
    log(`${what} SIGKILLed`)
    await sleep(downMs)
    await target.restart()
    faults.push({ what: `${what} SIGKILLed, restarted on its port`, atMs: t - started, downMs: Date.now() - t })
    log(`${what} back after ${Date.now() - t} ms`)
  }
  const schedule = () =>
    Promise.all([
      killServe === undefined || killServe === null ? undefined : killAndRestart(0.3, servers[killServe], `serve instance ${killServe}`),
      killFrontEnd === undefined || killFrontEnd === null ? undefined : killAndRestart(0.6, cluster.frontEnds[killFrontEnd], `FerretDB front end ${killFrontEnd}`),
    ])
  const faultsDone = schedule()

  // The Python EventClient (no buffer, no retry beyond urllib3's) on the instances that are not
  // killed, spread over the run; one on the instance whose front end is killed (the server queues
  // what it accepts until its database returns).
  const pyTargets = [...Array(n).keys()].filter((i) => i !== killServe).slice(0, 2)
  const pyRuns = python
    ? pyTargets.map((i, k) =>
        python.runPythonClient({ python: python.python, script: PYTHON_PRODUCER, serverUrl: urls[i], input: { name: `py-${k}`, count: pythonEvents, interval: durationMs / 1000 / pythonEvents }, timeoutMs: durationMs + 120_000 }).then((ids) => {
          for (const id of ids) expected.set(id, `py-${k}`)
          return ids.length
        }),
      )
    : []

  const tick = 20
  const perTick = Math.max(1, Math.round((ratePerProducer * tick) / 1000))
  while (Date.now() - started < durationMs) {
    for (const p of loggers) {
      for (let j = 0; j < perTick; j++) {
        const id = p.logger.info('scale-out', { producer: p.name, seq: p.seq++ })
        expected.set(id, p.name)
      }
    }
    await sleep(tick)
  }
  const producedMs = Date.now() - started
  await faultsDone
  faults.sort((a, b) => a.atMs - b.atMs)
  const flushStart = Date.now()
  await Promise.all(loggers.map((p) => p.logger.flush({ timeoutMs: 120_000 })))
  const loggerStats = loggers.map((p) => ({ name: p.name, errors: p.errors(), ...p.logger.stats() }))
  await Promise.all(loggers.map((p) => p.logger.close()))
  const pythonSent = await Promise.all(pyRuns)
  log(`produced ${expected.size} events in ${producedMs} ms, all flushed ${Date.now() - flushStart} ms later`)
  rmSync(spools, { recursive: true, force: true })

  // The store, counted by id (and by producer + seq: a second copy under another id would show there).
  const mongo = await MongoClient.connect(cluster.frontEnds[0].url, { serverSelectionTimeoutMS: 20_000 })
  let stored
  try {
    stored = await mongo.db(cluster.database).collection('events').find({}, { projection: { _id: 1, 'event_data.producer': 1, 'event_data.seq': 1 } }).toArray()
  } finally {
    await mongo.close()
  }
  const storedIds = new Set(stored.map((d) => String(d._id)))
  const byContent = new Set(stored.map((d) => `${d.event_data?.producer}:${d.event_data?.seq}`))
  let lostFromStore = 0
  for (const id of expected.keys()) if (!storedIds.has(id)) lostFromStore++
  const store = {
    sent: expected.size,
    stored: [...expected.keys()].filter((id) => storedIds.has(id)).length,
    lost: lostFromStore,
    documents: stored.length,
    duplicatedByContent: stored.length - byContent.size,
    notSent: stored.filter((d) => !expected.has(String(d._id)) && !warmIds.has(String(d._id))).length,
  }

  // Live clients: wait until each has everything the store has (or the settle time passes).
  const deadline = Date.now() + settleMs
  const want = [...expected.keys()].filter((id) => storedIds.has(id))
  const settleStart = Date.now()
  let settled = false
  while (!settled && Date.now() < deadline) {
    settled = clients.every((c) => c.live && hasAll(c, want))
    if (!settled) await sleep(250)
  }
  log(`live clients ${settled ? 'had everything' : 'still lacked events'} ${Date.now() - settleStart} ms after the store did`)
  const ordered = new Set(loggers.map((p) => p.name))
  const live = clients.map((c) => c.check(new Map([...expected].filter(([id]) => storedIds.has(id))), ordered, storedIds))
  for (const c of clients) c.close()
  const instances = loggerStats[0]?.sinks[0]?.instances ?? []
  const result = {
    durationMs: producedMs,
    liveSettled: settled,
    liveSettleMs: Date.now() - settleStart,
    producers,
    ratePerProducer,
    maxInFlight,
    pythonSent,
    faults,
    store,
    live,
    perInstance: mergeInstances(loggerStats.map((s) => s.sinks[0]?.instances ?? [])),
    instancesSeen: instances.length,
    batchLatencyMs: loggerStats.map((s) => s.sinks[0]?.batchLatencyMs),
    spooled: loggerStats.reduce((a, s) => a + (s.sinks[0]?.spooled ?? 0), 0),
    retried: loggerStats.reduce((a, s) => a + s.retried, 0),
    dropped: loggerStats.reduce((a, s) => a + Object.values(s.dropped).reduce((x, y) => x + y, 0), 0),
    errors: loggerStats.reduce((a, s) => a + s.errors, 0),
  }
  // The clients' raw sequences, for a closer look (not part of the figures).
  Object.defineProperty(result, 'clients', { value: clients, enumerable: false })
  return result
}

function hasAll(client, ids) {
  const got = new Set(client.events.map((e) => e.id))
  return ids.every((id) => got.has(id))
}

function mergeInstances(lists) {
  const out = new Map()
  for (const list of lists) {
    for (const x of list) {
      const o = out.get(x.name) ?? { name: x.name, requests: 0, events: 0, failures: 0 }
      o.requests += x.requests
      o.events += x.events
      o.failures += x.failures
      out.set(x.name, o)
    }
  }
  return [...out.values()]
}

/**
 * Sustained ingest through `HttpStore(urls)` (spreading over the instances): `concurrency` writers
 * each sending `batchSize`-event batches for `seconds`; events stored per second.
 */
export async function measureIngest({ HttpStore, parseEvent, urls, seconds = 5, concurrency = 6, batchSize = 500 }) {
  // `batch`: no discovery (`GET /health`, which counts the whole collection on each instance: on
  // FerretDB with tens of thousands of events that took seconds and would be measured here).
  const store = new HttpStore(urls, { timeoutMs: 30_000, connections: concurrency, mode: 'batch' })
  await store.open()
  let seq = 0
  const batch = () =>
    Array.from({ length: batchSize }, () => parseEvent({ event_type: 'log_info', log_level: 20, event_data: { producer: 'ingest', seq: seq++, msg: 'throughput' } }))
  let delivered = 0
  const t0 = Date.now()
  const end = t0 + seconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        // Not `delivered += await ...`: that reads the sum before the await and drops the other writers' counts.
        const r = await store.write(batch())
        delivered += r.delivered
      }
    }),
  )
  const ms = Date.now() - t0
  await store.close()
  return { events: delivered, ms, perSecond: Math.round((delivered / ms) * 1000) }
}

/** The store's own rate: driver insertMany (ordered: false) of `batchSize` documents, `concurrency` at once, for `seconds`. */
export async function measureRawInsert({ mongoUrl, database, seconds = 5, concurrency = 6, batchSize = 500 }) {
  const client = await MongoClient.connect(mongoUrl)
  try {
    const col = client.db(database).collection('raw_insert')
    let seq = 0
    const doc = () => ({ _id: `raw-${process.pid}-${seq++}`, event_type: 'log_info', log_level: 20, alert: false, event_timestamp: new Date().toISOString(), source: {}, event_data: { producer: 'raw', seq, msg: 'throughput' } })
    await col.insertOne(doc())
    let inserted = 0
    const t0 = Date.now()
    const end = t0 + seconds * 1000
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < end) {
          const r = await col.insertMany(Array.from({ length: batchSize }, doc), { ordered: false })
          inserted += r.insertedCount
        }
      }),
    )
    const ms = Date.now() - t0
    await col.drop().catch(() => undefined)
    return { events: inserted, ms, perSecond: Math.round((inserted / ms) * 1000) }
  } finally {
    await client.close()
  }
}
