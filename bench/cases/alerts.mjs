// 8a. Alerts (issue 6): logging cost with SMTP down, SMTP slow and a webhook answering 500,
//     against the same logger with no notifier.
import { createServer as createHttpServer } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { runChild } from '../lib/child.mjs'
import { loadAlertDispatcher } from '../lib/load.mjs'
import { makeEntry, unavailable } from '../lib/stats.mjs'

const CHILD = fileURLToPath(new URL('./alerts-child.mjs', import.meta.url))

export const METHOD =
  'As the hot path (fresh process per run, N calls in bursts of 1 000 with a yield, then flush; main-thread busy time per call), null sink, every 10th call an ERROR (an alert), ' +
  'alerts from createAlertDispatcher with storm control off (every alert is queued for the notifier: the worst case for its bounded queue and retries). ' +
  'SMTP down: a closed port (connection refused). SMTP slow: a real SMTP server (smtp-server) that waits 2 s before answering MAIL FROM and after DATA. Webhook 500: a local HTTP server answering 500 to everything. ' +
  'Baseline: the same logger and calls with no notifier. The notifiers work on the same thread, so their work during the run counts.'

export async function alerts(ctx) {
  const goal = { text: '≤ 1.2× no notifier', on: 'ratio', max: 1.2 }
  if (!(await loadAlertDispatcher())) {
    return ['SMTP down', 'SMTP slow', 'webhook 500'].map((c) =>
      unavailable({ group: 'alerts', name: `alerts: logging with ${c}`, reason: 'not available: createAlertDispatcher (src/notify, issue 6) is not in this build', goal: goal.text }),
    )
  }
  const { SMTPServer } = await import('smtp-server')
  const slow = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onMailFrom(_address, _session, cb) {
      setTimeout(cb, 2000)
    },
    onData(stream, _session, cb) {
      stream.resume()
      stream.on('end', () => setTimeout(cb, 2000))
    },
  })
  await new Promise((r) => slow.listen(0, '127.0.0.1', r))
  const smtpSlowPort = slow.server.address().port
  const hook = createHttpServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.statusCode = 500
      res.end('internal error (bench)')
    })
  })
  await new Promise((r) => hook.listen(0, '127.0.0.1', r))
  const webhookUrl = `http://127.0.0.1:${hook.address().port}/hook`
  const closed = createNetServer()
  await new Promise((r) => closed.listen(0, '127.0.0.1', r))
  const refusedPort = closed.address().port
  await new Promise((r) => closed.close(r))

  const n = ctx.smoke ? 2000 : 100_000
  const runs = ctx.smoke ? 1 : ctx.runs ?? 5
  const conds = ['none', 'smtp-down', 'smtp-slow', 'webhook-500']
  const res = Object.fromEntries(conds.map((c) => [c, []]))
  try {
    ctx.log(`alerts: ${n} calls (every 10th an alert), ${runs} run(s) per condition`)
    for (let r = 0; r < runs; r++) {
      for (const group of ctx.smoke ? [conds] : conds.map((c) => [c])) {
        const got = await runChild(CHILD, { notifiers: group, n, warmup: ctx.smoke ? 200 : 10_000, refusedPort, smtpSlowPort, webhookUrl }, { timeoutMs: 300_000 })
        for (const c of group) res[c].push(got[c])
      }
    }
  } finally {
    slow.close(() => {})
    hook.close()
    hook.closeAllConnections?.()
  }
  const labels = { 'smtp-down': 'SMTP down (refused)', 'smtp-slow': 'SMTP slow (2 s per step)', 'webhook-500': 'webhook answering 500' }
  const base = { name: 'same logger, no notifier', runs: res.none.map((x) => x.activeNs) }
  return ['smtp-down', 'smtp-slow', 'webhook-500'].map((c) =>
    makeEntry({
      group: 'alerts',
      name: `alerts: logging cost with ${labels[c]}`,
      unit: 'ns/call',
      runs: res[c].map((x) => x.activeNs),
      baseline: base,
      goal,
      smoke: ctx.smoke,
      extra: {
        calls: n,
        alertsPerRun: res[c][0]?.alerts,
        eventsDelivered: res[c].map((x) => x.delivered),
        eventsDropped: res[c].map((x) => x.dropped),
        notifierAtEnd: res[c].map((x) => x.notifier),
      },
    }),
  )
}
