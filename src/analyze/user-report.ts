/**
 * The per-author workflow report of `GET /utilization/user` (SPEC §5.5): `workflow_start` and
 * `workflow_complete` events of a window, grouped by `event_data.workflow_id`, then by author.
 * State is one small record per workflow.
 */
import type { Event } from '../event/index.js'
import { nowMicros } from '../event/index.js'
import { authorOf, completionStatusOf, floatOf, workflowNameOf } from './extract.js'
import { dictGet, isDict, pyKey, pyRound, pyStr, pyTruthy } from './pynum.js'
import { isoNaive, isoUtcAware, seconds } from './pytime.js'
import { ERROR_ANSWERS, parseTimeParam, presentTime, type TimeInput } from './params.js'
import type { ReportDiagnostics, ReportJson, ReportOptions } from './session-report.js'
import { analysisPeriod, eventsInRange, type ReportSource } from './source.js'
import { timestampMicros } from '../event/index.js'

export const WORKFLOW_SELECTOR = { event_type: { $in: ['workflow_start', 'workflow_complete'] } }

interface Workflow {
  id: string
  name: string
  author: string | undefined
  start: number | null
  end: number | null
  status: string
  durationSeconds: number | null
  // The cruder "system totals" view (§5.5): raw values of the first / last complete event.
  rawAuthor: unknown
  rawDuration: unknown
  rawStatus: unknown
}

/** Collects workflow events (any order of calls, in time order) and builds the §5.5 report. */
export class UserReportAccumulator {
  readonly #workflows = new Map<string, Workflow>()

  get size(): number {
    return this.#workflows.size
  }

  add(event: Event, t: number): void {
    const type = event.event_type
    if (type !== 'workflow_start' && type !== 'workflow_complete') return
    const data = isDict(event.event_data) ? event.event_data : {}
    const rawId = data.workflow_id
    if (!pyTruthy(rawId)) return
    const key = pyKey(rawId)
    let wf = this.#workflows.get(key)
    if (!wf) {
      wf = {
        id: pyStr(rawId),
        name: workflowNameOf(data),
        author: authorOf(data),
        start: null,
        end: null,
        status: 'unknown',
        durationSeconds: null,
        rawAuthor: dictGet(data, 'author'),
        rawDuration: null,
        rawStatus: 'unknown',
      }
      this.#workflows.set(key, wf)
    }
    if (!wf.author) wf.author = authorOf(data)
    if (type.includes('start')) {
      wf.start = t
      wf.status = 'started'
    } else {
      wf.end = t
      wf.status = completionStatusOf(data)
      wf.durationSeconds = durationOf(wf, data)
      wf.rawDuration = dictGet(data, 'duration_seconds') ?? null
      wf.rawStatus = Object.prototype.hasOwnProperty.call(data, 'status') ? data.status : 'completed'
    }
  }

  /** `user_utilization` and the system totals. */
  build(start: number, end: number, generatedAt: number): ReportJson {
    const users = new Map<string, ReportJson & { workflows: ReportJson[] }>()
    for (const wf of this.#workflows.values()) {
      const author = wf.author?.trim() || 'Unknown Author'
      let u = users.get(author)
      if (!u) {
        u = {
          author,
          total_workflows: 0,
          completed_workflows: 0,
          failed_workflows: 0,
          cancelled_workflows: 0,
          total_runtime_hours: 0,
          average_workflow_duration_hours: 0,
          shortest_workflow_hours: null,
          longest_workflow_hours: null,
          completion_rate_percent: 0,
          workflows: [],
        }
        users.set(author, u)
      }
      ;(u.total_workflows as number)++
      if (wf.status === 'completed') (u.completed_workflows as number)++
      else if (wf.status === 'failed') (u.failed_workflows as number)++
      else if (wf.status === 'cancelled') (u.cancelled_workflows as number)++
      if (wf.durationSeconds !== null) {
        const h = wf.durationSeconds / 3600
        u.total_runtime_hours = (u.total_runtime_hours as number) + h
        if (u.shortest_workflow_hours === null || h < (u.shortest_workflow_hours as number)) u.shortest_workflow_hours = h
        if (u.longest_workflow_hours === null || h > (u.longest_workflow_hours as number)) u.longest_workflow_hours = h
      }
      u.workflows.push({
        workflow_id: wf.id,
        workflow_name: wf.name || 'Unknown',
        start_time: wf.start === null ? null : isoNaive(wf.start),
        end_time: wf.end === null ? null : isoNaive(wf.end),
        duration_hours: wf.durationSeconds === null ? null : wf.durationSeconds / 3600,
        status: wf.status || 'unknown',
      })
    }
    const userUtilization: ReportJson = {}
    for (const [author, u] of users) {
      const total = u.total_workflows as number
      if (total > 0) u.completion_rate_percent = pyRound(((u.completed_workflows as number) / total) * 100, 2)
      const withDuration = u.workflows.filter((w) => w.duration_hours !== null)
      if (withDuration.length) {
        let sum = 0
        for (const w of withDuration) sum += w.duration_hours as number
        u.average_workflow_duration_hours = pyRound(sum / withDuration.length, 3)
      }
      u.total_runtime_hours = pyRound(u.total_runtime_hours as number, 2)
      if (u.shortest_workflow_hours !== null) u.shortest_workflow_hours = pyRound(u.shortest_workflow_hours as number, 3)
      if (u.longest_workflow_hours !== null) u.longest_workflow_hours = pyRound(u.longest_workflow_hours as number, 3)
      userUtilization[author] = u
    }
    const totals = this.#systemTotals()
    return {
      report_metadata: {
        generated_at: isoUtcAware(generatedAt),
        analysis_start: isoNaive(start),
        analysis_end: isoNaive(end),
        total_workflows: totals.total,
        total_users: users.size,
        workflows_with_authors: totals.withAuthors,
        workflows_without_authors: totals.total - totals.withAuthors,
      },
      system_summary: {
        total_workflows: totals.total,
        total_runtime_hours: pyRound(totals.runtimeSeconds / 3600, 2),
        average_workflow_duration_hours: pyRound(totals.averageHours, 3),
        completion_rate_percent: pyRound(totals.total > 0 ? (totals.completed / totals.total) * 100 : 0, 2),
        workflows_with_known_authors: totals.withAuthors,
        author_attribution_rate_percent: pyRound(totals.total > 0 ? (totals.withAuthors / totals.total) * 100 : 0, 2),
      },
      user_utilization: userUtilization,
    }
  }

