/**
 * The summary of `/utilization/periods` (SPEC §5.6.4) from per-bucket results: key metrics and
 * peaks, node and workcell summaries, trends, time series. Pure computation, no I/O.
 */
import type { PeriodInfo, TimeBucket } from './buckets.js'
import { pyFixed, pyFloatRepr, pyMean, pyRound } from './pynum.js'
import { isoNaive } from './pytime.js'
import { nodeDisplayName } from './session-stats.js'

/** One session's share of a bucket (upstream's "session fragment"), as far as the summary reads it. */
export interface Fragment {
  sessionType: string
  sessionId: string
  utilization: number
  experiments: number
  runtimeHours: number
  activeHours: number
  experimentIds: string[]
}

/** A bucket's numbers, as the summary reads them from upstream's bucket reports. */
export interface BucketResult {
  bucket: TimeBucket
  /** `time_bucket.start_time` (clipped to the analysis start for daily and monthly). */
  startIso: string
  /** `time_bucket.user_date` (daily/monthly) or `""`. */
  date: string
  /** `time_bucket.user_start_time` (daily/monthly) or `""`. */
  userStart: string
  utilization: number
  experiments: number
  runtimeHours: number
  activeHours: number
  /** Bucket node summary, in upstream's order. */
  nodes: Array<[string, { utilization: number; busyHours: number }]>
  fragments: Fragment[]
}

export interface NamesForSummary {
  nodeName(id: string): string | null
  workcellName(id: string): string
}

interface Peak {
  peak_utilization: number
  peak_period: string | null
  peak_context: string
}

const NO_PEAK: Peak = { peak_utilization: 0, peak_period: null, peak_context: 'No peak data available' }

function peakContext(analysisType: string, display: string): string {
  if (analysisType === 'daily') return `Peak utilization on ${display}`
  if (analysisType === 'weekly') return `Peak utilization during ${display}`
  return `Peak utilization in ${display}`
}

function fallbackDisplay(startIso: string, analysisType: string): string {
  const c = startIso.slice(0, 10)
  if (analysisType === 'weekly') return `Week of ${c}`
  if (analysisType === 'monthly') return `${c.slice(5, 7)}/${c.slice(2, 4)}`
  return c
}

function seriesPeak(utils: number[], series: Array<{ period_display: string }>, analysisType: string): Peak {
  if (utils.length === 0 || series.length === 0) return { ...NO_PEAK }
  let max = utils[0]
  let index = 0
  for (let i = 1; i < utils.length; i++) {
    if (utils[i] > max) {
      max = utils[i]
      index = i
    }
  }
  if (index < series.length) {
    const display = series[index].period_display ?? 'Unknown'
    return { peak_utilization: pyRound(max, 2), peak_period: display, peak_context: peakContext(analysisType, display) }
  }
  // Upstream formats `round(max, 2)` with an f-string: a float prints as `96.0`, and a zero is the
  // int 0 (its `util or 0` turns 0.0 into 0), which prints as `0`.
  const shown = max === 0 ? '0' : pyFloatRepr(pyRound(max, 2))
  return { peak_utilization: pyRound(max, 2), peak_period: 'Unknown', peak_context: `Peak utilization: ${shown}%` }
}

function sum(values: readonly number[]): number {
  let s = 0
  for (const v of values) s += v
  return s
}

function trend(first: number, last: number): { direction: string; change: number } {
  if (first === 0) return { direction: 'stable', change: 0 }
  const change = ((last - first) / first) * 100
  return { direction: change > 5 ? 'increasing' : change < -5 ? 'decreasing' : 'stable', change }
}

export interface SummaryParts {
  keyMetrics: Record<string, unknown>
  nodeSummary: Record<string, unknown>
  workcellSummary: Record<string, unknown>
  trends: Record<string, unknown>
  timeSeries: Record<string, unknown>
  /** Experiment ids named by the bucket fragments (upstream's filter for experiment details). */
  fragmentExperimentIds: Set<string>
}

