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
 * server's behaviour, not an artefact of the adapter) and ours.
 */
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script
import { runPythonClient, startPythonEventManager } from '../../scripts/lib/python-peer.mjs'
import { sessionUtilizationReport, userUtilizationReport, utilizationPeriodsReport, eventsReader, type ReportJson } from '../../src/analyze/index.js'
import { eventToDocument } from '../../src/event/index.js'
import { ALWAYS_IGNORED, compareReports, KNOWN_DIFFERENCES, type CompareOptions, type Difference } from '../fixtures/utilization-compare.js'
import { CONFORMANCE_DATASET, makeDataset, type Dataset, type DatasetOptions } from '../fixtures/utilization-dataset.js'

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
        expect((mine.user_utilization as Record<string, any>).total_users).toBeGreaterThanOrEqual(1)
      }
    })
  }
}

describe('utilization reports equal the Python Event Manager 0.8.1 (its route handlers in-process)', () => {
  let ds: Dataset
  let upstream: UpstreamRun
  let busy: Dataset
  let busyUpstream: UpstreamRun
  const leaves = new Map<string, number>()

  beforeAll(async () => {
    ds = makeDataset(CONFORMANCE_DATASET)
    busy = makeDataset(BUSY_DATASET)
    ;[upstream, busyUpstream] = await Promise.all([runUpstream(ds, JOBS), runUpstream(busy, BUSY_JOBS)])
  }, 180_000)

  it('ran every route on a ≥10 k-event history with sessions, nodes, experiments and authors in it', () => {
    expect(ds.events.length).toBeGreaterThanOrEqual(10_000)
    expect(upstream.stats.documents).toBe(ds.events.length)
    // The route handlers logged nothing (their error paths log through the server's logger).
    expect(upstream.stats.route_errors).toEqual([])
    expect(busyUpstream.stats.route_errors).toEqual([])
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

  it('compared a meaningful number of numbers', () => {
    const total = [...leaves.values()].reduce((a, b) => a + b, 0)
    expect(leaves.size).toBe(JOBS.length + BUSY_JOBS.length)
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
