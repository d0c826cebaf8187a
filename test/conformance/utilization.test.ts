/**
 * Conformance of the utilization reports with the Python MADSci Event Manager 0.8.1 (issue 7).
 *
 * One generated history (CONFORMANCE_DATASET, ≥10 k events over workcell and lab sessions, four
 * nodes, experiments, workflows by five authors and log noise) is analysed twice: by MADSci's own
 * route handlers, run in one Python process by scripts/python/utilization_reports.py over a
 * collection with MongoDB's query semantics, and by our report functions. The answers must agree
 * number for number (relative 1e-9) except in the fields KNOWN_DIFFERENCES lists, each of which is
 * a documented upstream defect (SPEC §9, README "Differences from MADSci"). For the periods report
 * the answer upstream means to give (D7: with `user_utilization`) is compared too.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script
import { runPythonClient } from '../../scripts/lib/python-peer.mjs'
import { sessionUtilizationReport, userUtilizationReport, utilizationPeriodsReport, eventsReader, type ReportJson } from '../../src/analyze/index.js'
import { eventToDocument } from '../../src/event/index.js'
import { ALWAYS_IGNORED, compareReports, KNOWN_DIFFERENCES, type CompareOptions, type Difference } from '../fixtures/utilization-compare.js'
import { CONFORMANCE_DATASET, makeDataset, type Dataset } from '../fixtures/utilization-dataset.js'

const python = inject('python')
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

describe('utilization reports equal the Python Event Manager 0.8.1 on a ≥10 k-event history', () => {
  let ds: Dataset
  let upstream: UpstreamRun
  const leaves = new Map<string, number>()

  beforeAll(async () => {
    ds = makeDataset(CONFORMANCE_DATASET)
    upstream = (await runPythonClient({
      python,
      file: SCRIPT,
      input: { documents: ds.events.map(eventToDocument), jobs: JOBS },
      env: { TZ: 'UTC' },
      timeoutMs: 170_000,
    })) as UpstreamRun
  }, 180_000)

  it('ran every route on the whole history, with sessions, nodes, experiments and authors in it', () => {
    expect(ds.events.length).toBeGreaterThanOrEqual(10_000)
    expect(upstream.stats.documents).toBe(ds.events.length)
    // The route handlers logged nothing (their error paths log through the server's logger).
    expect(upstream.stats.route_errors).toEqual([])
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
  })

  for (const job of JOBS) {
    it(`${job.route}: ${job.name}`, async () => {
      const theirs = upstream.results[job.name]
      const mine = await ours(ds, job)
      const known = KNOWN_DIFFERENCES[job.route]
      const diffs = compareReports(mine, theirs.answer, known)
      expect(diffs, describeDiffs(diffs)).toEqual([])
      // Same keys in the same order at the top level (the JSON shape the server returns).
      const topKeys = (r: ReportJson): string[] => Object.keys(r).filter((k) => !(known.ignore ?? []).includes(k))
      expect(topKeys(mine)).toEqual(topKeys(theirs.answer))
      leaves.set(job.name, countLeaves(theirs.answer, known.ignore).numbers)

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
        const users = mine.user_utilization as Record<string, any>
        expect(users.total_users).toBeGreaterThanOrEqual(1)
      }
    })
  }

  it('compared a meaningful number of numbers', () => {
    const total = [...leaves.values()].reduce((a, b) => a + b, 0)
    expect(leaves.size).toBe(JOBS.length)
    for (const [name, n] of leaves) if (!name.includes('error answer')) expect(n, name).toBeGreaterThan(20)
    expect(total).toBeGreaterThan(2_000)
  })
})
