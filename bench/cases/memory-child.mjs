// Memory while the store is down, in a fresh process: N logger.info calls in bursts of 1000 with a
// yield, the sink refusing (MongoDB URL of a closed port) or stalled (an HTTP server that accepts
// and never answers), the spool on (overflow to disk) or off (bounded memory queue, drop-oldest).
// RSS is sampled after every burst; growth = peak RSS − RSS after the logger was created and warmed
// up (1000 events, then a full GC).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { childParams, failChild, sendResult, sleep, tick } from '../lib/child.mjs'
import { loadCore } from '../lib/load.mjs'

try {
  const p = childParams()
  const { createEventLogger } = await loadCore()
  const spoolDir = p.spool ? mkdtempSync(join(tmpdir(), 'madsci-bench-memspool-')) : undefined
  const sink = p.sink === 'refused-mongo' ? { mongodb: { url: `mongodb://127.0.0.1:${p.port}/`, database: 'madsci_bench_down' } } : { eventManager: { url: `http://127.0.0.1:${p.port}`, mode: 'batch' } }
  const logger = createEventLogger({ ...sink, spool: spoolDir ?? false, onWarning: () => {}, saveOnExit: false, env: {} })
  let errors = 0
  logger.on('error', () => errors++)
  for (let i = 0; i < 1000; i++) logger.info('bench memory warm-up', { i })
  await tick()
  global.gc()
  await sleep(100)
  global.gc()
  const base = process.memoryUsage().rss
  let peak = base
  const t0 = performance.now()
  for (let i = 0; i < p.n; ) {
    const m = Math.min(1000, p.n - i)
    for (let j = 0; j < m; j++, i++) logger.info('bench memory', { i, step: 'transfer', sample: 'A1' })
    await tick()
    const rss = process.memoryUsage().rss
    if (rss > peak) peak = rss
  }
  const seconds = (performance.now() - t0) / 1000
  global.gc()
  await sleep(200)
  global.gc()
  const mu = process.memoryUsage()
  const afterGc = mu.rss
  const s = logger.stats()
  const sinkStats = s.sinks[0]
  await sendResult({
    baseMB: base / 2 ** 20,
    peakMB: peak / 2 ** 20,
    growthMB: (peak - base) / 2 ** 20,
    afterGcGrowthMB: (afterGc - base) / 2 ** 20,
    afterGc: { heapUsedMB: mu.heapUsed / 2 ** 20, heapTotalMB: mu.heapTotal / 2 ** 20, externalMB: mu.external / 2 ** 20, arrayBuffersMB: mu.arrayBuffers / 2 ** 20 },
    seconds,
    accepted: s.accepted,
    delivered: s.delivered,
    spooled: s.spooled,
    dropped: Object.values(s.dropped).reduce((a, b) => a + b, 0),
    droppedBy: s.dropped,
    queueDepth: s.queueDepth,
    spoolPendingMB: sinkStats?.spool ? sinkStats.spool.pendingBytes / 2 ** 20 : 0,
    errors,
  })
  if (spoolDir) rmSync(spoolDir, { recursive: true, force: true })
  process.exit(0)
} catch (err) {
  failChild(err)
}
