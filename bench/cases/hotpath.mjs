// 1. Hot path: our logger.info vs pino's logger.info to /dev/null vs the pino transport's
//    main-thread cost; and 7. how the per-call cost grows from 10 k to 1 M calls.
import { fileURLToPath } from 'node:url'
import { runChild } from '../lib/child.mjs'
import { makeEntry } from '../lib/stats.mjs'

const CHILD = fileURLToPath(new URL('./hotpath-child.mjs', import.meta.url))

export const METHOD =
  'Each run is a fresh process: warm-up, then N calls in bursts of 1 000 with a setImmediate yield after each burst (so batches are cut and written between bursts, as in a real program), then a flush. ' +
  'Cost per call = main-thread busy time over the calls, the yields and the flush (performance.eventLoopUtilization().active) / N: the call plus everything the pipeline later does on the main thread; ' +
  'idle waits for the disk or a worker thread are not counted. Conditions alternate run by run. The null sink (counts batches, stores nothing) is the baseline condition for the logger\'s own cost; ' +
  'the file sink writes NDJSON to tmpfs (/dev/shm); the transport is pino → madsci-events/transport → the same file sink (worker-thread work is not main-thread cost). pino.destination("/dev/null") is SonicBoom with sync: false (pino\'s default).'

const CONDITIONS = {
  'pino-devnull': 'pino logger.info → /dev/null',
  'ours-null': 'our logger.info → null sink (baseline condition)',
  'ours-file': 'our logger.info → file sink (tmpfs)',
  'transport-file': 'pino → madsci transport → file sink (main thread)',
}

async function measure(ctx, conds, { n, data, runs }) {
  const out = Object.fromEntries(conds.map((c) => [c, []]))
  const warmup = ctx.smoke ? 200 : Math.min(20_000, Math.max(2000, Math.floor(n / 5)))
  // One process per condition and run (the smoke run: one process for all, it only checks that it works).
  const groups = ctx.smoke ? [conds] : conds.map((c) => [c])
  for (let r = 0; r < runs; r++) {
    for (const group of groups) {
      const res = await runChild(CHILD, { conds: group, n, data, burst: 1000, warmup, dir: ctx.scratch }, { timeoutMs: 300_000 })
      for (const cond of group) {
        out[cond].push(res[cond])
        const dropped = res[cond].stats ? Object.values(res[cond].stats.dropped).reduce((a, b) => a + b, 0) : 0
        if (dropped > 0) ctx.log(`  note: ${cond} dropped ${dropped} events (queue overflow) at n=${n}`)
      }
    }
  }
  return out
}

const k = (n) => (n >= 1_000_000 ? `${n / 1_000_000} M` : n >= 1000 ? `${n / 1000} k` : String(n))

export async function hotpath(ctx) {
  const entries = []
  const runs = ctx.smoke ? 1 : ctx.runs ?? 5
  const n = ctx.smoke ? 2000 : 100_000
  const goal = { text: '≤ 1.5× pino', on: 'ratio', max: 1.5 }
  const conds = Object.keys(CONDITIONS)
  for (const data of [false, true]) {
    ctx.log(`hot path: ${k(n)} calls${data ? ' with a data object' : ''}, ${runs} run(s) per condition`)
    const res = await measure(ctx, conds, { n, data, runs })
    const call = data ? "info('msg', {step, sample})" : "info('msg')"
    const base = { name: `pino ${data ? "info({step, sample}, 'msg')" : "info('msg')"} → /dev/null`, runs: res['pino-devnull'].map((r) => r.activeNs) }
    for (const cond of ['ours-null', 'ours-file', 'transport-file']) {
      const rs = res[cond]
      const name =
        cond === 'transport-file'
          ? `hot path: pino ${data ? "info({step, sample}, 'msg')" : "info('msg')"} → madsci transport (main thread)`
          : `hot path: our ${call} → ${cond === 'ours-null' ? 'null sink (baseline condition)' : 'file sink (tmpfs)'}`
      entries.push(
        makeEntry({
          group: 'hot path',
          name,
          unit: 'ns/call',
          runs: rs.map((r) => r.activeNs),
          baseline: base,
          goal: cond === 'transport-file' ? undefined : goal,
          smoke: ctx.smoke,
          extra: {
            calls: n,
            wallNsPerCall: median(rs.map((r) => r.wallNs)),
            syncNsPerCall: median(rs.map((r) => r.syncNs)),
            baselineSyncNsPerCall: median(res['pino-devnull'].map((r) => r.syncNs)),
            dropped: rs[0]?.stats ? Math.max(...rs.map((r) => Object.values(r.stats.dropped).reduce((a, b) => a + b, 0))) : undefined,
          },
          notes: cond === 'transport-file' ? 'informational: the worker thread does the rest' : undefined,
        }),
      )
      if (!data && cond === 'ours-null') ctx.hotpathBase = res
    }
  }

  // 7. Scaling: per-call cost at 10 k, 100 k and 1 M calls.
  const scales = ctx.smoke ? [200, 2000] : [10_000, 100_000, 1_000_000]
  const scaleRuns = ctx.smoke ? 1 : Math.min(runs, 3)
  const perScale = {}
  for (const s of scales) {
    if (s === n && ctx.hotpathBase) {
      perScale[s] = ctx.hotpathBase
      continue
    }
    ctx.log(`hot path scaling: ${k(s)} calls, ${scaleRuns} run(s) per condition`)
    perScale[s] = await measure(ctx, conds, { n: s, data: false, runs: scaleRuns })
  }
  for (const cond of conds) {
    const first = perScale[scales[0]][cond].map((r) => r.activeNs)
    for (const s of scales) {
      entries.push(
        makeEntry({
          group: 'scaling',
          name: `scaling: ${CONDITIONS[cond]}, ${k(s)} calls`,
          unit: 'ns/call',
          runs: perScale[s][cond].map((r) => r.activeNs),
          baseline: s === scales[0] ? undefined : { name: `same at ${k(scales[0])} calls`, runs: first },
          smoke: ctx.smoke,
          extra: { calls: s },
          notes: s === scales[0] ? undefined : 'ratio = per-call cost relative to the smallest volume (1.0 = flat)',
        }),
      )
    }
  }
  return entries
}

function median(v) {
  const s = v.filter(Number.isFinite).sort((a, b) => a - b)
  if (!s.length) return null
  const m = s.length >> 1
  return Math.round(s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2)
}
