/**
 * The time-series report of `GET /utilization/periods` (SPEC §5.6) over stored events.
 *
 * Two passes: lifecycle events (sessions), then every event of the range once. Each session is
 * analysed once and its numbers are attributed to the buckets it overlaps; upstream re-analyses
 * every session for every bucket it touches, with several queries each (O(buckets × sessions ×
 * queries), §5.6.7). Hourly buckets (and unknown analysis types) are, as upstream, a complete
 * session report per bucket; those are computed in the same single pass.
 *
 * Differences from upstream, all documented in the README: buckets follow the zone's real DST
 * changes (buckets.ts); `user_utilization` is included after `key_metrics` (D7); failures of
 * upstream's logging (D8) do not happen.
 */
import { nowMicros } from '../event/index.js'
import { bucketIndexAt, bucketUnit, createBuckets, type TimeBucket } from './buckets.js'
import { ACTIVITY_TYPES, experimentIdOf, periodsExperimentName } from './extract.js'
import { IntervalFeeder } from './feeder.js'
import { Lookups } from './lookups.js'
import { ERROR_ANSWERS, parseTimeParam, presentTime, serverLocalZone, type TimeInput } from './params.js'
import { ExperimentDetails, summarise, type BucketResult, type Fragment } from './periods-summary.js'
import { isDict, pyMean, pyRound } from './pynum.js'
import { isoNaive, isoUtcAware, pyStrDatetime, seconds } from './pytime.js'
import { noteSessionState, overallSummary, reportedSessionName, type ReportDiagnostics, type ReportJson, type ReportOptions } from './session-report.js'
import { SessionAccumulator, sessionEntry, type SessionNumbers } from './session-stats.js'
import { LIFECYCLE_SELECTOR, LifecycleIndex, defaultSession, type Session } from './sessions.js'
import { eventsInRange, type ReportSource } from './source.js'
import { UserReportAccumulator } from './user-report.js'
import { resolveTimeZone, strftime, type TimeZone } from './zone.js'

export interface PeriodsReportOptions extends ReportOptions {
  /** Required, as upstream (the answer is an error object without them). */
  startTime?: TimeInput | null
  endTime?: TimeInput | null
  /** `hourly`, `daily` (default), `weekly`, `monthly`; anything else gets daily buckets with the hourly aggregation, as upstream. */
  analysisType?: string
  /** IANA zone of the buckets. Default `America/Chicago` (upstream's). Unknown names fall back to UTC silently, as upstream. */
  userTimezone?: string
  /** Add `user_utilization` (after `key_metrics`; upstream drops it on success, D7). Default true. */
  includeUsers?: boolean
  /** How naive time strings are read. Default: the server's local zone, as upstream's route. */
  naiveTimeZone?: TimeZone | string
}

interface Unit extends Session {
  acc: SessionAccumulator
  /** Bucket of a per-bucket session (hourly aggregation), -1 for window sessions. */
  bucket: number
  index: number
}

function isCalendar(analysisType: string): boolean {
  return analysisType === 'daily' || analysisType === 'weekly' || analysisType === 'monthly'
}

/** The summary user block of §5.6.6 from a §5.5 report. */
export function userSummaryFrom(userReport: ReportJson): ReportJson {
  const users = Object.values((userReport.user_utilization ?? {}) as Record<string, Record<string, unknown>>)
  const system = (userReport.system_summary ?? {}) as Record<string, unknown>
  const sorted = users
    .map((u, i) => ({ u, i }))
    .sort((a, b) => ((b.u.total_runtime_hours as number) ?? 0) - ((a.u.total_runtime_hours as number) ?? 0) || a.i - b.i)
    .map((x) => x.u)
  return {
    total_users: users.length,
    author_attribution_rate_percent: system.author_attribution_rate_percent ?? 0,
    top_users: sorted.slice(0, 10).map((u) => ({
      author: u.author,
      total_workflows: u.total_workflows,
      total_runtime_hours: u.total_runtime_hours,
      completion_rate_percent: u.completion_rate_percent,
      average_workflow_duration_hours: u.average_workflow_duration_hours,
    })),
    system_totals: {
      total_workflows: system.total_workflows ?? 0,
      total_runtime_hours: system.total_runtime_hours ?? 0,
      completion_rate_percent: system.completion_rate_percent ?? 0,
    },
  }
}

