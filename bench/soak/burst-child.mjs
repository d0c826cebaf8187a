// The 10× burst: a logger → MongoStore at its measured steady rate, then ten times that rate for
// `burstMs`, in a fresh process so RSS is its own. Samples RSS, heap and the queue every 100 ms.
import { loadCore } from '../lib/load.mjs'

const p = JSON.parse(process.argv[2])
const { createEventLogger } = await loadCore()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const logger = createEventLogger({
  mongodb: { url: p.mongoUrl, database: p.database },
  spool: p.spool ?? false,
  overflow: p.overflow,
  queue: { maxEvents: p.maxQueue },
  env: {},
  onWarning: () => {},
})
logger.on('error', () => {})
const samples = []
let maxDepth = 0
const sample = (phase) => {
  const s = logger.stats()
  maxDepth = Math.max(maxDepth, s.queueDepth)
  const m = process.memoryUsage()
  samples.push({ phase, t: Date.now(), rss: m.rss, heap: m.heapUsed, depth: s.queueDepth, delivered: s.delivered, dropped: s.dropped, spooled: s.spooled })
}
// Log `rate` events/s for `ms`, in 10 ms slices.
async function pace(rate, ms, phase) {
  const start = Date.now()
  let sent = 0
  let lastSample = 0
  while (Date.now() - start < ms) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate)
    for (; sent < due; sent++) logger.info('burst', { phase, seq: sent, pad: 'x'.repeat(p.padBytes ?? 100) })
    if (Date.now() - lastSample >= 100) {
      sample(phase)
      lastSample = Date.now()
    }
    await sleep(10)
  }
  return sent
}
global.gc?.()
// 1. The steady rate: what the store takes, measured with everything logged at once in slices.
let measured = p.steadyRate
if (!measured) {
  const t0 = Date.now()
  for (let i = 0; i < p.calibrate; i++) logger.info('calibrate', { i, pad: 'x'.repeat(p.padBytes ?? 100) })
  await logger.flush()
  measured = Math.round(p.calibrate / ((Date.now() - t0) / 1000))
}
global.gc?.()
const base = await pace(measured, p.steadyMs, 'steady')
await logger.flush({ timeoutMs: 60_000 }).catch(() => {})
global.gc?.()
const rssSteady = process.memoryUsage().rss
const deliveredBefore = logger.stats().delivered
// 2. The burst.
const burst = await pace(measured * 10, p.burstMs, 'burst')
const atBurstEnd = logger.stats()
// 3. Recovery: back to nothing, let it drain.
let drained = true
await logger.flush({ timeoutMs: p.drainMs ?? 120_000 }).catch(() => (drained = false))
sample('drained')
const end = logger.stats()
const report = await logger.close({ timeoutMs: 5000 })
const peakRss = Math.max(...samples.map((s) => s.rss))
const peakHeap = Math.max(...samples.map((s) => s.heap))
process.send({
  type: 'result',
  value: {
    overflow: p.overflow,
    steadyRate: measured,
    steadyEvents: base,
    burstRate: measured * 10,
    burstEvents: burst,
    maxQueue: p.maxQueue,
    maxDepth,
    rssSteadyMB: rssSteady / 2 ** 20,
    peakRssMB: peakRss / 2 ** 20,
    peakHeapMB: peakHeap / 2 ** 20,
    atBurstEnd: { delivered: atBurstEnd.delivered - deliveredBefore, dropped: atBurstEnd.dropped, spooled: atBurstEnd.spooled, depth: atBurstEnd.queueDepth },
    end: { accepted: end.accepted, delivered: end.delivered, dropped: end.dropped, spooled: end.spooled, replayed: end.replayed },
    drained,
    report,
  },
})
process.disconnect()
