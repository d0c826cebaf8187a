// 6. Shutdown: time from SIGTERM to exit for a process with 100 k queued events, with
//    handleShutdown installed; file sink alone, and FerretDB + file sink (default 5 s deadline, and
//    a deadline long enough to deliver everything, which shows what bounds it).
import { fork } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { MongoClient } from 'mongodb'
import { makeEntry } from '../lib/stats.mjs'

const CHILD = fileURLToPath(new URL('./shutdown-child.mjs', import.meta.url))

export const METHOD =
  'A child process creates a logger (file sink on tmpfs; plus a MongoDB sink on the bench FerretDB), a spool on disk, and handleShutdown(logger); it logs N events in one synchronous loop ' +
  '(queued: the file sink\'s queue holds 100 000, the MongoDB sink\'s 10 000 and the rest goes to the spool), says ready, and the parent sends SIGTERM at once. ' +
  'Time = SIGTERM sent → child process exited (parent clock). Afterwards the event ids in the file, in the database and left in the spool (records after its cursor) are collected; ' +
  'lost = events of a sink neither stored by it nor left in its spool for the next start.'

const k = (n) => (n >= 1000 ? `${n / 1000} k` : String(n))

/** Ids of the bench's events in the NDJSON file and its rotated copies. */
function fileIds(file) {
  const dir = join(file, '..')
  const base = file.split('/').pop()
  const ids = new Set()
  for (const f of readdirSync(dir)) {
    if (f !== base && !f.startsWith(`${base}.`)) continue
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.includes('"bench shutdown"')) continue
      ids.add(JSON.parse(line).event_id)
    }
  }
  return ids
}

/**
 * Ids of the bench's events left in the spool for the next start, per sink kind: the records of
 * `<root>/<kind>-<hash>/<slot>/seg-*.log` at or after the slot's cursor (`cursor.json`), in the
 * documented record format `<crc32 hex> <JSON>\n`.
 */
function spoolIds(root) {
  const out = {}
  if (!existsSync(root)) return out
  for (const sinkDir of readdirSync(root)) {
    const kind = sinkDir.split('-')[0]
    const ids = (out[kind] ??= new Set())
    const sinkPath = join(root, sinkDir)
    if (!statSync(sinkPath).isDirectory()) continue
    for (const slot of readdirSync(sinkPath)) {
      const dir = join(sinkPath, slot)
      if (!statSync(dir).isDirectory()) continue
      let cursor = { segment: 0, offset: 0 }
      if (existsSync(join(dir, 'cursor.json'))) cursor = JSON.parse(readFileSync(join(dir, 'cursor.json'), 'utf8'))
      for (const seg of readdirSync(dir).filter((f) => /^seg-\d+\.log$/.test(f)).sort()) {
        const seq = Number(seg.slice(4, -4))
        if (seq < cursor.segment) continue
        let buf = readFileSync(join(dir, seg))
        if (seq === cursor.segment) buf = buf.subarray(cursor.offset)
        for (const line of buf.toString('utf8').split('\n')) {
          if (!line.includes('"bench shutdown"')) continue
          try {
            ids.add(JSON.parse(line.slice(line.indexOf(' ') + 1)).event_id)
          } catch {}
        }
      }
    }
  }
  return out
}

const unionSize = (a, b) => {
  let n = a.size
  for (const x of b) if (!a.has(x)) n++
  return n
}

function runOnce(params) {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [JSON.stringify(params)], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)))
    let sentAt = 0
    let ready
    const timer = setTimeout(() => child.kill('SIGKILL'), params.timeoutMs ? params.timeoutMs + 120_000 : 180_000)
    child.on('message', (m) => {
      if (m?.type === 'ready') {
        ready = m
        sentAt = performance.now()
        child.kill('SIGTERM')
      } else if (m?.type === 'error') reject(new Error(`shutdown child failed: ${m.message}`))
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (!sentAt) return reject(new Error(`shutdown child exited (${signal ?? code}) before it was ready:\n${stderr}`))
      resolve({ seconds: (performance.now() - sentAt) / 1000, code, signal, ready, stderr })
    })
  })
}

