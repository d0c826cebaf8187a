/**
 * Conformance of the utilization reports with the Python MADSci Event Manager 0.8.1 (issue 7).
 *
 * One generated history (CONFORMANCE_DATASET, ≥10 k events over workcell and lab sessions, four
 * nodes, experiments, workflows by five authors and log noise) is analysed twice: by MADSci's own
 * route handlers, run in one Python process by scripts/python/utilization_reports.py over a
 * collection with MongoDB's query semantics, and by our report functions. The answers must agree
 * number for number (relative 1e-9) except in the fields KNOWN_DIFFERENCES lists, each of which is
 * a documented upstream defect (SPEC §9, README "Differences from MADSci"). For the periods report
 * the answer upstream means to give (D7: with `user_utilization`) is compared too. A second, busier
 * history (several actions per workflow on three nodes per workcell, log events inside sessions)
 * runs a subset of the jobs. Last, a small history goes through the real Python Event Manager over
 * HTTP on FerretDB, whose answers must equal the in-process ones (so the in-process run is the
 * server's behaviour, not an artefact of the adapter) and ours. A hand-written history covers the
 * field variants the generator does not write (names and ids in their other places, dict statuses,
 * durations from event data, events exactly on window bounds, a node that is also a manager id).
 */
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script
import { runPythonClient, startPythonEventManager } from '../../scripts/lib/python-peer.mjs'
import { sessionUtilizationReport, userUtilizationReport, utilizationPeriodsReport, eventsReader, type ReportJson } from '../../src/analyze/index.js'
import { type Event, eventToDocument, parseEvent } from '../../src/event/index.js'
import { ALWAYS_IGNORED, compareReports, KNOWN_DIFFERENCES, type CompareOptions, type Difference } from '../fixtures/utilization-compare.js'
import { CONFORMANCE_DATASET, makeDataset, naiveIso, type Dataset, type DatasetOptions } from '../fixtures/utilization-dataset.js'

const python = inject('python')
const mongoUrl = inject('mongoUrl')
const SCRIPT = new URL('../../scripts/python/utilization_reports.py', import.meta.url).pathname

type Route = 'sessions' | 'user' | 'periods'
interface Job {
  name: string
  route: Route
  /** The route's query parameters, as strings (what an HTTP client would send). */
  params: Record<string, string | boolean>
}

interface UpstreamResult {
  answer: ReportJson
  /** periods only: the report with add_user_utilization_to_report's return value (what D7 drops). */
  with_users?: ReportJson
}

interface UpstreamRun {
  results: Record<string, UpstreamResult>
  stats: { documents: number; queries: number; distinct_queries: number; seconds: number; route_errors: Array<{ level: string; message: string; error: string }> }
}