/** Buckets containing t (ends inclusive, as upstream's `$gte`/`$lte` queries), by index. */
function bucketsAt(starts: readonly number[], ends: readonly number[], t: number): number[] {
  const i = bucketIndexAt(starts, t)
  const out: number[] = []
  for (let j = Math.max(0, i - 1); j <= i + 1 && j < starts.length; j++) if (j >= 0 && starts[j] <= t && t <= ends[j]) out.push(j)
  return out
}

/** Compute the report for validated inputs. Store errors propagate. */
export async function buildPeriodsReport(
  source: ReportSource,
  start: number,
  end: number,
  analysisType: string,
  userTimezone: string,
  options: { includeUsers: boolean; lookups?: ReportOptions['lookups']; generatedAt: () => number; diagnostics?: ReportDiagnostics },
): Promise<ReportJson> {
  const zone = resolveTimeZone(userTimezone)
  const buckets = createBuckets(start, end, analysisType, zone)
  const calendar = isCalendar(analysisType)
  const clip = analysisType === 'daily' || analysisType === 'monthly'
  // Experiments are counted in [bucket start, bucket end], clipped to the analysis for daily/monthly.
  const bStarts = buckets.map((b) => (clip ? Math.max(b.start, start) : b.start))
  const bEnds = buckets.map((b) => b.end)
  const rangeStart = bStarts.reduce((m, v) => Math.min(m, v), start)

  // Pass 1: lifecycle events → sessions (window-wide, or per bucket for the hourly aggregation).
  const d = options.diagnostics
  const index = new LifecycleIndex()
  for await (const item of eventsInRange(source, rangeStart, end, LIFECYCLE_SELECTOR)) {
    index.add(item)
    if (d) d.eventsRead++
  }
  if (d) d.passes++
  index.seal()
  const units: Unit[] = []
  const addUnit = (s: Session, bucket: number): void => {
    units.push({ ...s, acc: new SessionAccumulator(s), bucket, index: units.length })
  }
  if (calendar) for (const s of index.sessions(start, end)) addUnit(s, -1)
  else {
    buckets.forEach((b, i) => {
      const ss = index.sessions(b.start, b.end)
      if (ss.length === 0) addUnit(defaultSession(b.start, b.end), i)
      else for (const s of ss) addUnit(s, i)
    })
  }

  // Pass 2: every event once.
  const feeder = new IntervalFeeder(units)
  const lookups = new Lookups(source, options.lookups)
  const users = options.includeUsers ? new UserReportAccumulator() : undefined
  const details = new ExperimentDetails()
  const bucketExperiments = new Array<number>(buckets.length).fill(0)
  // Experiment starts per (bucket, session unit) and the ids they name, for the calendar aggregation.
  const fragmentCounts = new Map<string, number>()
  const fragmentIds = new Map<string, string[]>()
  for await (const { event, t } of eventsInRange(source, rangeStart, end)) {
    if (d) d.eventsRead++
    lookups.observe(event)
    const type = event.event_type
    const active = ACTIVITY_TYPES.has(type) ? feeder.at(t) : undefined
    if (active) for (const u of active) u.acc.add(event, t)
    if (t >= start) {
      if (users && (type === 'workflow_start' || type === 'workflow_complete')) users.add(event, t)
      if (type === 'experiment_start' || type === 'experiment_complete') {
        const id = experimentIdOf(event)
        if (id !== undefined) {
          if (type === 'experiment_start') details.start(id, t, periodsExperimentName(event))
          else details.complete(id, t, isDict(event.event_data) && 'status' in event.event_data ? event.event_data.status : 'completed')
        }
      }
    }
    if (calendar && type === 'experiment_start') {
      const id = experimentIdOf(event)
      if (id === undefined) continue
      const inBuckets = bucketsAt(bStarts, bEnds, t)
      const containing = active ?? feeder.at(t)
      for (const b of inBuckets) {
        bucketExperiments[b]++
        for (const u of containing) {
          const os = Math.max(bStarts[b], u.start)
          const oe = Math.min(bEnds[b], u.end)
          if (os >= oe) continue
          const key = `${b}:${u.index}`
          fragmentCounts.set(key, (fragmentCounts.get(key) ?? 0) + 1)
          let ids = fragmentIds.get(key)
          if (!ids) fragmentIds.set(key, (ids = []))
          ids.push(id)
        }
      }
    }
  }

  if (d) {
    d.passes++
    d.workflows = users?.size ?? 0
    d.experiments = details.size
  }
  noteSessionState(d, units.map((u) => u.acc))
  const numbers: SessionNumbers[] = units.map((u) => u.acc.finish())
  for (const n of numbers) {
    for (const id of n.nodes.keys()) lookups.wantNode(id)
    if (n.session.type === 'workcell' || n.session.type === 'lab') lookups.wantWorkcellName(n.session.id)
  }
  await lookups.resolve()

  const results: BucketResult[] = calendar
    ? calendarBuckets(analysisType, buckets, bStarts, bEnds, units, numbers, lookups, bucketExperiments, fragmentCounts, fragmentIds)
    : sessionReportBuckets(buckets, units, numbers, lookups)

  const summary = summarise(results, analysisType, lookups)
  const report: ReportJson = {
    summary_metadata: {
      analysis_type: analysisType,
      generated_at: isoUtcAware(options.generatedAt()),
      period_start: isoNaive(start),
      period_end: isoNaive(end),
      user_timezone: userTimezone,
      total_periods: results.length,
      method: 'session_based_analysis_with_experiment_details_refactored',
    },
    key_metrics: summary.keyMetrics,
  }
  if (users) report.user_utilization = userSummaryFrom(users.build(start, end, options.generatedAt()))
  const experiments = details.list(summary.fragmentExperimentIds)
  Object.assign(report, {
    node_summary: summary.nodeSummary,
    workcell_summary: summary.workcellSummary,
    trends: summary.trends,
    experiment_details: { total_experiments: experiments.length, experiments: experiments.slice(0, 50) },
    time_series: summary.timeSeries,
  })
  return report
}

