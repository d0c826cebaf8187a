// One analyzer report over a stored history, in a fresh process: time, and peak memory (peak RSS
// sampled every 10 ms and the process's maxRSS, minus the RSS before the report). The maxRSS of
// the process is a lifetime peak, so it only counts for the first job of a process.
import { performance } from 'node:perf_hooks'
import { childParams, failChild, sendResult, sleep, tick } from '../lib/child.mjs'
import { datasetEvents, datasetWindow } from '../lib/dataset.mjs'
import { loadAnalyzeModule, loadCore, loadReports } from '../lib/load.mjs'

async function measure(p, job, reports, FileStore, newDiagnostics) {
  const source = job.source === 'file' ? new FileStore(job.file, { maxFiles: 0, maxBytes: 2 ** 40 }) : reports.eventsReader(datasetEvents(job.total, p.dataset))
  const window = datasetWindow(p.dataset)
  const options = { startTime: window.startTime, endTime: window.endTime, diagnostics: newDiagnostics ? newDiagnostics() : undefined }
  if (job.report === 'utilizationPeriodsReport') Object.assign(options, { analysisType: 'daily', userTimezone: 'UTC', naiveTimeZone: 'UTC' })
  await tick()
  global.gc()
  await sleep(50)
  global.gc()
  const base = process.memoryUsage().rss
  let peak = base
  const sampler = setInterval(() => {
    const r = process.memoryUsage().rss
    if (r > peak) peak = r
  }, 10)
  const t0 = performance.now()
  const out = await reports[job.report](source, options)
  const seconds = (performance.now() - t0) / 1000
  clearInterval(sampler)
  peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024)
  return {
    seconds,
    baseMB: base / 2 ** 20,
    peakMB: peak / 2 ** 20,
    growthMB: (peak - base) / 2 ** 20,
    eventsRead: options.diagnostics?.eventsRead ?? null,
    passes: options.diagnostics?.passes ?? null,
    outputBytes: JSON.stringify(out).length,
    error: out && typeof out === 'object' && 'error' in out ? out.error : undefined,
  }
}

// `jobs`: normally one report per process (clean memory figures); the smoke run puts them all in one.
try {
  const p = childParams()
  const reports = await loadReports()
  const { FileStore } = await loadCore()
  const { newDiagnostics } = await loadAnalyzeModule()
  const results = []
  for (const job of p.jobs) results.push(await measure(p, job, reports, FileStore, newDiagnostics))
  await sendResult(results)
  process.exit(0)
} catch (err) {
  failChild(err)
}
