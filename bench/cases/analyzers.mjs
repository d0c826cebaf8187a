// 8b. Analyzers (issue 7): each report over 1 M stored events, time and peak memory, and whether
//     memory stays flat when the events grow 10× (100 k → 1 M).
import { createWriteStream, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runChild } from '../lib/child.mjs'
import { datasetEvents } from '../lib/dataset.mjs'
import { loadCore, loadReports } from '../lib/load.mjs'
import { makeEntry, unavailable } from '../lib/stats.mjs'

const CHILD = fileURLToPath(new URL('./analyzers-child.mjs', import.meta.url))
const REPORTS = ['sessionUtilizationReport', 'utilizationPeriodsReport', 'userUtilizationReport']

export const METHOD =
  'A synthetic lab history (bench/lib/dataset.mjs): 28 days, 4 workcells × 4 nodes, a lab session and 4 workcell sessions a day, 672 experiments, 2 688 workflows by 5 authors, node actions and log noise; ' +
  'the 1 M history has the same sessions, experiments and workflows as the 100 k one, with 10× the actions and noise, so a report\'s output is the same size and only the events read grow. ' +
  'Each report runs in a fresh process (window = the whole history, daily buckets in UTC for the periods report, lookups from the store as upstream). Sources: a generator read through eventsReader ' +
  '(events made on the fly in time order, never held: the analyzers\' own memory), and the NDJSON FileStore on tmpfs (the embedded store). ' +
  'Peak memory = peak RSS during the report (sampled every 10 ms, and the process maxRSS) − RSS before it. "Flat" = growth at 1 M ≤ 1.5× growth at 100 k.'

const k = (n) => (n >= 1_000_000 ? `${n / 1_000_000} M` : `${n / 1000} k`)

async function writeDataset(file, total, dataset) {
  const { eventToJson } = await loadCore()
  const ws = createWriteStream(file)
  let buf = []
  for (const e of datasetEvents(total, dataset)()) {
    buf.push(eventToJson(e))
    if (buf.length >= 5000) {
      if (!ws.write(`${buf.join('\n')}\n`)) await new Promise((r) => ws.once('drain', r))
      buf = []
    }
  }
  if (buf.length) ws.write(`${buf.join('\n')}\n`)
  await new Promise((r) => ws.end(r))
}

export async function analyzers(ctx) {
  const goal = { text: 'flat: ≤ 1.5× at 10× events', on: 'ratio', max: 1.5 }
  if (!(await loadReports())) {
    return REPORTS.map((r) => unavailable({ group: 'analyzers', name: `analyzers: ${r}`, reason: 'not available: the report functions (src/analyze, issue 7) are not in this build', goal: goal.text }))
  }
  const small = ctx.smoke ? 1000 : 100_000
  const large = ctx.smoke ? 5000 : 1_000_000
  const dataset = ctx.smoke ? { days: 1 } : {}
  const runsSmall = ctx.smoke ? 1 : Math.min(ctx.runs ?? 5, 3)
  const runsLarge = ctx.smoke ? 1 : 2
  const entries = []
  const files = {}
  try {
    for (const total of [small, large]) {
      files[total] = join(ctx.scratch, `analyzers-${process.pid}-${total}.ndjson`)
      ctx.log(`analyzers: writing ${k(total)} events to ${files[total]}`)
      await writeDataset(files[total], total, dataset)
    }
    const jobs = []
    for (const source of ['stream', 'file']) {
      for (const report of REPORTS) {
        for (const [total, runs] of [
          [small, runsSmall],
          [large, runsLarge],
        ]) {
          for (let r = 0; r < runs; r++) jobs.push({ report, source, total, file: files[total] })
        }
      }
    }
    // One process per job (the smoke run: one process for all, it only checks that it works).
    const results = []
    for (const group of ctx.smoke ? [jobs] : jobs.map((j) => [j])) {
      const got = await runChild(CHILD, { jobs: group, dataset }, { timeoutMs: 1_800_000 })
      got.forEach((g, i) => {
        const job = group[i]
        if (g.error) throw new Error(`${job.report} answered an error: ${JSON.stringify(g.error)}`)
        results.push({ ...job, ...g })
        ctx.log(`  ${job.report} over ${k(job.total)} (${job.source === 'file' ? 'FileStore' : 'generator'}): ${g.seconds.toFixed(1)} s, +${Math.round(g.growthMB)} MB`)
      })
    }
    for (const source of ['stream', 'file']) {
      for (const report of REPORTS) {
        const of = (total) => results.filter((x) => x.source === source && x.report === report && x.total === total)
        const res = { [small]: of(small), [large]: of(large) }
        const label = source === 'file' ? 'FileStore (tmpfs)' : 'streamed source'
        entries.push(
          makeEntry({
            group: 'analyzers',
            name: `analyzers: ${report}, ${k(large)} events, ${label}: time`,
            unit: 's',
            runs: res[large].map((x) => x.seconds),
            baseline: { name: `same over ${k(small)}`, runs: res[small].map((x) => x.seconds) },
            smoke: ctx.smoke,
            notes: 'ratio = time growth for 10× the events (10 = linear)',
            extra: { events: large, eventsRead: res[large][0].eventsRead, passes: res[large][0].passes, outputBytes: res[large][0].outputBytes },
          }),
        )
        entries.push(
          makeEntry({
            group: 'analyzers',
            name: `analyzers: ${report}, ${k(large)} events, ${label}: peak memory`,
            unit: 'MB',
            runs: res[large].map((x) => x.growthMB),
            baseline: { name: `same over ${k(small)}`, runs: res[small].map((x) => x.growthMB) },
            goal,
            smoke: ctx.smoke,
            extra: { events: large, peakRssMB: res[large].map((x) => Math.round(x.peakMB)), baseRssMB: Math.round(res[large][0].baseMB) },
          }),
        )
      }
    }
  } finally {
    for (const f of Object.values(files)) rmSync(f, { force: true })
  }
  return entries
}