/** Daily, weekly and monthly buckets from whole-session numbers (§5.6.3 items 2–3). */
function calendarBuckets(
  analysisType: string,
  buckets: TimeBucket[],
  bStarts: number[],
  bEnds: number[],
  units: Unit[],
  numbers: SessionNumbers[],
  lookups: Lookups,
  bucketExperiments: number[],
  fragmentCounts: Map<string, number>,
  fragmentIds: Map<string, string[]>,
): BucketResult[] {
  const weekly = analysisType === 'weekly'
  // What upstream reads from each session's report: rounded utilization, hours, and the nodes.
  const sessions = numbers.map((n) => {
    const durationHours = n.session.durationSeconds / 3600
    const nodes: Array<[string, { utilization: number; busyHours: number }]> = []
    for (const [id, node] of n.nodes) {
      if (lookups.isWorkcell(id)) continue
      nodes.push([id, { utilization: pyRound(node.utilization, 1), busyHours: node.busySeconds / 3600 }])
    }
    return { util: pyRound(n.utilization, 1), activeHours: n.activeSeconds / 3600, durationHours, nodes }
  })
  return buckets.map((bucket, b) => {
    const bs = bStarts[b]
    const be = bEnds[b]
    const fragments: Fragment[] = []
    let runtime = 0
    let active = 0
    let weighted = 0
    const nodeAcc = new Map<string, { utils: number[]; busy: number }>()
    units.forEach((u, i) => {
      const os = Math.max(bs, u.start)
      const oe = Math.min(be, u.end)
      if (os >= oe) return
      const overlapHours = seconds(os, oe) / 3600
      const s = sessions[i]
      let activeHours: number
      let util: number
      let proportion: number | undefined
      if (weekly) {
        // Upstream analyses only sessions with a positive duration here; others count as 0 %.
        const analysed = u.durationSeconds > 0
        util = analysed ? s.util : 0
        activeHours = overlapHours * (util / 100)
        weighted += util * overlapHours
        proportion = u.durationSeconds > 0 ? overlapHours / (u.durationSeconds / 3600) : 0
        if (analysed) accumulateNodes(nodeAcc, s.nodes, proportion)
      } else {
        util = s.util || 0
        activeHours = s.durationHours > 0 ? s.activeHours * (overlapHours / s.durationHours) : overlapHours * (util / 100)
        accumulateNodes(nodeAcc, s.nodes, undefined)
      }
      runtime += overlapHours
      active += activeHours
      const key = `${b}:${i}`
      fragments.push({
        sessionType: u.type,
        sessionId: u.id,
        utilization: util,
        experiments: fragmentCounts.get(key) ?? 0,
        runtimeHours: overlapHours,
        activeHours,
        experimentIds: fragmentIds.get(key) ?? [],
      })
    })
    const utilization = weekly ? (runtime > 0 ? weighted / runtime : weighted) : runtime > 0 ? (active / runtime) * 100 : 0
    const nodes: BucketResult['nodes'] = [...nodeAcc].map(([id, n]) => [
      id,
      { utilization: pyRound(n.utils.length ? pyMean(n.utils) : 0, 1), busyHours: pyRound(n.busy, 3) },
    ])
    const userFields = !weekly
    return {
      bucket,
      startIso: isoNaive(weekly ? bucket.start : bs),
      date: userFields ? strftime(bucket.localStart, analysisType === 'monthly' ? '%Y-%m' : '%Y-%m-%d') : '',
      userStart: userFields ? strftime(bucket.localStart, '%Y-%m-%dT%H:%M:%S') : '',
      utilization,
      experiments: bucketExperiments[b],
      runtimeHours: runtime,
      activeHours: active,
      nodes,
      fragments,
    }
  })
}