// The history spans 2025-01-06T00:00 – 2025-01-11T00:00 UTC (January: no DST change anywhere).
const WHOLE = { start_time: '2025-01-06T00:00:00Z', end_time: '2025-01-11T00:00:00Z' }
const JOBS: Job[] = [
  { name: 'sessions, whole database', route: 'sessions', params: {} },
  { name: 'sessions, window cutting sessions', route: 'sessions', params: { start_time: '2025-01-07T06:30:00', end_time: '2025-01-09T18:15:00' } },
  { name: 'sessions, start only (+24 h), offset form', route: 'sessions', params: { start_time: '2025-01-08T03:00:00+02:00' } },
  { name: 'user, whole database', route: 'user', params: {} },
  { name: 'user, window', route: 'user', params: { start_time: '2025-01-07T00:00:00Z', end_time: '2025-01-09T12:00:00Z' } },
  { name: 'periods daily UTC', route: 'periods', params: { ...WHOLE, analysis_type: 'daily', user_timezone: 'UTC' } },
  { name: 'periods daily America/Chicago (default zone)', route: 'periods', params: { start_time: '2025-01-06T00:00:00', end_time: '2025-01-10T23:00:00' } },
  { name: 'periods daily Asia/Kolkata', route: 'periods', params: { ...WHOLE, analysis_type: 'daily', user_timezone: 'Asia/Kolkata' } },
  { name: 'periods weekly UTC', route: 'periods', params: { ...WHOLE, analysis_type: 'weekly', user_timezone: 'UTC' } },
  { name: 'periods weekly America/New_York, mid-week start', route: 'periods', params: { start_time: '2025-01-07T10:00:00Z', end_time: '2025-01-10T20:00:00Z', analysis_type: 'weekly', user_timezone: 'America/New_York' } },
  { name: 'periods monthly UTC', route: 'periods', params: { ...WHOLE, analysis_type: 'monthly', user_timezone: 'UTC' } },
  { name: 'periods monthly Asia/Tokyo', route: 'periods', params: { start_time: '2025-01-06T12:00:00Z', end_time: '2025-01-10T12:00:00Z', analysis_type: 'monthly', user_timezone: 'Asia/Tokyo' } },
  { name: 'periods hourly UTC, 14 h', route: 'periods', params: { start_time: '2025-01-07T04:30:00Z', end_time: '2025-01-07T18:30:00Z', analysis_type: 'hourly', user_timezone: 'UTC' } },
  { name: 'periods unknown type (daily buckets, hourly aggregation)', route: 'periods', params: { ...WHOLE, analysis_type: 'quarterly', user_timezone: 'Europe/Berlin' } },
  { name: 'periods unknown zone (UTC)', route: 'periods', params: { ...WHOLE, analysis_type: 'daily', user_timezone: 'Mars/Olympus_Mons' } },
  { name: 'periods without end (error answer)', route: 'periods', params: { start_time: '2025-01-06T00:00:00Z' } },
  { name: 'periods start after end (error answer)', route: 'periods', params: { start_time: '2025-01-09T00:00:00Z', end_time: '2025-01-08T00:00:00Z', analysis_type: 'daily', user_timezone: 'UTC' } },
]

/**
 * Busier sessions (2025-01-06 – 2025-01-09): 1–4 workflows per experiment, 2–6 actions per
 * workflow on three nodes per workcell (overlapping busy periods), progress logs and node warnings
 * inside sessions, experiment events that name their workcell. Fewer events, as upstream's cost
 * grows with activity × events.
 */
const BUSY_DATASET: DatasetOptions = { seed: 5, days: 3, workcells: 3, nodesPerWorkcell: 3, activity: 'full', noiseEvents: 500, minEvents: 0 }
const BUSY_JOBS = JOBS.filter((j) =>
  ['sessions, whole database', 'user, whole database', 'periods daily America/Chicago (default zone)', 'periods weekly UTC', 'periods monthly UTC', 'periods hourly UTC, 14 h'].includes(j.name),
)

/**
 * Hand-written events for the field variants of SPEC §5.1–5.5 that makeDataset does not produce.
 * Times are minutes after 2025-01-06T08:00Z; every timestamp is distinct.
 */