/** Aggregate the buckets as upstream's `_aggregate_bucket_data` and friends do. */
export function summarise(results: readonly BucketResult[], analysisType: string, names: NamesForSummary): SummaryParts {
  const allUtil: number[] = []
  const allExp: number[] = []
  const allRuntime: number[] = []
  const allActive: number[] = []
  const nodeMetrics = new Map<string, { utils: number[]; busy: number; series: Array<Record<string, unknown> & { period_display: string }> }>()
  const workcells = new Map<
    string,
    { utils: number[]; exps: number[]; runtimes: number[]; actives: number[]; series: Array<Record<string, unknown> & { period_display: string }> }
  >()
  const points: Array<Record<string, unknown>> = []
  const fragmentIds = new Set<string>()

  for (const r of results) {
    const info: PeriodInfo = r.bucket.periodInfo
    const util = r.utilization || 0
    const exps = r.experiments || 0
    const runtime = r.runtimeHours || 0
    const active = r.activeHours || 0
    if (exps > 0) {
      allUtil.push(util)
      allExp.push(exps)
    }
    allRuntime.push(runtime)
    allActive.push(active)
    for (const f of r.fragments) for (const id of f.experimentIds) if (id) fragmentIds.add(id)
    for (const [id, node] of r.nodes) {
      let m = nodeMetrics.get(id)
      if (!m) nodeMetrics.set(id, (m = { utils: [], busy: 0, series: [] }))
      const u = node.utilization || 0
      const busy = node.busyHours || 0
      m.utils.push(u)
      m.busy += busy
      m.series.push({
        period_number: r.bucket.index + 1,
        period_type: info.type,
        period_display: info.display,
        date: r.date,
        utilization: u,
        busy_hours: busy,
      })
    }
    for (const f of r.fragments) {
      if ((f.sessionType !== 'workcell' && f.sessionType !== 'lab') || !f.sessionId) continue
      let w = workcells.get(f.sessionId)
      if (!w) workcells.set(f.sessionId, (w = { utils: [], exps: [], runtimes: [], actives: [], series: [] }))
      const u = f.utilization || 0
      const e = f.experiments || 0
      const rt = f.runtimeHours || 0
      const at = f.activeHours || 0
      w.utils.push(u)
      w.exps.push(e)
      w.runtimes.push(rt)
      w.actives.push(at)
      if (rt > 0) {
        w.series.push({
          period_number: r.bucket.index + 1,
          period_type: info.type,
          period_display: info.display,
          date: r.date,
          utilization: u,
          experiments: e,
          runtime_hours: rt,
          active_time_hours: at,
          attributed: false,
        })
      }
    }
    points.push({
      period_number: r.bucket.index + 1,
      period_type: info.type,
      period_display: info.display,
      date: r.date,
      start_time: r.userStart,
      start_time_utc: r.startIso,
      utilization: util,
      experiments: exps,
      runtime_hours: runtime,
      active_time_hours: active,
    })
  }

  // System metrics and peak.
  let average: number
  if (analysisType === 'monthly') {
    const rt = sum(allRuntime)
    average = pyRound(rt > 0 ? (sum(allActive) / rt) * 100 : 0, 2)
  } else average = allUtil.length ? pyRound(pyMean(allUtil), 2) : 0
  let peak: Peak = { ...NO_PEAK }
  let best: BucketResult | undefined
  let bestUtil = 0
  for (const r of results) {
    if (r.utilization > bestUtil) {
      bestUtil = r.utilization
      best = r
    }
  }
  if (best) {
    const display = best.bucket.periodInfo.display || fallbackDisplay(best.startIso, analysisType)
    if (display) peak = { peak_utilization: pyRound(bestUtil, 2), peak_period: display, peak_context: peakContext(analysisType, display) }
  }

  const nodeSummary: Record<string, unknown> = {}
  for (const [id, m] of nodeMetrics) {
    const name = names.nodeName(id)
    nodeSummary[id] = {
      node_id: id,
      node_name: name,
      display_name: nodeDisplayName(id, name),
      average_utilization: pyRound(m.utils.length ? pyMean(m.utils) : 0, 2),
      ...seriesPeak(m.utils, m.series, analysisType),
      total_busy_hours: pyRound(m.busy, 2),
    }
  }

  const workcellSummary: Record<string, unknown> = {}
  for (const [id, w] of workcells) {
    const name = names.workcellName(id)
    const display = name.startsWith('Workcell ') && name.includes(id.slice(-8)) ? name : `${name} (${id.slice(-8)})`
    workcellSummary[id] = {
      workcell_id: id,
      workcell_name: name,
      display_name: display,
      average_utilization: pyRound(w.utils.length ? pyMean(w.utils) : 0, 2),
      ...seriesPeak(w.utils, w.series, analysisType),
      total_experiments: sum(w.exps),
      total_runtime_hours: pyRound(sum(w.runtimes), 2),
      total_active_time_hours: pyRound(sum(w.actives), 2),
    }
  }

  // Trends over the system points with utilization > 0.
  const insufficient = { direction: 'insufficient_data', change_percent: 0 }
  let trends: Record<string, unknown> = { utilization_trend: { ...insufficient }, experiment_trend: { ...insufficient } }
  const activePoints = points.filter((p) => (p.utilization as number) > 0)
  if (points.length >= 2 && activePoints.length >= 2) {
    const uFirst = activePoints[0].utilization as number
    const uLast = activePoints[activePoints.length - 1].utilization as number
    const eFirst = activePoints[0].experiments as number
    const eLast = activePoints[activePoints.length - 1].experiments as number
    const u = trend(uFirst, uLast)
    const e = trend(eFirst, eLast)
    trends = {
      utilization_trend: {
        direction: u.direction,
        change_percent: pyRound(u.change, 2),
        first_value: pyRound(uFirst, 2),
        last_value: pyRound(uLast, 2),
        active_periods_analyzed: activePoints.length,
      },
      experiment_trend: {
        direction: e.direction,
        change_percent: pyRound(e.change, 2),
        first_value: eFirst,
        last_value: eLast,
        active_periods_analyzed: activePoints.length,
      },
    }
  }

  const nodeSeries: Record<string, unknown> = {}
  for (const [id, m] of nodeMetrics) if (m.series.length) nodeSeries[id] = m.series
  const workcellSeries: Record<string, unknown> = {}
  for (const [id, w] of workcells) if (w.series.length) workcellSeries[id] = w.series

  return {
    keyMetrics: {
      average_utilization: average,
      ...peak,
      total_experiments: sum(allExp),
      total_runtime_hours: pyRound(sum(allRuntime), 2),
      total_active_time_hours: pyRound(sum(allActive), 2),
      active_periods: allUtil.length,
      total_periods: results.length,
    },
    nodeSummary,
    workcellSummary,
    trends,
    timeSeries: { system: points, nodes: nodeSeries, workcells: workcellSeries },
    fragmentExperimentIds: fragmentIds,
  }
}

