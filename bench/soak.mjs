#!/usr/bin/env node
// The reliability soak (issue 9): long fault runs that do not belong in the test suite.
//
//   npm run soak -- [--only db,kill,burst,scale] [--events 100000] [--db-kills 5] [--rounds 50]
//                   [--burst-ms 5000,15000] [--fsync interval|always|never] [--json bench/results/soak.json]
//                   [--scale-seconds 30] [--scale-rate 300] [--throughput-seconds 6]
//   npm run soak -- --render [--json F]     (the table of an earlier run, measuring nothing)
//
// (a) db:    FerretDB SIGKILLed and restarted --db-kills times while --events events stream in through
//            createEventLogger → MongoStore (spool on); every event counted by _id in the database.
// (b) kill:  the logging process (spool mode `always`, fsync --fsync) SIGKILLed at a random point,
//            --rounds times, each life replaying what the previous one left; afterwards every event
//            that was in the spool's file at the last report before a kill must be in the store.
// (c) burst: a logger → MongoStore at its measured steady rate, then 10× that rate for each of --burst-ms
//            (two lengths show whether memory follows the burst),
//            with drop-oldest and with spool: memory bounded, the policy respected, drops counted.
// (d) scale: 3 serve instances over 2 FerretDB front ends on one PostgreSQL (bench/lib/scale-out.mjs):
//            3 loggers given the three URLs at --scale-rate events/s each for --scale-seconds, the Python
//            EventClient on two single instances, an SSE and a WebSocket client per instance; a serve
//            instance and a front end SIGKILLed and restarted; every event counted by id in the store
//            and per live client. Then ingest throughput through 1 and through 3 instances on the same
//            store, with the store's raw insertMany rate as the ceiling (--throughput-seconds each, twice).
//
// Running only some cases keeps the other cases' figures of the earlier JSON.
//
// Builds the package into bench/.build first (as `npm run bench` does) and uses a private FerretDB
// (or MONGODB_URL). Prints a table and writes the figures to bench/results/soak.json.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { MongoClient } from 'mongodb'
import { buildForBench } from './lib/build.mjs'
import { runChild } from './lib/child.mjs'
import { loadCore } from './lib/load.mjs'
import { describeMachine, machineInfo } from './lib/machine.mjs'
import { startReceiver } from './soak/receiver.mjs'
import { ensureFerretDB, startFerretDB } from '../scripts/lib/ferretdb.mjs'
import { startCluster } from '../scripts/lib/cluster.mjs'
import { ensurePythonPeer, runPythonClient } from '../scripts/lib/python-peer.mjs'
import { buildFile } from './lib/load.mjs'
import { measureIngest, measureRawInsert, runScaleOut } from './lib/scale-out.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'db,kill,burst,scale' },
    'scale-seconds': { type: 'string', default: '30' },
    'scale-rate': { type: 'string', default: '300' },
    'throughput-seconds': { type: 'string', default: '6' },
    events: { type: 'string', default: '100000' },
    'db-kills': { type: 'string', default: '5' },
    rounds: { type: 'string', default: '50' },
    'burst-ms': { type: 'string', default: '5000,15000' },
    fsync: { type: 'string', default: 'interval' },
    json: { type: 'string', default: join(HERE, 'results', 'soak.json') },
    // Only print the table of an earlier run's JSON (--json), measuring nothing.
    render: { type: 'boolean', default: false },
  },
})
const only = new Set(args.only.split(','))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const log = (...a) => process.stderr.write(`soak: ${a.join(' ')}\n`)
const mb = (x) => Math.round(x * 10) / 10

const started = Date.now()
let createEventLogger
let core
let binary
let results
if (args.render) results = JSON.parse(readFileSync(args.json, 'utf8'))
else {
  log('building the package into bench/.build ...')
  await buildForBench()
  core = await loadCore()
  ;({ createEventLogger } = core)
  binary = await ensureFerretDB({ quiet: true })
  results = { machine: machineInfo(), startedAt: new Date().toISOString(), options: args, db: undefined, kill: undefined, burst: undefined, scale: undefined }
  // Cases not run now keep their figures from the earlier JSON (each has its own machine and time there).
  if (existsSync(args.json)) {
    const earlier = JSON.parse(readFileSync(args.json, 'utf8'))
    for (const k of ['db', 'kill', 'burst', 'scale']) {
      if (only.has(k) || !earlier[k]) continue
      // (burst is a list of runs: kept as it is; the run's machine stays in `earlierMachine`.)
      results[k] = Array.isArray(earlier[k]) ? earlier[k] : { ...earlier[k], machine: earlier[k].machine ?? earlier.machine, startedAt: earlier[k].startedAt ?? earlier.startedAt }
      results.earlierMachine ??= earlier.earlierMachine ?? earlier.machine
    }
  }
}
const machine = results.machine