  /** Upstream's separate, cruder totals: raw author of the first event, raw duration/status of the last complete. */
  #systemTotals(): { total: number; withAuthors: number; completed: number; runtimeSeconds: number; averageHours: number } {
    let withAuthors = 0
    let completed = 0
    let runtime = 0
    let count = 0
    for (const wf of this.#workflows.values()) {
      // A non-string author makes upstream's `.strip()` raise; it counts as no author here.
      if (typeof wf.rawAuthor === 'string' && wf.rawAuthor.trim()) withAuthors++
      if (wf.rawStatus === 'completed') completed++
      const d = typeof wf.rawDuration === 'number' && Number.isFinite(wf.rawDuration) ? wf.rawDuration : null
      if (d !== null) {
        runtime += d
        count++
      }
    }
    const total = this.#workflows.size
    return { total, withAuthors, completed, runtimeSeconds: runtime, averageHours: count ? runtime / count / 3600 : 0 }
  }
}

function durationOf(wf: Workflow, data: Record<string, unknown>): number | null {
  const explicit = dictGet(data, 'duration_seconds')
  if (explicit !== undefined && explicit !== null) {
    const f = floatOf(explicit)
    if (f !== undefined) return f
  }
  if (wf.start !== null && wf.end !== null) return seconds(wf.start, wf.end)
  const s = dictGet(data, 'start_time')
  const e = dictGet(data, 'end_time')
  if (pyTruthy(s) && pyTruthy(e) && typeof s === 'string' && typeof e === 'string') {
    const a = timestampMicros(s)
    const b = timestampMicros(e)
    if (!Number.isNaN(a) && !Number.isNaN(b)) return seconds(a, b)
  }
  return null
}

export interface UserReportOptions extends ReportOptions {
  /** Window start; a string is parsed as the route does (naive = UTC). Missing: see SPEC §5.1. */
  startTime?: TimeInput | null
  endTime?: TimeInput | null
}

/** Build the §5.5 report for [start, end] (one pass over the window's workflow events). */
export async function buildUserReport(
  source: ReportSource,
  start: number,
  end: number,
  generatedAt: number,
  diagnostics?: ReportDiagnostics,
): Promise<ReportJson> {
  const acc = new UserReportAccumulator()
  for await (const { event, t } of eventsInRange(source, start, end, WORKFLOW_SELECTOR)) {
    acc.add(event, t)
    if (diagnostics) diagnostics.eventsRead++
  }
  if (diagnostics) {
    diagnostics.passes++
    diagnostics.workflows = acc.size
  }
  return acc.build(start, end, generatedAt)
}

/**
 * `GET /utilization/user`: the per-author report, or upstream's error answer for a bad time
 * (`Failed to generate report: …`) or a failure while building it (`Failed to generate user report: …`).
 */
export async function userUtilizationReport(source: ReportSource, options: UserReportOptions = {}): Promise<ReportJson> {
  const now = options.now ?? nowMicros
  let start: number | undefined
  let end: number | undefined
  try {
    const startIn = presentTime(options.startTime)
    const endIn = presentTime(options.endTime)
    start = startIn === undefined ? undefined : parseTimeParam(startIn, 'utc')
    end = endIn === undefined ? undefined : parseTimeParam(endIn, 'utc')
  } catch (err) {
    return ERROR_ANSWERS.user(err)
  }
  try {
    const period = await analysisPeriod(source, start, end, now())
    return await buildUserReport(source, period.start, period.end, now(), options.diagnostics)
  } catch (err) {
    return ERROR_ANSWERS.userReport(err)
  }
}