// ------------------------------------------------------------------ experiment details

interface ExperimentEvents {
  start?: { t: number; name: unknown }
  complete?: { t: number; status: unknown }
}

/** Upstream's `_get_complete_experiment_details`, fed with the window's experiment start/complete events. */
export class ExperimentDetails {
  readonly #byId = new Map<string, ExperimentEvents>()

  get size(): number {
    return this.#byId.size
  }

  start(id: string, t: number, name: unknown): void {
    this.#entry(id).start = { t, name }
  }

  complete(id: string, t: number, status: unknown): void {
    this.#entry(id).complete = { t, status }
  }

  #entry(id: string): ExperimentEvents {
    let e = this.#byId.get(id)
    if (!e) this.#byId.set(id, (e = {}))
    return e
  }

  /** The sorted detail list, limited to `filter` when it is not empty. */
  list(filter: ReadonlySet<string>): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = []
    for (const [id, ev] of this.#byId) {
      if (filter.size > 0 && !filter.has(id)) continue
      if (!ev.start) continue
      const detail: Record<string, unknown> = { experiment_id: id, experiment_name: ev.start.name, start_time: isoNaive(ev.start.t) }
      if (ev.complete) {
        const secs = (ev.complete.t - ev.start.t) / 1e6
        const hours = secs / 3600
        detail.end_time = isoNaive(ev.complete.t)
        detail.status = ev.complete.status
        detail.duration_hours = hours
        detail.duration_display =
          secs < 60 ? `${pyFixed(secs, 1)} seconds` : secs < 3600 ? `${pyFixed(secs / 60, 1)} minutes` : `${pyFixed(hours, 1)} hours`
      } else {
        detail.end_time = null
        detail.status = 'in_progress'
        detail.duration_hours = null
        detail.duration_display = 'Ongoing'
      }
      out.push(detail)
    }
    out.sort((a, b) => ((a.start_time as string) < (b.start_time as string) ? -1 : (a.start_time as string) > (b.start_time as string) ? 1 : 0))
    return out
  }
}
