// 5. Memory: RSS growth while 1 M events are logged with the store down, spool on and off
//    (spool off: bounded queue with drop-oldest; drops reported); 7. at 10 k, 100 k and 1 M.
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { runChild } from '../lib/child.mjs'
import { makeEntry } from '../lib/stats.mjs'

const CHILD = fileURLToPath(new URL('./memory-child.mjs', import.meta.url))

export const METHOD =
  'One fresh process (node --expose-gc) per run and condition. The store is down: "refusing" is a MongoDB URL on a closed port (connection refused; the driver gives up after 5 s and the pipeline retries with backoff), ' +
  '"stalled" is an HTTP Event Manager URL whose server accepts connections and never answers (10 s request timeout). Logger defaults otherwise: memory queue of 10 000 events / 16 MiB per sink; ' +
  'spool on = overflow to an on-disk spool (os.tmpdir()); spool off = drop-oldest. Warm-up of 1 000 events and a full GC, then RSS is the base; N calls in bursts of 1 000 with a yield, RSS sampled after each burst. ' +
  'Growth = peak RSS − base (garbage not yet collected counts: it is memory the process holds). Also reported: growth after a final full GC, drops, events spooled.'

const k = (n) => (n >= 1_000_000 ? `${n / 1_000_000} M` : n >= 1000 ? `${n / 1000} k` : String(n))

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

export async function memory(ctx) {
  const stalled = createServer((socket) => socket.on('data', () => {}).on('error', () => {}))
  const stalledPort = await listen(stalled)
  const closed = createServer()
  const refusedPort = await listen(closed)
  await new Promise((r) => closed.close(r))
  const entries = []
  const headline = ctx.smoke ? 5000 : 1_000_000
  const runs = ctx.smoke ? 1 : Math.min(ctx.runs ?? 5, 3)
  const goal = { text: '≤ 64 MB', on: 'median', max: 64 }
  try {
    const plan = [
      ...(ctx.smoke ? [] : [10_000, 100_000].map((n) => ({ n, sink: 'refused-mongo', group: 'scaling' }))),
      { n: headline, sink: 'refused-mongo', group: 'memory' },
      { n: headline, sink: 'stalled-http', group: 'memory' },
    ]
    for (const { n, sink, group } of plan) {
      for (const spool of [true, false]) {
        ctx.log(`memory: ${k(n)} events, store ${sink === 'refused-mongo' ? 'refusing (MongoDB)' : 'stalled (HTTP)'}, spool ${spool ? 'on' : 'off'}, ${runs} run(s)`)
        const rs = []
        for (let r = 0; r < runs; r++) {
          rs.push(await runChild(CHILD, { n, spool, sink, port: sink === 'refused-mongo' ? refusedPort : stalledPort }, { timeoutMs: 600_000 }))
        }
        const label = `${sink === 'refused-mongo' ? 'store refusing (MongoDB)' : 'store stalled (HTTP)'}, spool ${spool ? 'on' : 'off (drop-oldest)'}`
        entries.push(
          makeEntry({
            group,
            name: `${group === 'scaling' ? 'scaling: ' : ''}memory: RSS growth, ${k(n)} events, ${label}`,
            unit: 'MB',
            runs: rs.map((x) => x.growthMB),
            goal,
            smoke: ctx.smoke,
            extra: {
              events: n,
              baseRssMB: Math.round(rs[0].baseMB),
              growthAfterGcMB: rs.map((x) => Math.round(x.afterGcGrowthMB * 10) / 10),
              dropped: rs.map((x) => x.dropped),
              spooled: rs.map((x) => x.spooled),
              spoolOnDiskMB: rs.map((x) => Math.round(x.spoolPendingMB)),
              heapAfterGcMB: rs.map((x) => Math.round(x.afterGc.heapUsedMB * 10) / 10),
              loggingSeconds: rs.map((x) => Math.round(x.seconds * 100) / 100),
            },
            notes: spool ? `spooled ${rs[0].spooled} events to disk` : `dropped ${rs[0].dropped} events (drop-oldest), as configured`,
          }),
        )
      }
    }
  } finally {
    stalled.close()
  }
  return [...entries.filter((e) => e.group === 'memory'), ...entries.filter((e) => e.group !== 'memory')]
}