export async function shutdown(ctx) {
  const n = ctx.smoke ? 2000 : 100_000
  const runs = ctx.smoke ? 1 : Math.min(ctx.runs ?? 5, 3)
  const mongo = new MongoClient(ctx.services.mongoUrl)
  await mongo.connect()
  const conditions = [
    { key: 'file', label: 'file sink (tmpfs)', mongo: false, timeoutMs: undefined, runs, goal: true },
    { key: 'mongo-default', label: 'FerretDB + file sink, default 5 s deadline', mongo: true, timeoutMs: undefined, runs, goal: true },
    { key: 'mongo-all', label: 'FerretDB + file sink, deadline 300 s (deliver all)', mongo: true, timeoutMs: 300_000, runs: ctx.smoke ? 1 : 2, goal: true },
  ]
  const entries = []
  try {
    for (const c of conditions) {
      ctx.log(`shutdown: ${k(n)} queued events, ${c.label}, ${c.runs} run(s)`)
      const rs = []
      for (let r = 0; r < c.runs; r++) {
        const dir = mkdtempSync(join(tmpdir(), 'madsci-bench-shutdown-'))
        const file = join(ctx.scratch, `shutdown-${process.pid}-${c.key}-${r}.ndjson`)
        const db = `madsci_bench_shutdown_${process.pid}_${c.key.replace('-', '_')}_${r}`
        const reportPath = join(dir, 'report.json')
        try {
          await mongo.db(db).dropDatabase()
          const got = await runOnce({ n, mongoUrl: c.mongo ? ctx.services.mongoUrl : undefined, db, file, spoolDir: join(dir, 'spool'), timeoutMs: c.timeoutMs, reportPath })
          const rep = existsSync(reportPath) ? JSON.parse(readFileSync(reportPath, 'utf8')) : null
          const inFile = fileIds(file)
          const inDb = c.mongo ? new Set((await mongo.db(db).collection('events').find({ event_type: 'log_info' }, { projection: { _id: 1 } }).toArray()).map((d) => d._id)) : new Set()
          const spool = spoolIds(join(dir, 'spool'))
          // Lost per sink: events neither stored by it nor left in its spool for the next start.
          const lostFile = n - unionSize(inFile, spool.file ?? new Set())
          const lostDb = c.mongo ? n - unionSize(inDb, spool.mongodb ?? new Set()) : 0
          const spooled = c.mongo ? (spool.mongodb?.size ?? 0) : (spool.file?.size ?? 0)
          rs.push({ ...got, inFile: inFile.size, inDb: inDb.size, spooled, lost: lostFile + lostDb, report: rep?.report })
          ctx.log(`  ${got.seconds.toFixed(2)} s; file ${inFile.size}${c.mongo ? `, FerretDB ${inDb.size}, left in the spool ${spooled}` : ''}; lost ${lostFile + lostDb}; exit ${got.signal ?? got.code}`)
        } finally {
          await mongo.db(db).dropDatabase().catch(() => undefined)
          rmSync(dir, { recursive: true, force: true })
          for (const f of readdirSync(ctx.scratch)) if (f.startsWith(`shutdown-${process.pid}-${c.key}-${r}`)) rmSync(join(ctx.scratch, f), { force: true })
        }
      }
      entries.push(
        makeEntry({
          group: 'shutdown',
          name: `shutdown: SIGTERM → exit, ${k(n)} queued, ${c.label}`,
          unit: 's',
          runs: rs.map((x) => x.seconds),
          goal: { text: '≤ 2 s', on: 'median', max: 2 },
          smoke: ctx.smoke,
          extra: {
            events: n,
            deliveredToFile: rs.map((x) => x.inFile),
            deliveredToDb: c.mongo ? rs.map((x) => x.inDb) : undefined,
            leftInSpoolForNextStart: rs.map((x) => x.spooled),
            closeReports: rs.map((x) => x.report ?? null),
            lost: rs.map((x) => x.lost),
            exit: rs.map((x) => x.signal ?? x.code),
          },
          notes: c.mongo
            ? c.timeoutMs
              ? 'bounded by FerretDB: ~3 000 inserted docs/s, so 100 k need ~30 s whatever the client does'
              : 'what FerretDB has not taken within the deadline is spooled and delivered by the next start'
            : undefined,
        }),
      )
      entries.push(
        makeEntry({
          group: 'shutdown',
          name: `shutdown: events lost, ${c.label}`,
          unit: 'events',
          runs: rs.map((x) => x.lost),
          goal: { text: '0 in every run', on: 'max', max: 0 },
          smoke: ctx.smoke,
          extra: { events: n },
        }),
      )
    }
  } finally {
    await mongo.close()
  }
  return entries
}
