// Logging cost with an alert notifier that is down, slow or failing, in a fresh process: the same
// measurement as the hot path (N calls in bursts of 1000 with a yield, then flush; main-thread busy
// time per call), with every 10th call an ERROR (an alert). Storm control is off, so every alert
// is queued for the notifier: the worst case for the notifier's queue and retries.
import { performance } from 'node:perf_hooks'
import { childParams, failChild, sendResult, tick } from '../lib/child.mjs'
import { loadAlertDispatcher, loadCore } from '../lib/load.mjs'
import { CountingSink } from '../lib/sinks.mjs'

function notifierSpec(p) {
  const email = { type: 'email', smtp_server: '127.0.0.1', use_tls: false, sender: 'bench@example.com', email_addresses: ['ops@example.com'] }
  switch (p.notifier) {
    case 'smtp-down':
      return { ...email, smtp_port: p.refusedPort }
    case 'smtp-slow':
      return { ...email, smtp_port: p.smtpSlowPort }
    case 'webhook-500':
      return { type: 'webhook', url: p.webhookUrl }
    default:
      throw new Error(`unknown notifier condition ${p.notifier}`)
  }
}

async function run(logger, n, burst) {
  global.gc?.()
  await tick()
  const e0 = performance.eventLoopUtilization()
  const t0 = performance.now()
  for (let done = 0; done < n; ) {
    const m = Math.min(burst, n - done)
    for (let j = 0; j < m; j++, done++) {
      if (done % 10 === 0) logger.error('bench alert: pressure out of range', { i: done })
      else logger.info('bench alert: reading', { i: done })
    }
    await tick()
  }
  // Until the sink has every event. (Not logger.flush(): it also waits for the notifiers to send or
  // give up on every alert, which with a slow or dead peer takes minutes.)
  for (;;) {
    const s = logger.stats()
    if (s.queueDepth === 0 && s.inFlight === 0) break
    await new Promise((r) => setTimeout(r, 1))
  }
  const wall = performance.now() - t0
  const elu = performance.eventLoopUtilization(e0)
  return { activeNs: (elu.active * 1e6) / n, wallNs: (wall * 1e6) / n }
}

async function measure(p, notifierName) {
  const { createEventLogger } = await loadCore()
  let dispatcher
  let logger
  if (notifierName !== 'none') {
    const createAlertDispatcher = await loadAlertDispatcher()
    dispatcher = createAlertDispatcher({ notifiers: [notifierSpec({ ...p, notifier: notifierName })], storm: false }, { log: (event) => logger?.log(event) })
  }
  const sink = new CountingSink()
  logger = createEventLogger({ sinks: [sink], spool: false, consumers: dispatcher ? [dispatcher] : [], onWarning: () => {}, env: {} })
  await run(logger, p.warmup, 1000)
  const r = await run(logger, p.n, 1000)
  const st = dispatcher?.stats()
  const notifier = st ? Object.values(st.notifiers)[0] : undefined
  const s = logger.stats()
  // Not measured: give up on what the notifier still holds.
  await logger.close({ timeoutMs: 200 }).catch(() => undefined)
  return {
    ...r,
    delivered: s.delivered,
    dropped: Object.values(s.dropped).reduce((a, b) => a + b, 0),
    alerts: st?.alerts,
    notifier: notifier && {
      sent: notifier.sent,
      failed: notifier.failed,
      retried: notifier.retried,
      queueDepth: notifier.queueDepth,
      inFlight: notifier.inFlight,
      droppedOverflow: notifier.droppedOverflow,
    },
  }
}

// `notifiers`: normally one condition per process; the smoke run puts them all in one.
try {
  const p = childParams()
  await tick()
  const results = {}
  for (const n of p.notifiers) results[n] = await measure(p, n)
  await sendResult(results)
  process.exit(0)
} catch (err) {
  failChild(err)
}
