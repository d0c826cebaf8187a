/**
 * The session utilization report of `GET /utilization/sessions` (SPEC §5.4), over stored events.
 *
 * Two passes over the store: the lifecycle events of the window (a selector; as many as there are
 * sessions) to cut sessions, then every event of the window once, each handed to the sessions
 * containing it. Memory grows with sessions × (nodes + experiments), never with events. Upstream
 * instead re-queries the collection per session and per id (O(sessions × queries)).
 */
import { nowMicros } from '../event/index.js'
import { resolvedSessionName } from './extract.js'
import { ACTIVITY_TYPES } from './extract.js'
import { IntervalFeeder } from './feeder.js'
import { Lookups, type LookupMode } from './lookups.js'
import { ERROR_ANSWERS, parseTimeParam, presentTime, type TimeInput } from './params.js'
import { isoNaive, isoUtcAware, seconds } from './pytime.js'
import { SessionAccumulator, sessionEntry, type NameLookups, type SessionNumbers } from './session-stats.js'
import { LIFECYCLE_SELECTOR, LifecycleIndex, defaultSession, type Session } from './sessions.js'
import { analysisPeriod, eventsInRange, type ReportSource } from './source.js'

export interface ReportOptions {
  /**
   * Where names and workcell ids are looked up (SPEC §5.1). `database` (default): over the whole
   * store, as upstream. `range`: only in the analysed events, no extra queries.
   */
  lookups?: LookupMode
  /** Clock for `generated_at` and the default window, in epoch microseconds. Default: wall clock. */
  now?: () => number
  /** Filled with what the report read and held (for tests and benchmarks of memory flatness). */
  diagnostics?: ReportDiagnostics
}

/** What a report read from the store and how much state it kept. */
export interface ReportDiagnostics {
  /** Streamed passes over the store (lookups not counted). */
  passes: number
  /** Events those passes read. */
  eventsRead: number
  /** Session (or per-bucket session) accumulators. */
  sessions: number
  /** Largest state of one accumulator, and the sum over all (see `SessionAccumulator.stateSize`). */
  maxSessionState: number
  totalSessionState: number
  /** Workflows tracked for the user report; experiments tracked for the periods details. */
  workflows: number
  experiments: number
}

export function newDiagnostics(): ReportDiagnostics {
  return { passes: 0, eventsRead: 0, sessions: 0, maxSessionState: 0, totalSessionState: 0, workflows: 0, experiments: 0 }
}

/** Record the accumulators' state sizes (call before `finish()`). */
export function noteSessionState(d: ReportDiagnostics | undefined, accs: ReadonlyArray<{ stateSize: number }>): void {
  if (!d) return
  d.sessions += accs.length
  for (const a of accs) {
    d.maxSessionState = Math.max(d.maxSessionState, a.stateSize)
    d.totalSessionState += a.stateSize
  }
}

export interface SessionReportOptions extends ReportOptions {
  /** Window start; a string is parsed as the route does (naive = UTC). Missing: see SPEC §5.1. */
  startTime?: TimeInput | null
  endTime?: TimeInput | null
  /**
   * `resolved` (default): the session name from its start event (`event_data.name`,
   * `event_data.<type>_name`), as upstream intends. `upstream`: always `"<Type> <last8>"`, as
   * upstream's lookup by exact datetime never matches the stored strings.
   */
  sessionNames?: 'resolved' | 'upstream'
}

/** Report JSON as plain data. */
export type ReportJson = Record<string, unknown>

/** Sessions of one window with their numbers, plus what was seen on the way. */
export interface AnalysedWindow {
  start: number
  end: number
  sessions: SessionNumbers[]
  lookups: Lookups
}

/**
 * Find the sessions of [start, end] (with the default session when there are none, if asked) and
 * compute their numbers in one pass. `extra` sees every event of the window too.
 */
export async function analyseSessions(
  source: ReportSource,
  start: number,
  end: number,
  options: { lookups?: LookupMode; withDefault: boolean; diagnostics?: ReportDiagnostics },
): Promise<AnalysedWindow> {
  const d = options.diagnostics
  const index = new LifecycleIndex()
  for await (const item of eventsInRange(source, start, end, LIFECYCLE_SELECTOR)) {
    index.add(item)
    if (d) d.eventsRead++
  }
  if (d) d.passes++
  index.seal()
  let sessions: Session[] = index.sessions(start, end)
  if (sessions.length === 0 && options.withDefault) sessions = [defaultSession(start, end)]
  const accs = sessions.map((s) => Object.assign(new SessionAccumulator(s), { start: s.start, end: s.end }))
  const feeder = new IntervalFeeder(accs)
  const lookups = new Lookups(source, options.lookups)
  for await (const { event, t } of eventsInRange(source, start, end)) {
    if (d) d.eventsRead++
    lookups.observe(event)
    if (!ACTIVITY_TYPES.has(event.event_type)) continue
    for (const acc of feeder.at(t)) acc.add(event, t)
  }
  if (d) d.passes++
  noteSessionState(d, accs)
  const numbers = accs.map((a) => a.finish())
  for (const n of numbers) {
    for (const id of n.nodes.keys()) lookups.wantNode(id)
    for (const id of n.experiments) lookups.wantExperiment(id)
  }
  await lookups.resolve()
  return { start, end, sessions: numbers, lookups }
}

