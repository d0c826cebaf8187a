// One hot-path measurement in a fresh process: `n` logging calls in bursts of `burst`, with a
// yield (setImmediate) after each burst so the pipeline cuts and writes batches on the main thread
// between bursts, then a flush. Reported per call:
// - active: main-thread busy time (performance.eventLoopUtilization().active) over the calls, the
//   yields and the flush: the call itself plus whatever the pipeline later spends on the main
//   thread (batching, serializing, writing); idle waits for the disk or a worker are not counted;
// - wall: elapsed time for the same span;
// - sync: time inside the bursts only (the calls themselves).
import { once } from 'node:events'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import pino from 'pino'
import { childParams, failChild, sendResult, tick } from '../lib/child.mjs'
import { loadCore, TRANSPORT_TARGET } from '../lib/load.mjs'
import { CountingSink } from '../lib/sinks.mjs'

const DATA = { step: 3, sample: 'A1' }

async function setup(p, cond) {
  const file = join(p.dir, `hotpath-${process.pid}-${cond}.ndjson`)
  switch (cond) {
    case 'pino-devnull': {
      // pino.destination(path) is SonicBoom with sync: false, minLength 0 (pino's default).
      const dest = pino.destination('/dev/null')
      const logger = pino(dest)
      return {
        call: p.data ? () => logger.info(DATA, 'msg') : () => logger.info('msg'),
        flush: () => new Promise((r) => dest.flush(() => r())),
        close: () => dest.end(),
      }
    }
    case 'ours-null':
    case 'ours-file': {
      const { createEventLogger } = await loadCore()
      const sink = new CountingSink()
      const logger =
        cond === 'ours-null'
          ? createEventLogger({ sinks: [sink], spool: false, onWarning: () => {}, env: {} })
          : createEventLogger({ file: { path: file, maxBytes: 10 * 1024 * 1024 }, spool: false, onWarning: () => {}, env: {} })
      return {
        call: p.data ? () => logger.info('msg', DATA) : () => logger.info('msg'),
        flush: () => logger.flush(),
        close: () => logger.close(),
        stats: () => {
          const s = logger.stats()
          return { accepted: s.accepted, delivered: s.delivered, dropped: s.dropped }
        },
      }
    }
    case 'transport-file': {
      const transport = pino.transport({ target: TRANSPORT_TARGET, options: { file: { path: file, maxBytes: 10 * 1024 * 1024 }, spool: false } })
      // pino(transport) first: it sends the transport its config (levels, message key), which the
      // transport waits for before it reports ready.
      const logger = pino(transport)
      await once(transport, 'ready')
      return {
        call: p.data ? () => logger.info(DATA, 'msg') : () => logger.info('msg'),
        // ThreadStream.flush: resolves when the worker has read everything written so far.
        flush: () => new Promise((r) => transport.flush(() => r())),
        // pino's exit path: blocks until the worker has closed its pipeline. (The worker is
        // unref'd, so waiting for 'close' would leave nothing keeping the event loop alive.)
        close: () => transport.end(),
      }
    }
    default:
      throw new Error(`unknown hot-path condition ${cond}`)
  }
}

async function run(target, n, burst) {
  global.gc?.()
  await tick()
  const e0 = performance.eventLoopUtilization()
  const t0 = performance.now()
  let sync = 0
  for (let done = 0; done < n; ) {
    const m = Math.min(burst, n - done)
    const s = performance.now()
    for (let j = 0; j < m; j++) target.call()
    sync += performance.now() - s
    done += m
    await tick()
  }
  await target.flush()
  const wall = performance.now() - t0
  const elu = performance.eventLoopUtilization(e0)
  return { activeNs: (elu.active * 1e6) / n, wallNs: (wall * 1e6) / n, syncNs: (sync * 1e6) / n }
}

// `conds`: normally one condition per process; the smoke run puts them all in one process.
try {
  const p = childParams()
  await tick() // ELU counts from the event loop's start: measure inside it
  const results = {}
  for (const cond of p.conds) {
    const target = await setup(p, cond)
    await run(target, p.warmup, p.burst)
    const r = await run(target, p.n, p.burst)
    const stats = target.stats?.()
    await target.close?.()
    results[cond] = { ...r, stats }
  }
  await sendResult(results)
  process.exit(0)
} catch (err) {
  failChild(err)
}