function edgeHistory(): Dataset {
  const id = (n: number): string => `01JH${String(n).padStart(22, '0')}`
  const [WC, WC2, LAB, N1, N2, N3, MN] = [1, 2, 3, 11, 12, 13, 14].map(id)
  const t0 = Date.UTC(2025, 0, 6, 8) * 1000
  const raw: Array<Record<string, unknown>> = []
  let seq = 0
  const ev = (minute: number, type: string, source: Record<string, string>, data: Record<string, unknown>): void => {
    raw.push({ event_id: id(1000 + ++seq), event_type: type, log_level: 20, event_timestamp: naiveIso(Math.round(t0 + minute * 60e6)), source, event_data: data })
  }
  // A workcell whose name starts with "Workcell " (skipped by the name rule); its stop names it in event_data.
  ev(0, 'workcell_start', { workcell_id: WC }, { name: 'Workcell special', workcell_name: '  ' })
  ev(1, 'node_start', { node_id: N1, workcell_id: WC }, { node_name: '  Robot arm  ', node_id: N1 })
  ev(1.5, 'node_start', {}, { node_id: N2, node_name: 'Liquid handler' })
  // Experiment ids and names in each of their places; one started twice, one ended but never started.
  ev(2, 'experiment_start', {}, { experiment_id: id(500), experiment_name: 'Direct name' })
  ev(2.5, 'experiment_start', {}, { experiment: { _id: id(501), name: 'Nested name' } })
  ev(3, 'experiment_start', { experiment_id: id(502) }, { experiment: { run_name: 'Run only' } })
  ev(3.2, 'experiment_start', { experiment_id: id(502) }, {})
  // Action ids in task_id / action / id, statuses outside both lists, a node named by event_data only.
  ev(4, 'action_status_change', { node_id: N1 }, { task_id: 'task-1', status: 'running' })
  ev(5, 'action_status_change', { node_id: N1 }, { action: 'a-2', status: 'in_progress' })
  ev(6, 'action_status_change', { node_id: N1 }, { task_id: 'task-1', status: 'cancelled' })
  ev(7, 'action_status_change', { node_id: N1 }, { action: 'a-2', status: 'paused' })
  ev(8, 'action_status_change', {}, { node_id: N2, id: 'x-1', status: 'started' })
  ev(9, 'action_status_change', {}, { node_name: N3, status: 'running' })
  ev(10, 'node_status_update', { node_id: N2 }, { status: 'busy' })
  ev(11, 'action_status_change', {}, { node_id: N2, id: 'x-1', status: 'succeeded' })
  ev(12, 'experiment_complete', {}, { experiment_id: id(500), status: 'completed' })
  ev(13, 'experiment_cancelled', {}, { experiment: { experiment_id: id(501) } })
  ev(14, 'experiment_failed', { experiment_id: id(999) }, {})
  // Workflows: workflow_name, authors in metadata (padded, blank), dict statuses, durations from
  // duration_seconds (0 too), from start/end events, from event_data times; one without an id.
  ev(20, 'workflow_start', { workflow_id: id(600) }, { workflow_id: id(600), workflow_name: 'by workflow_name', workflow_definition_metadata: { author: '  Grace  ' } })
  ev(21, 'workflow_start', {}, { workflow_id: id(601), author: '', definition_metadata: { author: 'Ada' } })
  ev(22, 'workflow_start', {}, { workflow_id: id(602), name: 'no end', author: 'Ada' })
  ev(25, 'workflow_complete', {}, { workflow_id: id(600), status: { completed: true, failed: false } })
  ev(26, 'workflow_complete', {}, { workflow_id: id(601), status: { running: true }, duration_seconds: 0 })
  ev(27, 'workflow_complete', {}, { workflow_id: id(603), name: 'no start', author: 'Alan', status: 'succeeded', duration_seconds: 90 })
  ev(28, 'workflow_start', {}, { workflow_id: id(604), name: 'times in data', author: 'Alan', start_time: naiveIso(t0) })
  ev(29, 'workflow_complete', {}, { workflow_id: id(604), status: { description: 'Workflow FAILED at step 2' }, end_time: naiveIso(t0 + 3600e6) })
  ev(30, 'workflow_complete', {}, { workflow_id: id(605), status: { description: 'nothing to see' } })
  ev(31, 'workflow_start', {}, { name: 'no id', author: 'Alan' })
  ev(32, 'log_info', { node_id: N1 }, { message: 'a log inside the session' })
  ev(40, 'node_stop', { node_id: N1 }, {})
  ev(41, 'action_status_change', { node_id: N1 }, { action_id: 'after-stop', status: 'running' })
  ev(50, 'workcell_stop', {}, { workcell_id: WC })
  // A workcell identified in event_data, started again without a stop.
  ev(45, 'workcell_start', {}, { workcell_id: WC2, lab_name: 'lab name of a workcell' })
  ev(46, 'action_status_change', { node_id: N3, workcell_id: WC2 }, { action_id: 'b1', status: 'running' })
  ev(60, 'workcell_start', {}, { workcell_id: WC2 })
  ev(61, 'experiment_start', { workcell_id: WC2 }, { experiment_id: id(510) })
  ev(90, 'action_status_change', { node_id: N3 }, { action_id: 'b1', status: 'completed' })
  // A lab named by lab_name only; an experiment named by its design after every session.
  ev(70, 'lab_start', { manager_id: LAB }, { lab_name: 'The lab' })
  ev(120, 'lab_stop', { manager_id: LAB }, {})
  ev(130, 'experiment_start', { experiment_id: id(520) }, { experiment: { experiment_design: { experiment_name: 'Design name' } } })
  // Later: a 30 s and a 12 min experiment, overlapping actions, a node that is also a manager id,
  // a node started and stopped twice, windows that begin and end exactly on events.
  ev(200, 'workcell_start', { workcell_id: WC }, { workcell_name: 'Line A' })
  ev(200.5, 'experiment_start', { experiment_id: id(530) }, {})
  ev(201, 'experiment_complete', { experiment_id: id(530) }, { status: 'ok' })
  ev(201.5, 'experiment_start', { experiment_id: id(531) }, {})
  ev(213.5, 'experiment_complete', { experiment_id: id(531) }, {})
  ev(202, 'action_status_change', { node_id: MN }, { action_id: 'm1', status: 'running' })
  ev(203, 'log_warning', { manager_id: MN }, { message: 'this node id is also a manager id' })
  ev(204, 'action_status_change', { node_id: N3, workcell_id: WC }, { action_id: 'c1', status: 'running' })
  ev(204.25, 'action_status_change', { node_id: N3, workcell_id: WC }, { action_id: 'c2', status: 'started' })
  ev(206, 'action_status_change', { node_id: N3, workcell_id: WC }, { action_id: 'c1', status: 'failed' })
  ev(207, 'action_status_change', { node_id: N3, workcell_id: WC }, { action_id: 'c2', status: 'finished' })
  ev(208, 'node_start', { node_id: N3 }, {})
  ev(209, 'node_stop', { node_id: N3 }, {})
  ev(210, 'node_stop', { node_id: N3 }, {})
  // What Python services really store (SPEC §5.1): lifecycle types as log_info with
  // event_data.event_type, which every analyzer leaves out; a workflow cancelled by its flag.
  ev(220, 'log_info', { workcell_id: WC2 }, { event_type: 'workcell_start', workcell_id: WC2, message: 'python-style' })
  ev(221, 'log_info', { node_id: N2 }, { event_type: 'action_status_change', action_id: 'p1', status: 'running' })
  ev(222, 'log_info', { experiment_id: id(777) }, { event_type: 'experiment_start', experiment_id: id(777) })
  ev(224, 'workflow_complete', {}, { workflow_id: id(701), name: 'cancelled flag', author: 'Ada', status: { cancelled: true } })
  ev(300, 'workcell_stop', { workcell_id: WC }, {})
  ev(301, 'workcell_start', { workcell_id: WC }, { name: 'Line A again' })
  ev(302, 'experiment_start', { experiment_id: id(540) }, {})
  raw.sort((a, b) => ((a.event_timestamp as string) < (b.event_timestamp as string) ? -1 : 1))
  const events: Event[] = raw.map((r) => parseEvent(r))
  const stamps = new Set(events.map((e) => e.event_timestamp))
  if (stamps.size !== events.length) throw new Error('edge history: timestamps must be distinct')
  return { events, workcells: [WC, WC2], labs: [LAB], nodes: [N1, N2, N3], authors: ['Grace', 'Ada', 'Alan'], firstMs: t0 / 1000, lastMs: t0 / 1000 + 302 * 60_000 }
}