// ---------------------------------------------------------------------------------------- (a)
async function soakDatabase() {
  const total = Number(args.events)
  const kills = Number(args['db-kills'])
  const db = await startFerretDB({ binary, timeoutMs: 60_000 })
  const spool = mkdtempSync(join(tmpdir(), 'madsci-soak-db-'))
  try {
    const database = 'soak'
    const logger = createEventLogger({
      mongodb: { url: db.url, database, clientOptions: { serverSelectionTimeoutMS: 1000 } },
      spool,
      retry: { baseMs: 50, maxMs: 1000 },
      env: {},
      onWarning: () => {},
    })
    let errors = 0
    logger.on('error', () => errors++)
    const killAt = Array.from({ length: kills }, (_, k) => Math.floor(((k + 1) * total) / (kills + 1)))
    const downtimes = []
    const ids = new Set()
    const t0 = Date.now()
    for (let i = 0; i < total; i++) {
      ids.add(logger.info('soak', { i }))
      if (i % 1000 === 999) await sleep(10)
      if (killAt.includes(i)) {
        const at = i
        await db.kill('SIGKILL')
        const down = Date.now()
        // Keep logging while it is down (counted in `total` by the loop going on).
        for (let k = 0; k < 20; k++) {
          for (let j = 0; j < 100 && i < total - 1; j++) ids.add(logger.info('soak', { i: ++i, down: true }))
          await sleep(100)
        }
        await db.restart()
        downtimes.push(Date.now() - down)
        log(`(a) FerretDB killed at event ${at}, down ${Date.now() - down} ms`)
      }
    }
    const loggedMs = Date.now() - t0
    await logger.flush({ timeoutMs: 600_000 })
    const deliveredMs = Date.now() - t0
    const stats = logger.stats()
    await logger.close()
    const client = await MongoClient.connect(db.url)
    let docs
    let countInDb
    try {
      const col = client.db(database).collection('events')
      countInDb = await col.countDocuments({})
      docs = await col.find({}, { projection: { _id: 1 } }).toArray()
    } finally {
      await client.close()
    }
    const stored = docs.map((d) => String(d._id))
    const unique = new Set(stored)
    let lost = 0
    // Where the lost events are, as ranges of their logging order.
    const missing = []
    let k = 0
    for (const id of ids) {
      if (!unique.has(id)) {
        lost++
        const last = missing[missing.length - 1]
        if (last && last[1] === k - 1) last[1] = k
        else missing.push([k, k])
      }
      k++
    }
    return {
      what: `FerretDB SIGKILLed and restarted ${kills} times while ${total} events stream in (createEventLogger → MongoStore, spool on)`,
      sent: ids.size,
      stored: [...unique].filter((id) => ids.has(id)).length,
      duplicated: stored.length - unique.size,
      lost,
      missingRanges: missing.slice(0, 50),
      countInDb,
      delivered: stats.delivered,
      accepted: stats.accepted,
      dropped: Object.values(stats.dropped).reduce((a, b) => a + b, 0),
      ownEvents: stored.length - [...unique].filter((id) => ids.has(id)).length,
      kills,
      downtimeMs: downtimes,
      retried: stats.retried,
      spooled: stats.spooled,
      replayed: stats.replayed,
      errorsReported: errors,
      loggedMs,
      deliveredMs,
    }
  } finally {
    await db.stop()
    rmSync(spool, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------- (b)
async function soakKill() {
  const rounds = Number(args.rounds)
  const rx = await startReceiver()
  const spool = mkdtempSync(join(tmpdir(), 'madsci-soak-kill-'))
  const child = join(HERE, 'soak', 'logger-child.mjs')
  const perRound = []
  let from = 0
  try {
    for (let round = 0; round < rounds; round++) {
      let last = { logged: 0, written: 0 }
      let ready = false
      const chunk = 50
      const killAfter = 150 + Math.floor(Math.random() * 1200)
      const run = runChild(child, { url: rx.url, spool, from, round, chunk, intervalMs: 10, fsync: args.fsync }, {
        timeoutMs: 60_000,
        onMessage: (m, proc) => {
          if (m.type === 'ready' && !ready) {
            ready = true
            setTimeout(() => proc.kill('SIGKILL'), killAfter)
          } else if (m.type === 'progress') last = m
        },
      }).catch((err) => err)
      const end = await run
      if (!(end instanceof Error) || !/SIGKILL/.test(end.message)) throw new Error(`round ${round}: the child did not die by SIGKILL: ${end?.message ?? JSON.stringify(end)}`)
      perRound.push({ round, from, killAfterMs: killAfter, loggedReported: last.logged, writtenReported: Math.max(0, last.written) })
      // The next life numbers its events after everything this one may have logged (one chunk past its last report, at most).
      from += last.logged + chunk * 2
    }
    // A last, clean life delivers what the last kill left in the spool.
    const drain = await runChild(child, { url: rx.url, spool, drain: true, fsync: args.fsync }, { timeoutMs: 120_000 })
    // Check each round: every event in the spool file at the last report is stored.
    const bySeq = new Set()
    for (const d of rx.events.values()) if (typeof d?.seq === 'number') bySeq.add(d.seq)
    let acknowledged = 0
    let missingAcknowledged = 0
    let atRisk = 0
    let lostAtRisk = 0
    let storedTotal = 0
    const windows = []
    for (const r of perRound) {
      let roundStored = 0
      let maxStored = -1
      for (let s = r.from; s < r.from + r.loggedReported + 100; s++) {
        if (bySeq.has(s)) {
          roundStored++
          maxStored = s - r.from
        }
      }
      storedTotal += roundStored
      // `written` is this life's own events in the spool file (replayed records are read, not appended again).
      const ack = Math.min(r.writtenReported, r.loggedReported)
      acknowledged += ack
      for (let s = r.from; s < r.from + ack; s++) if (!bySeq.has(s)) missingAcknowledged++
      const risk = Math.max(0, r.loggedReported - ack)
      atRisk += risk
      for (let s = r.from + ack; s < r.from + r.loggedReported; s++) if (!bySeq.has(s)) lostAtRisk++
      windows.push(Math.max(0, maxStored + 1 - ack))
      r.stored = roundStored
    }
    const sortedWin = [...windows].sort((a, b) => a - b)
    return {
      what: `the logging process (spool mode always, fsync ${args.fsync}) SIGKILLed at a random point 150–1350 ms into each of ${rounds} lives, logging 5 000 events/s; each life replays the previous one's spool`,
      rounds,
      sent: perRound.reduce((a, r) => a + r.loggedReported, 0),
      sentNote: 'events logged up to each life\'s last progress report (a life may log up to one more chunk of 50 after it; those are counted when stored)',
      acknowledgedAsSpooled: acknowledged,
      missingAcknowledged,
      stored: storedTotal,
      // The receiver keeps one copy per event_id, as MongoDB's unique _id does; what a crash makes
      // the next life send again is counted here and absorbed by the id.
      storedCopies: rx.events.size,
      redelivered: rx.duplicates,
      atRiskAtKill: atRisk,
      lostAtRisk,
      storedBeyondAckMedian: sortedWin[Math.floor(sortedWin.length / 2)] ?? 0,
      drainReport: drain.report,
      drainDropped: drain.stats.dropped,
      torn: drain.stats.sinks[0].spool?.torn ?? 0,
    }
  } finally {
    await rx.close()
    rmSync(spool, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------- (c)
async function soakBurst() {
  const db = await startFerretDB({ binary, timeoutMs: 60_000 })
  const spool = mkdtempSync(join(tmpdir(), 'madsci-soak-burst-'))
  const child = join(HERE, 'soak', 'burst-child.mjs')
  const out = []
  try {
    let steadyRate
    for (const [overflow, burstMs] of ['drop-oldest', 'spool'].flatMap((o) => args['burst-ms'].split(',').map((ms) => [o, Number(ms)]))) {
      log(`(c) ${burstMs} ms burst with overflow ${overflow} ...`)
      const database = `burst_${overflow.replace('-', '_')}_${burstMs}`
      const r = await runChild(
        child,
        {
          mongoUrl: db.url,
          database,
          overflow,
          spool: overflow === 'spool' ? join(spool, overflow) : false,
          maxQueue: 10_000,
          calibrate: 20_000,
          steadyRate,
          steadyMs: 3000,
          burstMs,
          drainMs: 400_000,
        },
        { timeoutMs: 600_000 },
      )
      steadyRate ??= r.steadyRate
      r.burstMs = burstMs
      const client = await MongoClient.connect(db.url)
      try {
        // Every stored event by what it carries (phase, seq), not by _id: the same event stored twice would show here.
        const col = client.db(database).collection('events')
        const seen = new Set()
        let docs = 0
        r.dropReports = 0
        for await (const d of col.find({}, { projection: { event_type: 1, 'event_data.phase': 1, 'event_data.seq': 1, 'event_data.i': 1 } })) {
          if (d.event_type === 'log_error') {
            r.dropReports++
            continue
          }
          docs++
          seen.add(`${d.event_data?.phase ?? 'calibrate'}:${d.event_data?.seq ?? d.event_data?.i}`)
        }
        r.storedInDb = docs
        r.duplicatedInDb = docs - seen.size
      } finally {
        await client.close()
      }
      delete r.stderr
      out.push(r)
    }
  } finally {
    await db.stop()
    rmSync(spool, { recursive: true, force: true })
  }
  return out
}

if (!args.render && only.has('db')) {
  log(`(a) ${args.events} events, FerretDB SIGKILLed ${args['db-kills']} times ...`)
  results.db = await soakDatabase()
}
if (!args.render && only.has('kill')) {
  log(`(b) ${args.rounds} lives of the logging process, each SIGKILLed ...`)
  results.kill = await soakKill()
}
if (!args.render && only.has('burst')) results.burst = await soakBurst()
if (!args.render && only.has('scale')) {
  log(`(d) scale-out: 3 serve instances, 2 FerretDB front ends, PostgreSQL; ${args['scale-seconds']} s ...`)
  results.scale = await soakScale()
}
if (!args.render) results.durationS = Math.round((Date.now() - started) / 1000)

// ---------------------------------------------------------------------------------------- (d)
async function soakScale() {
  const seconds = Number(args['scale-seconds'])
  const tput = Number(args['throughput-seconds'])
  const peer = await ensurePythonPeer({ log: (m) => log(`(d) ${m}`) })
  const settings = { live_poll_interval_ms: 250 }
  const cluster = await startCluster({ serverModule: buildFile('server.js'), binary, settings, log: (m) => log(`(d) ${m}`) })
  try {
    const run = await runScaleOut({
      cluster,
      createEventLogger,
      python: { python: peer.python, runPythonClient },
      producers: 3,
      ratePerProducer: Number(args['scale-rate']),
      durationMs: seconds * 1000,
      pythonEvents: Math.max(30, seconds * 5),
      downMs: 2000,
      log: (m) => log(`(d) ${m}`),
    })
    log('(d) throughput: the store\'s raw insert rate, then ingest through 1 and through 3 instances ...')
    // The ceiling: the driver's insertMany through one front end (500 documents, 6 at once), as the ingest runs below send.
    const raw = await measureRawInsert({ mongoUrl: cluster.frontEnds[0].url, database: cluster.database, seconds: tput })
    // Alternated, twice each (the collection grows as they run); the better of the two is reported, both are kept.
    const ingest = (urls) => measureIngest({ HttpStore: core.HttpStore, parseEvent: core.parseEvent, urls, seconds: tput })
    const runs = { one: [], three: [] }
    for (let k = 0; k < 2; k++) {
      runs.one.push(await ingest([cluster.urls[0]]))
      runs.three.push(await ingest(cluster.urls))
    }
    const mid = (list) => Math.max(...list.map((r) => r.perSecond))
    const one = { perSecond: mid(runs.one), runs: runs.one }
    const three = { perSecond: mid(runs.three), runs: runs.three }
    return {
      what: `3 serve instances over 2 FerretDB front ends on one PostgreSQL 15; 3 loggers × ${args['scale-rate']}/s given the three URLs for ${seconds} s, the Python EventClient on 2 single instances, SSE + WebSocket clients on each instance (poll every ${settings.live_poll_interval_ms} ms); serve instance 0 and front end 1 SIGKILLed and restarted`,
      machine: machineInfo(),
      startedAt: new Date().toISOString(),
      ...run,
      throughput: { rawInsert: raw, oneInstance: one, threeInstances: three, ratio3to1: Math.round((three.perSecond / one.perSecond) * 100) / 100 },
    }
  } finally {
    await cluster.stop()
  }
}

// ---------------------------------------------------------------------------------------- report
const rows = []
if (results.db) {
  const d = results.db
  rows.push([`(a) FerretDB SIGKILLed ×${d.kills} mid-stream`, d.sent, d.stored, d.duplicated, `${d.dropped} dropped, ${d.lost} lost`, d.lost === 0 && d.duplicated === 0 ? 'met' : 'NOT MET', `retried ${d.retried}, spooled ${d.spooled}, down ${d.downtimeMs.join('/')} ms, delivered in ${(d.deliveredMs / 1000).toFixed(1)} s`])
}
if (results.kill) {
  const k = results.kill
  rows.push([`(b) logging process SIGKILLed ×${k.rounds}`, k.sent, k.stored, `0 of ${k.storedCopies} (${k.redelivered} re-sent, absorbed by id)`, k.lostAtRisk, k.missingAcknowledged === 0 ? 'met' : 'NOT MET', `${k.acknowledgedAsSpooled} acknowledged as spooled, ${k.missingAcknowledged} of them missing; ${k.atRiskAtKill} logged but not yet in the file at the last report, ${k.lostAtRisk} of those lost; ${k.redelivered} re-sent after a kill and absorbed by id`])
}
for (const b of results.burst ?? []) {
  const drops = Object.entries(b.end.dropped).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'
  const dropped = Object.values(b.end.dropped).reduce((a, c) => a + c, 0)
  // Every accepted event (the drop reports are accepted events too) is stored or counted as dropped.
  b.accountedFor = b.storedInDb + b.dropReports + dropped === b.end.accepted
  // With the spool the only drops allowed are those of a full spool (spool.maxBytes, 1 GiB by default).
  const ok = b.accountedFor && b.duplicatedInDb === 0 && b.maxDepth <= b.maxQueue && (b.overflow === 'spool' ? Object.keys(b.end.dropped).every((k) => k === 'spool_full') && b.drained : true)
  rows.push([
    `(c) 10× burst for ${b.burstMs / 1000} s, overflow ${b.overflow}`,
    b.end.accepted,
    b.storedInDb,
    b.duplicatedInDb,
    dropped,
    ok ? 'met' : 'NOT MET',
    `steady ${b.steadyRate}/s, burst target ${b.burstRate}/s for ${b.burstMs} ms (achieved ${Math.round(b.burstEvents / (b.burstMs / 1000))}/s, ${b.burstEvents} events); delivered ${b.end.delivered} (with ${b.dropReports} drop reports); queue max ${b.maxDepth}/${b.maxQueue}; RSS ${mb(b.rssSteadyMB)} → peak ${mb(b.peakRssMB)} MB, heap peak ${mb(b.peakHeapMB)} MB; drops: ${drops}`,
  ])
}
if (results.scale) {
  const s = results.scale
  const resumed = s.live.filter((c) => c.resumes > 0)
  const steady = s.live.filter((c) => c.resumes === 0)
  const liveOk = s.live.every((c) => c.missing === 0 && c.unexpected === 0 && c.duplicates <= c.beforeResumePoint) && steady.every((c) => c.duplicates === 0 && c.outOfOrder === 0)
  const ok = s.store.lost === 0 && s.store.duplicatedByContent === 0 && s.store.notSent === 0 && liveOk
  const t = s.throughput
  rows.push([
    '(d) scale-out: 3 serve over 2 FerretDB on PostgreSQL, a serve instance and a front end SIGKILLed',
    s.store.sent,
    s.store.stored,
    s.store.duplicatedByContent,
    `${s.dropped} dropped, ${s.store.lost} lost`,
    ok ? 'met' : 'NOT MET',
    `${s.live.length} live clients: ${steady.length} that stayed up got every event once, in order (${steady.map((c) => c.outOfOrder).reduce((a, b) => a + b, 0)} out of order); ${resumed.length} resumed after the kill (${resumed.map((c) => `${c.client}: ${c.resumes} reconnects, ${c.missing} missing, ${c.duplicates} repeated`).join('; ')}); per instance ${s.perInstance.map((i) => `${i.events} events/${i.failures} failed requests`).join(', ')}; ingest ${t.oneInstance.perSecond}/s through 1 instance, ${t.threeInstances.perSecond}/s through 3 (×${t.ratio3to1}), store's raw insertMany ${t.rawInsert.perSecond}/s`,
  ])
}
const header = ['soak', 'sent', 'stored', 'duplicated', 'dropped/lost', 'goal', 'details']
const table = [header, ...rows].map((r) => `| ${r.join(' | ')} |`)
table.splice(1, 0, `|${header.map(() => '---').join('|')}|`)
process.stdout.write(`\nSoak on ${describeMachine(machine)}, ${results.durationS} s\n\n${table.join('\n')}\n\n`)
results.table = table.join('\n')
mkdirSync(dirname(args.json), { recursive: true })
writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n')
log(`wrote ${args.json}`)
process.exit(0)