/** Session name as reported (see `sessionNames`). */
export function reportedSessionName(session: Session, mode: 'resolved' | 'upstream' = 'resolved'): string {
  if (session.type === 'default_analysis') return 'Complete Database Analysis'
  return resolvedSessionName(mode === 'resolved' ? session.startEvent : undefined, session.type, session.id)
}

/** `overall_summary` of a session report (§5.4). */
export function overallSummary(entries: ReportJson[], lookups: NameLookups, start: number, end: number): ReportJson {
  let runtime = 0
  let active = 0
  let experiments = 0
  for (const s of entries) {
    runtime += (s.duration_hours as number) ?? 0
    active += (s.active_time_hours as number) ?? 0
    experiments += (s.total_experiments as number) ?? 0
  }
  const valid = entries.filter((s) => !('error' in s))
  let utilSum = 0
  for (const s of valid) utilSum += (s.system_utilization_percent as number) ?? 0
  const nodes = new Map<string, { busy: number; utils: number[]; sessions: number }>()
  for (const s of valid) {
    for (const [id, data] of Object.entries(s.node_utilizations as Record<string, Record<string, number>>)) {
      if (lookups.isWorkcell(id)) continue
      let n = nodes.get(id)
      if (!n) nodes.set(id, (n = { busy: 0, utils: [], sessions: 0 }))
      n.busy += data.busy_time_hours ?? 0
      n.utils.push(data.utilization_percent ?? 0)
      n.sessions += 1
    }
  }
  const nodeSummary: ReportJson = {}
  for (const [id, n] of nodes) {
    let sum = 0
    for (const u of n.utils) sum += u
    nodeSummary[id] = {
      average_utilization_percent: n.utils.length ? sum / n.utils.length : 0,
      total_busy_time_hours: n.busy,
      sessions_active: n.sessions,
    }
  }
  return {
    total_sessions: entries.length,
    total_system_runtime_hours: runtime,
    total_active_time_hours: active,
    average_system_utilization_percent: valid.length ? utilSum / valid.length : 0,
    total_experiments: experiments,
    nodes_tracked: nodes.size,
    node_summary: nodeSummary,
    analysis_period: { start_time: isoNaive(start), end_time: isoNaive(end), duration_hours: seconds(start, end) / 3600 },
  }
}

/** The whole §5.4 report for an analysed window. */
export function sessionReportFrom(window: AnalysedWindow, generatedAt: number, names: 'resolved' | 'upstream' = 'resolved'): ReportJson {
  const entries = window.sessions.map((n) => sessionEntry(n, window.lookups, reportedSessionName(n.session, names)))
  return {
    report_metadata: {
      generated_at: isoUtcAware(generatedAt),
      analysis_start: isoNaive(window.start),
      analysis_end: isoNaive(window.end),
      total_sessions: entries.length,
      analysis_duration_hours: seconds(window.start, window.end) / 3600,
    },
    overall_summary: overallSummary(entries, window.lookups, window.start, window.end),
    session_details: entries,
  }
}

/**
 * `GET /utilization/sessions`: the session report, or upstream's error answer
 * (`{"error": "Failed to generate report: …"}`) for a bad time or a store failure.
 */
export async function sessionUtilizationReport(source: ReportSource, options: SessionReportOptions = {}): Promise<ReportJson> {
  const now = options.now ?? nowMicros
  try {
    const startIn = presentTime(options.startTime)
    const endIn = presentTime(options.endTime)
    const start = startIn === undefined ? undefined : parseTimeParam(startIn, 'utc')
    const end = endIn === undefined ? undefined : parseTimeParam(endIn, 'utc')
    const period = await analysisPeriod(source, start, end, now())
    const window = await analyseSessions(source, period.start, period.end, { lookups: options.lookups, withDefault: true, diagnostics: options.diagnostics })
    return sessionReportFrom(window, now(), options.sessionNames)
  } catch (err) {
    return ERROR_ANSWERS.sessions(err)
  }
}