const EDGE_START = '2025-01-06T07:00:00'
const EDGE_END = '2025-01-06T14:00:00'
const EDGE_JOBS: Job[] = [
  { name: 'sessions, whole database', route: 'sessions', params: {} },
  { name: 'sessions, window from inside the first session', route: 'sessions', params: { start_time: '2025-01-06T08:10:00', end_time: EDGE_END } },
  { name: 'sessions, window exactly on a start and a stop', route: 'sessions', params: { start_time: '2025-01-06T11:20:00', end_time: '2025-01-06T13:00:00' } },
  { name: 'user, whole database', route: 'user', params: {} },
  { name: 'user, window exactly on events', route: 'user', params: { start_time: '2025-01-06T08:20:00', end_time: '2025-01-06T08:27:00' } },
  ...['daily', 'weekly', 'monthly', 'hourly'].map((t): Job => ({ name: `periods ${t} UTC`, route: 'periods', params: { start_time: EDGE_START, end_time: EDGE_END, analysis_type: t, user_timezone: 'UTC' } })),
  { name: 'periods daily America/Chicago', route: 'periods', params: { start_time: EDGE_START, end_time: EDGE_END, analysis_type: 'daily', user_timezone: 'America/Chicago' } },
  { name: 'periods hourly, window exactly on events', route: 'periods', params: { start_time: '2025-01-06T11:20:00', end_time: '2025-01-06T13:01:00', analysis_type: 'hourly', user_timezone: 'UTC' } },
  { name: 'periods hourly Asia/Kolkata, offset times', route: 'periods', params: { start_time: '2025-01-06T12:30:00+05:30', end_time: '2025-01-06T20:00:00+05:30', analysis_type: 'hourly', user_timezone: 'Asia/Kolkata' } },
  { name: 'periods daily America/Chicago, offset times', route: 'periods', params: { start_time: '2025-01-06T02:00:00-06:00', end_time: '2025-01-06T09:00:00-06:00', analysis_type: 'daily', user_timezone: 'America/Chicago' } },
  { name: 'sessions, offset times', route: 'sessions', params: { start_time: '2025-01-06T12:30:00+05:30', end_time: '2025-01-06T20:00:00+05:30' } },
  { name: 'sessions, end only (-24 h)', route: 'sessions', params: { end_time: '2025-01-06T12:00:00Z' } },
  { name: 'user, end only (-24 h)', route: 'user', params: { end_time: '2025-01-06T12:00:00Z' } },
]

