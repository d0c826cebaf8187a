// A logging process for the shutdown benchmark: file sink (and a MongoDB sink), spool, and
// handleShutdown(logger). It logs N events in one synchronous loop, so they are queued (memory
// queue, then the spool for what the MongoDB queue cannot hold), reports "ready", and waits for
// the parent's SIGTERM. handleShutdown closes the logger within `timeoutMs` (what is not delivered
// by then is spooled for the next start) and re-raises the signal; the close report is written to
// `reportPath` just before.
import { writeFileSync } from 'node:fs'
import { childParams, failChild } from '../lib/child.mjs'
import { loadCore } from '../lib/load.mjs'

try {
  const p = childParams()
  const { createEventLogger, handleShutdown } = await loadCore()
  const logger = createEventLogger({
    ...(p.mongoUrl ? { mongodb: { url: p.mongoUrl, database: p.db } } : {}),
    file: { path: p.file },
    spool: p.spoolDir,
    onWarning: () => {},
    env: {},
  })
  handleShutdown(logger, {
    ...(p.timeoutMs ? { timeoutMs: p.timeoutMs } : {}),
    onClose: (report) => {
      const s = logger.stats()
      writeFileSync(p.reportPath, JSON.stringify({ report, closedAt: Date.now(), sinks: s.sinks.map((x) => ({ sink: x.sink, delivered: x.delivered, spooled: x.spooled, dropped: x.dropped })) }))
    },
  })
  for (let i = 0; i < p.n; i++) logger.info('bench shutdown', { i })
  const s = logger.stats()
  process.send({ type: 'ready', queueDepth: s.queueDepth, spooled: s.spooled, delivered: s.delivered })
} catch (err) {
  failChild(err)
}