function accumulateNodes(
  acc: Map<string, { utils: number[]; busy: number }>,
  nodes: Array<[string, { utilization: number; busyHours: number }]>,
  proportion: number | undefined,
): void {
  for (const [id, n] of nodes) {
    let a = acc.get(id)
    if (!a) acc.set(id, (a = { utils: [], busy: 0 }))
    a.utils.push(proportion === undefined ? n.utilization || 0 : n.utilization)
    a.busy += proportion === undefined ? n.busyHours || 0 : n.busyHours * proportion
  }
}

/** Hourly (and unknown types): each bucket is a complete session report of its own (§5.6.3 item 4). */
function sessionReportBuckets(buckets: TimeBucket[], units: Unit[], numbers: SessionNumbers[], lookups: Lookups): BucketResult[] {
  return buckets.map((bucket, b) => {
    const entries: ReportJson[] = []
    units.forEach((u, i) => {
      if (u.bucket === b) entries.push(sessionEntry(numbers[i], lookups, reportedSessionName(u)))
    })
    const overall = overallSummary(entries, lookups, bucket.start, bucket.end)
    const nodeSummary = overall.node_summary as Record<string, { average_utilization_percent: number; total_busy_time_hours: number }>
    return {
      bucket,
      startIso: isoNaive(bucket.start),
      date: '',
      userStart: '',
      utilization: overall.average_system_utilization_percent as number,
      experiments: overall.total_experiments as number,
      runtimeHours: overall.total_system_runtime_hours as number,
      activeHours: overall.total_active_time_hours as number,
      nodes: Object.entries(nodeSummary).map(([id, n]) => [id, { utilization: n.average_utilization_percent, busyHours: n.total_busy_time_hours }]),
      fragments: entries.map((e) => ({
        sessionType: e.session_type as string,
        sessionId: e.session_id as string,
        utilization: e.system_utilization_percent as number,
        experiments: e.total_experiments as number,
        runtimeHours: e.duration_hours as number,
        activeHours: e.active_time_hours as number,
        experimentIds: (e.experiment_details as Array<{ experiment_id: string }>).map((x) => x.experiment_id),
      })),
    }
  })
}

/**
 * `GET /utilization/periods`: the time-series report, or one of upstream's error answers:
 * `start_time and end_time are required`, `Failed to generate utilization report: <parse error>`,
 * `Invalid analysis time period: …` (with `details`), or `Failed to generate report: <store error>`.
 */
export async function utilizationPeriodsReport(source: ReportSource, options: PeriodsReportOptions = {}): Promise<ReportJson> {
  const now = options.now ?? nowMicros
  const analysisType = options.analysisType ?? 'daily'
  const userTimezone = options.userTimezone ?? 'America/Chicago'
  const naive = typeof options.naiveTimeZone === 'string' ? resolveTimeZone(options.naiveTimeZone) : (options.naiveTimeZone ?? serverLocalZone())
  let start: number | undefined
  let end: number | undefined
  try {
    const s = presentTime(options.startTime)
    const e = presentTime(options.endTime)
    if (s !== undefined) start = parseTimeParam(s, naive)
    if (e !== undefined) end = parseTimeParam(e, naive)
  } catch (err) {
    return ERROR_ANSWERS.periodsParse(err)
  }
  if (start === undefined || end === undefined) return ERROR_ANSWERS.periodsMissingTimes()
  if (start >= end) {
    return {
      error: 'Invalid analysis time period: start time must be before end time',
      details: `Start time ${pyStrDatetime(start)} >= end time ${pyStrDatetime(end)}`,
    }
  }
  try {
    return await buildPeriodsReport(source, start, end, analysisType, userTimezone, {
      includeUsers: options.includeUsers ?? true,
      lookups: options.lookups,
      generatedAt: now,
      diagnostics: options.diagnostics,
    })
  } catch (err) {
    return ERROR_ANSWERS.periodsRoute(err)
  }
}

export { bucketUnit }