/** Run upstream's route handlers in one Python process over `ds` (TZ=UTC, as the test server). */
async function runUpstream(ds: Dataset, jobs: Job[]): Promise<UpstreamRun> {
  return (await runPythonClient({
    python,
    file: SCRIPT,
    input: { documents: ds.events.map(eventToDocument), jobs },
    env: { TZ: 'UTC' },
    timeoutMs: 170_000,
  })) as UpstreamRun
}

/** Our report for a job, with the route's parameters (the Python side runs with TZ=UTC). */
async function ours(ds: Dataset, job: Job, sessionNames: 'resolved' | 'upstream' = 'resolved'): Promise<ReportJson> {
  const reader = eventsReader(ds.events)
  const p = job.params
  const startTime = (p.start_time as string | undefined) ?? null
  const endTime = (p.end_time as string | undefined) ?? null
  if (job.route === 'sessions') return sessionUtilizationReport(reader, { startTime, endTime, sessionNames })
  if (job.route === 'user') return userUtilizationReport(reader, { startTime, endTime })
  return utilizationPeriodsReport(reader, {
    startTime,
    endTime,
    analysisType: p.analysis_type as string | undefined,
    userTimezone: p.user_timezone as string | undefined,
    includeUsers: true,
    naiveTimeZone: 'UTC',
  })
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function matches(pattern: string, path: string): boolean {
  const p = pattern.split('.')
  const q = path.split('.')
  return p.length === q.length && p.every((part, i) => part === '*' || part === q[i])
}

/** Numbers and strings in `value` outside the ignored paths: the leaves a comparison checks. */
function countLeaves(value: unknown, ignore: string[] = [], path = ''): { numbers: number; strings: number } {
  if (path && ignore.some((p) => matches(p, path))) return { numbers: 0, strings: 0 }
  if (typeof value === 'number') return { numbers: 1, strings: 0 }
  if (typeof value === 'string') return { numbers: 0, strings: 1 }
  const total = { numbers: 0, strings: 0 }
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : isObject(value) ? Object.entries(value) : []
  for (const [k, v] of entries) {
    const sub = countLeaves(v, ignore, path ? `${path}.${k}` : k)
    total.numbers += sub.numbers
    total.strings += sub.strings
  }
  return total
}

function describeDiffs(diffs: Difference[]): string {
  return diffs
    .slice(0, 15)
    .map((d) => `${d.path} (${d.why}): ours ${JSON.stringify(d.ours)?.slice(0, 160)} / upstream ${JSON.stringify(d.theirs)?.slice(0, 160)}`)
    .join('\n')
}

/** One test per job comparing ours with upstream's answers; records the numbers compared in `leaves`. */
function compareJobs(label: string, get: () => { ds: Dataset; upstream: UpstreamRun }, jobs: Job[], leaves: Map<string, number>): void {
  for (const job of jobs) {
    it(`${label} ${job.route}: ${job.name}`, async () => {
      const { ds, upstream } = get()
      const theirs = upstream.results[job.name]
      const mine = await ours(ds, job)
      const known = KNOWN_DIFFERENCES[job.route]
      const diffs = compareReports(mine, theirs.answer, known)
      expect(diffs, describeDiffs(diffs)).toEqual([])
      // Same keys in the same order at the top level (the JSON shape the server returns).
      const topKeys = (r: ReportJson): string[] => Object.keys(r).filter((k) => !(known.ignore ?? []).includes(k))
      expect(topKeys(mine)).toEqual(topKeys(theirs.answer))
      leaves.set(`${label} ${job.name}`, countLeaves(theirs.answer, known.ignore).numbers)

      if (job.route === 'sessions') {
        // With upstream's session names, the names agree too.
        const named = await ours(ds, job, 'upstream')
        const strict: CompareOptions = { ...known, ignore: ALWAYS_IGNORED }
        const nameDiffs = compareReports(named, theirs.answer, strict)
        expect(nameDiffs, describeDiffs(nameDiffs)).toEqual([])
      }
      if (job.route === 'periods' && !('error' in theirs.answer)) {
        // D7: the route drops user_utilization on success; the report it builds and drops equals ours.
        expect(theirs.answer).not.toHaveProperty('user_utilization')
        const intended = theirs.with_users as ReportJson
        expect(Object.keys(intended)).toEqual(Object.keys(mine))
        const intendedDiffs = compareReports(mine, intended, { ignore: ALWAYS_IGNORED })
        expect(intendedDiffs, describeDiffs(intendedDiffs)).toEqual([])
      }
    })
  }
}

describe('utilization reports equal the Python Event Manager 0.8.1 (its route handlers in-process)', () => {
  let ds: Dataset
  let upstream: UpstreamRun
  let busy: Dataset
  let busyUpstream: UpstreamRun
  let edge: Dataset
  let edgeUpstream: UpstreamRun
  const leaves = new Map<string, number>()

  beforeAll(async () => {
    ds = makeDataset(CONFORMANCE_DATASET)
    busy = makeDataset(BUSY_DATASET)
    edge = edgeHistory()
    ;[upstream, busyUpstream, edgeUpstream] = await Promise.all([runUpstream(ds, JOBS), runUpstream(busy, BUSY_JOBS), runUpstream(edge, EDGE_JOBS)])
  }, 180_000)

  it('ran every route on a ≥10 k-event history with sessions, nodes, experiments and authors in it', () => {
    expect(ds.events.length).toBeGreaterThanOrEqual(10_000)
    expect(upstream.stats.documents).toBe(ds.events.length)
    // The route handlers logged nothing (their error paths log through the server's logger).
    expect(upstream.stats.route_errors).toEqual([])
    expect(busyUpstream.stats.route_errors).toEqual([])
    expect(edgeUpstream.stats.route_errors).toEqual([])
    expect(Object.keys(upstream.results).sort()).toEqual(JOBS.map((j) => j.name).sort())
    const sessions = upstream.results['sessions, whole database'].answer as Record<string, any>
    expect(sessions.overall_summary.total_sessions).toBeGreaterThanOrEqual(5)
    expect(new Set(sessions.session_details.map((s: any) => s.session_type))).toEqual(new Set(['workcell', 'lab']))
    expect(sessions.overall_summary.nodes_tracked).toBe(ds.nodes.length)
    expect(sessions.overall_summary.total_experiments).toBeGreaterThanOrEqual(10)
    const users = upstream.results['user, whole database'].answer as Record<string, any>
    expect(Object.keys(users.user_utilization).length).toBeGreaterThanOrEqual(4)
    expect(users.report_metadata.workflows_without_authors).toBeGreaterThan(0)
    const daily = upstream.results['periods daily UTC'].answer as Record<string, any>
    expect(daily.summary_metadata.total_periods).toBe(5)
    expect(daily.key_metrics.active_periods).toBeGreaterThanOrEqual(3)
    for (const job of JOBS) {
      const answer = upstream.results[job.name].answer
      expect('error' in answer, `${job.name}: ${String(answer.error)}`).toBe(job.name.includes('error answer'))
    }
    const busySessions = busyUpstream.results['sessions, whole database'].answer as Record<string, any>
    expect(busySessions.overall_summary.nodes_tracked).toBe(busy.nodes.length)
    expect((busyUpstream.results['user, whole database'].answer as any).report_metadata.total_workflows).toBeGreaterThan(50)
  })

  compareJobs('conformance', () => ({ ds, upstream }), JOBS, leaves)
  compareJobs('busy', () => ({ ds: busy, upstream: busyUpstream }), BUSY_JOBS, leaves)
  compareJobs('edge', () => ({ ds: edge, upstream: edgeUpstream }), EDGE_JOBS, leaves)

  it('the edge history reaches the paths it was written for', () => {
    const sessions = edgeUpstream.results['sessions, whole database'].answer as Record<string, any>
    expect(sessions.session_details.map((s: any) => s.session_type)).toEqual(['workcell', 'workcell', 'workcell', 'lab', 'workcell', 'workcell'])
    // Names from every place they can be (trimmed node name, experiment name variants).
    const names = new Set(sessions.session_details.flatMap((s: any) => s.experiment_details.map((e: any) => e.experiment_name)))
    for (const n of ['Direct name', 'Nested name', 'Run only']) expect(names.has(n), n).toBe(true)
    const users = edgeUpstream.results['user, whole database'].answer as Record<string, any>
    expect(Object.keys(users.user_utilization).sort()).toEqual(['Ada', 'Alan', 'Grace', 'Unknown Author'])
    // The workcell peak without a time-series point ('Peak utilization: X%', fixed in ours).
    const hourly = JSON.stringify(edgeUpstream.results['periods hourly UTC'].answer)
    expect(hourly).toMatch(/Peak utilization: \d+(\.\d+)?%/)
  })

  it('compared a meaningful number of numbers', () => {
    const total = [...leaves.values()].reduce((a, b) => a + b, 0)
    expect(leaves.size).toBe(JOBS.length + BUSY_JOBS.length + EDGE_JOBS.length)
    for (const [name, n] of leaves) if (!name.includes('error answer')) expect(n, name).toBeGreaterThan(20)
    expect(total).toBeGreaterThan(3_000)
  })
})

describe('the in-process run equals the Python Event Manager over HTTP on FerretDB (small history)', () => {
  const SMALL: DatasetOptions = { days: 1, workcells: 2, nodesPerWorkcell: 2, activity: 'light', noiseEvents: 250, minEvents: 0 }
  const HTTP_JOBS: Job[] = [
    { name: 'sessions', route: 'sessions', params: {} },
    { name: 'user', route: 'user', params: {} },
    { name: 'periods daily', route: 'periods', params: { start_time: '2025-01-06T00:00:00Z', end_time: '2025-01-07T00:00:00Z', analysis_type: 'daily', user_timezone: 'America/Chicago' } },
  ]
  const databaseName = `conformance_utilization_${process.pid}`
  let ds: Dataset
  let inProcess: UpstreamRun
  let em: { url: string; stop(): Promise<void> } | undefined
  const http = new Map<string, ReportJson>()

  beforeAll(async () => {
    ds = makeDataset(SMALL)
    const client = new MongoClient(mongoUrl)
    try {
      await client.connect()
      await client.db(databaseName).collection('events').insertMany(ds.events.map(eventToDocument))
    } finally {
      await client.close()
    }
    const server = await startPythonEventManager({ python, mongoUrl, databaseName, env: { TZ: 'UTC' } })
    em = server
    inProcess = await runUpstream(ds, HTTP_JOBS)
    for (const job of HTTP_JOBS) {
      const query = new URLSearchParams(job.params as Record<string, string>).toString()
      const res = await fetch(`${server.url}/utilization/${job.route}${query ? `?${query}` : ''}`)
      expect(res.status).toBe(200)
      http.set(job.name, (await res.json()) as ReportJson)
    }
  }, 120_000)

  afterAll(async () => {
    await em?.stop()
    const client = new MongoClient(mongoUrl)
    try {
      await client.connect()
      await client.db(databaseName).dropDatabase()
    } finally {
      await client.close()
    }
  })

  for (const job of HTTP_JOBS) {
    it(`${job.route}: HTTP = in-process = ours`, async () => {
      const overHttp = http.get(job.name) as ReportJson
      expect(overHttp).not.toHaveProperty('error')
      expect(countLeaves(overHttp, ALWAYS_IGNORED).numbers).toBeGreaterThan(20)
      const sameRun = compareReports(overHttp, inProcess.results[job.name].answer, { ignore: ALWAYS_IGNORED, unordered: KNOWN_DIFFERENCES.sessions.unordered })
      expect(sameRun, describeDiffs(sameRun)).toEqual([])
      const diffs = compareReports(await ours(ds, job), overHttp, KNOWN_DIFFERENCES[job.route])
      expect(diffs, describeDiffs(diffs)).toEqual([])
    })
  }
})

describe('documented difference: intended fallbacks instead of logging errors (D8)', () => {
  it('a non-string author: upstream answers an error (stdlib logging called with keywords), ours counts it as unknown', async () => {
    const ds = edgeHistory()
    ds.events.push(
      parseEvent({ event_id: '01JH0000000000000000009999', event_type: 'workflow_complete', event_timestamp: '2025-01-06T13:10:00', source: {}, event_data: { workflow_id: 'wf-x', name: 'author object', author: { name: 'X' }, status: 'completed', duration_seconds: 60 } }),
    )
    const job: Job = { name: 'user with an author object', route: 'user', params: {} }
    const upstream = await runUpstream(ds, [job])
    const theirs = upstream.results[job.name].answer
    expect(theirs.error).toBe("Failed to generate report: Logger._log() got an unexpected keyword argument 'event_type'")
    const mine = (await ours(ds, job)) as Record<string, any>
    expect(mine).not.toHaveProperty('error')
    const unknown = mine.user_utilization['Unknown Author'] as Record<string, any>
    expect(unknown.workflows.map((w: any) => w.workflow_name)).toContain('author object')
    // Without that event, the same history agrees with upstream (the edge jobs above).
  }, 60_000)
})

describe('documented difference: buckets across a DST change (SPEC §5.6.2)', () => {
  // Europe/Berlin moves from +01:00 to +02:00 on 2025-03-30. Upstream keeps +01:00 for the whole
  // range, so its local midnights after the change are 23:00 UTC instead of 22:00 UTC.
  const DST: DatasetOptions = { startMs: Date.UTC(2025, 2, 28), days: 5, workcells: 2, nodesPerWorkcell: 2, activity: 'light', noiseEvents: 300, minEvents: 0 }
  const job: Job = { name: 'daily Europe/Berlin across DST', route: 'periods', params: { start_time: '2025-03-28T00:00:00Z', end_time: '2025-04-02T00:00:00Z', analysis_type: 'daily', user_timezone: 'Europe/Berlin' } }
  let ds: Dataset
  let upstream: UpstreamRun

  beforeAll(async () => {
    ds = makeDataset(DST)
    upstream = await runUpstream(ds, [job])
  }, 120_000)

  it('agrees before the change; after it, upstream is an hour off and ours follows the new offset', async () => {
    type Point = { date: string; start_time_utc: string }
    const theirs = (upstream.results[job.name].answer as any).time_series.system as Point[]
    const mine = ((await ours(ds, job)) as any).time_series.system as Point[]
    expect(mine.map((p) => p.date)).toEqual(['2025-03-28', '2025-03-29', '2025-03-30', '2025-03-31', '2025-04-01', '2025-04-02'])
    expect(theirs.map((p) => p.date)).toEqual(mine.map((p) => p.date))
    // The buckets before the change are the same, value for value.
    const before = compareReports(mine.slice(0, 2), theirs.slice(0, 2))
    expect(before, describeDiffs(before)).toEqual([])
    // Real local midnights: 23:00 UTC under +01:00, then 22:00 UTC; upstream stays at 23:00.
    expect(mine.slice(1).map((p) => p.start_time_utc.slice(11))).toEqual(['23:00:00', '23:00:00', '22:00:00', '22:00:00', '22:00:00'])
    expect(theirs.slice(1).map((p) => p.start_time_utc.slice(11))).toEqual(['23:00:00', '23:00:00', '23:00:00', '23:00:00', '23:00:00'])
  })
})
