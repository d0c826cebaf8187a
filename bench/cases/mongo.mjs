// 2. MongoDB throughput: our logger → MongoStore → the server, against raw insertMany of
//    1000-event batches on the same server (the ceiling); events lost; and 7. scaling 1×/10×/100×.
import { fileURLToPath } from 'node:url'
import { runChild } from '../lib/child.mjs'
import { makeEntry } from '../lib/stats.mjs'

const CHILD = fileURLToPath(new URL('./mongo-child.mjs', import.meta.url))

export const METHOD =
  'Fresh process and fresh database per run. Ours: createEventLogger({ mongodb }) with its defaults (memory queue of 10 000, spool on disk for the overflow, batches of 1 000, 4 in flight), ' +
  'N logger.info calls in bursts of 1 000 with a yield, then flush(); events/s = N / (first call → flush resolved). Ceiling: the same documents (as MongoStore stores them), built before the clock starts, ' +
  'insertMany({ ordered: false }) in batches of 1 000 into a collection with the same four indexes, one batch at a time and 4 at once; the faster of the two (by median) is the ceiling. ' +
  'Runs alternate ours / raw. Lost = N − events counted in the database afterwards (event_id is _id, so an event cannot be stored twice).'

const k = (n) => (n >= 1_000_000 ? `${n / 1_000_000} M` : n >= 1000 ? `${n / 1000} k` : String(n))

async function measure(ctx, n, runs) {
  const res = { ours: [], 'raw-seq': [], 'raw-par': [] }
  for (let r = 0; r < runs; r++) {
    for (const mode of ['ours', 'raw-seq', 'raw-par']) {
      const db = `madsci_bench_mongo_${process.pid}_${mode.replace('-', '_')}_${r}`
      const got = await runChild(CHILD, { mode, n, url: ctx.services.mongoUrl, db }, { timeoutMs: Math.max(120_000, n * 5) })
      res[mode].push(got)
      ctx.log(`  ${mode} ${k(n)}: ${Math.round(got.eventsPerSecond)} events/s${got.lost ? `, LOST ${got.lost}` : ''}`)
    }
  }
  return res
}

export async function mongo(ctx) {
  const entries = []
  const base = ctx.smoke ? 200 : 1000
  const plan = ctx.smoke
    ? [{ n: base, runs: 1 }]
    : [
        { n: base, runs: ctx.runs ?? 5 },
        { n: base * 10, runs: ctx.runs ?? 5 },
        { n: base * 100, runs: 2 },
        ...(ctx.full ? [{ n: base * 1000, runs: 1 }] : []),
      ]
  const headline = ctx.smoke ? base : base * 10
  for (const { n, runs } of plan) {
    ctx.log(`mongo throughput: ${k(n)} events, ${runs} run(s) per condition on ${ctx.services.mongoDescription}`)
    const res = await measure(ctx, n, runs)
    const med = (rs) => {
      const v = rs.map((r) => r.eventsPerSecond).sort((a, b) => a - b)
      return v[v.length >> 1]
    }
    const ceilingMode = med(res['raw-par']) > med(res['raw-seq']) ? 'raw-par' : 'raw-seq'
    const lost = Math.max(...res.ours.map((r) => r.lost))
    const ratioRuns = res.ours.map((r, i) => r.eventsPerSecond / res[ceilingMode][i].eventsPerSecond)
    entries.push(
      makeEntry({
        group: n === headline ? 'mongodb' : 'scaling',
        name: `${n === headline ? 'MongoDB throughput' : 'scaling: MongoDB throughput'}: our logger → MongoStore, ${k(n)} events`,
        unit: 'events/s',
        runs: res.ours.map((r) => r.eventsPerSecond),
        baseline: { name: `raw insertMany ×1000, ${ceilingMode === 'raw-par' ? '4 in flight' : 'sequential'}`, runs: res[ceilingMode].map((r) => r.eventsPerSecond) },
        goal: { text: '≥ 80 % of raw insertMany', on: 'ratio', min: 0.8 },
        smoke: ctx.smoke,
        extra: {
          ratioUnit: '%',
          events: n,
          lost,
          perRunRatios: ratioRuns.map((x) => Math.round(x * 1000) / 1000),
          rawSequential: res['raw-seq'].map((r) => Math.round(r.eventsPerSecond)),
          rawFourInFlight: res['raw-par'].map((r) => Math.round(r.eventsPerSecond)),
          spooled: res.ours.map((r) => r.spooled),
          retried: res.ours.map((r) => r.retried),
        },
      }),
    )
    entries.push(
      makeEntry({
        group: n === headline ? 'mongodb' : 'scaling',
        name: `${n === headline ? 'MongoDB' : 'scaling: MongoDB'}: events lost by our logger, ${k(n)} events`,
        unit: 'events',
        runs: res.ours.map((r) => r.lost),
        goal: { text: '0 in every run', on: 'max', max: 0 },
        smoke: ctx.smoke,
        extra: { events: n, worstRun: lost },
      }),
    )
  }
  // Put the headline rows first.
  return [...entries.filter((e) => e.group === 'mongodb'), ...entries.filter((e) => e.group !== 'mongodb')]
}
