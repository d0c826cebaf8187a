// One HTTP sink run in a fresh process: our logger with an Event Manager sink (HttpStore) in
// `batch` mode (our server's POST /events/batch) or `single` mode (one POST /event per event, what
// the Python Event Manager offers), N calls in bursts of 1000, then flush().
// The memory queue holds all N (no spool, no drop), so the figure is the HTTP path's own rate.
import { performance } from 'node:perf_hooks'
import { childParams, failChild, sendResult, tick } from '../lib/child.mjs'
import { loadCore } from '../lib/load.mjs'

try {
  const p = childParams()
  const { createEventLogger } = await loadCore()
  const logger = createEventLogger({
    eventManager: { url: p.url, mode: p.mode },
    spool: false,
    queue: { maxEvents: p.n + 1000, maxBytes: 1024 * 1024 * 1024 },
    onWarning: () => {},
    env: {},
  })
  const t0 = performance.now()
  for (let i = 0; i < p.n; ) {
    const m = Math.min(1000, p.n - i)
    for (let j = 0; j < m; j++, i++) logger.info('bench http', { run: p.run, i })
    await tick()
  }
  await logger.flush()
  const seconds = (performance.now() - t0) / 1000
  const s = logger.stats()
  await logger.close()
  await sendResult({ seconds, eventsPerSecond: p.n / seconds, delivered: s.delivered, failed: s.failed, retried: s.retried, dropped: s.dropped })
  process.exit(0)
} catch (err) {
  failChild(err)
}
