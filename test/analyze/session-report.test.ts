import { describe, expect, it } from 'vitest'
import { eventsReader, sessionUtilizationReport } from '../../src/analyze/index.js'
import { ev, id } from './build.js'

const W1 = id('WC1')
const W2 = id('WC2')
const N1 = id('NODE1')
const N2 = id('NODE2')
const E1 = id('EXP1')
const E2 = id('EXP2')

function history() {
  return [
    ev('workcell_start', '2025-01-06T08:00:00', { workcell_id: W1 }, { workcell_name: 'Line A' }),
    ev('node_start', '2025-01-06T08:00:01', { node_id: N1, workcell_id: W1 }, { node_name: 'pf400' }),
    ev('experiment_start', '2025-01-06T08:10:00', { experiment_id: E1 }, { experiment: { experiment_design: { experiment_name: 'Calibration' } } }),
    ev('action_status_change', '2025-01-06T08:20:00', { node_id: N1 }, { action_id: 'a1', status: 'running' }),
    ev('log_info', '2025-01-06T08:30:00', { node_id: N1 }, { message: 'logs never count' }),
    ev('action_status_change', '2025-01-06T08:50:00', { node_id: N1 }, { action_id: 'a1', status: 'completed' }),
    ev('experiment_complete', '2025-01-06T09:10:00', { experiment_id: E1 }, { status: 'completed' }),
    ev('action_status_change', '2025-01-06T09:30:00', { node_id: N2 }, { action_id: 'a2', status: 'running' }),
    ev('workcell_stop', '2025-01-06T10:00:00', { workcell_id: W1 }),
    ev('action_status_change', '2025-01-06T10:30:00', { node_id: N2 }, { action_id: 'a2', status: 'completed' }),
    ev('workcell_start', '2025-01-06T11:00:00', { workcell_id: W1 }),
    ev('experiment_start', '2025-01-06T11:30:00', { experiment_id: E2 }),
  ]
}

type Obj = Record<string, any>

describe('session utilization report (GET /utilization/sessions)', () => {
  it('cuts sessions at stops and measures experiments and nodes inside them', async () => {
    const report = (await sessionUtilizationReport(eventsReader(history()), {
      startTime: '2025-01-06T07:00:00',
      endTime: '2025-01-06T13:00:00',
      now: () => Date.UTC(2025, 0, 7) * 1000,
    })) as Obj
    expect(Object.keys(report)).toEqual(['report_metadata', 'overall_summary', 'session_details'])
    expect(report.report_metadata).toEqual({
      generated_at: '2025-01-07T00:00:00+00:00',
      analysis_start: '2025-01-06T07:00:00',
      analysis_end: '2025-01-06T13:00:00',
      total_sessions: 2,
      analysis_duration_hours: 6,
    })
    const [s1, s2] = report.session_details as Obj[]
    expect(Object.keys(s1)).toEqual([
      'session_type', 'session_id', 'session_name', 'start_time', 'end_time', 'timing', 'system_utilization_percent', 'total_experiments',
      'experiment_details', 'nodes_active', 'node_utilizations', 'raw_hours', 'duration_hours', 'active_time_hours',
    ])
    expect(s1).toMatchObject({
      session_type: 'workcell',
      session_id: W1,
      session_name: 'Line A',
      start_time: '2025-01-06T08:00:00',
      end_time: '2025-01-06T10:00:00',
      system_utilization_percent: 50,
      total_experiments: 1,
      experiment_details: [{ experiment_id: E1, experiment_name: 'Calibration', display_name: 'Calibration' }],
      nodes_active: 2,
      duration_hours: 2,
      active_time_hours: 1,
      raw_hours: { duration: 2, active: 1, idle: 1 },
    })
    expect(s1.timing.duration).toEqual({ display: '2.0h', seconds: 7200, minutes: 120, hours: 2, primary_unit: 'hours', primary_value: 2 })
    expect(s1.timing.active_time.display).toBe('1.0h')
    // The workcell's own id is never a node.
    expect(Object.keys(s1.node_utilizations)).toEqual([N1, N2])
    const n1 = s1.node_utilizations[N1]
    expect(n1).toMatchObject({ node_id: N1, node_name: 'pf400', display_name: `pf400 (${N1.slice(-8)})`, utilization_percent: 25, state: 'idle', busy_time_hours: 0.5 })
    expect(n1.raw_hours.total).toBe(2)
    expect(n1.idle_time_hours).toBeCloseTo((7199 - 1800) / 3600, 12) // active from its node_start
    // N2 never started: active for the whole session, busy from 09:30 to the session end.
    expect(s1.node_utilizations[N2]).toMatchObject({ node_name: null, display_name: `Node ${N2.slice(-8)}`, utilization_percent: 25, state: 'busy', busy_time_hours: 0.5, idle_time_hours: 1.5 })
    expect(s2).toMatchObject({
      session_name: `Workcell ${W1.slice(-8)}`,
      start_time: '2025-01-06T11:00:00',
      end_time: '2025-01-06T13:00:00',
      system_utilization_percent: 75,
      total_experiments: 1,
      experiment_details: [{ experiment_id: E2, experiment_name: null, display_name: `Experiment ${E2.slice(-8)}` }],
      nodes_active: 0,
    })
    expect(report.overall_summary).toEqual({
      total_sessions: 2,
      total_system_runtime_hours: 4,
      total_active_time_hours: 2.5,
      average_system_utilization_percent: 62.5,
      total_experiments: 2,
      nodes_tracked: 2,
      node_summary: {
        [N1]: { average_utilization_percent: 25, total_busy_time_hours: 0.5, sessions_active: 1 },
        [N2]: { average_utilization_percent: 25, total_busy_time_hours: 0.5, sessions_active: 1 },
      },
      analysis_period: { start_time: '2025-01-06T07:00:00', end_time: '2025-01-06T13:00:00', duration_hours: 6 },
    })
  })

  it("names sessions upstream's way on request", async () => {
    const report = (await sessionUtilizationReport(eventsReader(history()), { startTime: '2025-01-06T07:00:00', endTime: '2025-01-06T13:00:00', sessionNames: 'upstream' })) as Obj
    expect(report.session_details.map((s: Obj) => s.session_name)).toEqual([`Workcell ${W1.slice(-8)}`, `Workcell ${W1.slice(-8)}`])
  })

  it('ends a session without a stop at the next start of the same id, else at the window end', async () => {
    const events = [
      ev('workcell_start', '2025-01-06T07:30:00', { workcell_id: W2 }),
      ev('lab_start', '2025-01-06T08:00:00', {}, { name: 'no id' }),
      ev('workcell_start', '2025-01-06T09:00:00', { workcell_id: W2 }),
      ev('workcell_stop', '2025-01-06T09:00:00', { workcell_id: W1 }),
    ]
    const report = (await sessionUtilizationReport(eventsReader(events), { startTime: '2025-01-06T07:00:00', endTime: '2025-01-06T12:00:00' })) as Obj
    expect(report.session_details.map((s: Obj) => [s.session_type, s.session_id, s.start_time, s.end_time])).toEqual([
      ['workcell', W2, '2025-01-06T07:30:00', '2025-01-06T09:00:00'],
      // No workcell or manager id: named after the start's Unix second.
      ['lab', `system_${Date.UTC(2025, 0, 6, 8) / 1000}`, '2025-01-06T08:00:00', '2025-01-06T12:00:00'],
      ['workcell', W2, '2025-01-06T09:00:00', '2025-01-06T12:00:00'],
    ])
    // The start event's own name; without one, "<Type> <last 8 of the id>".
    expect(report.session_details.map((s: Obj) => s.session_name)).toEqual([`Workcell ${W2.slice(-8)}`, 'no id', `Workcell ${W2.slice(-8)}`])
  })

  it('uses one default session when the window has no start event', async () => {
    const events = [ev('experiment_start', '2025-01-06T10:00:00', { experiment_id: E1 }), ev('experiment_failed', '2025-01-06T10:30:00', { experiment_id: E1 })]
    const report = (await sessionUtilizationReport(eventsReader(events), { startTime: '2025-01-06T09:00:00', endTime: '2025-01-06T11:00:00' })) as Obj
    expect(report.session_details).toHaveLength(1)
    expect(report.session_details[0]).toMatchObject({
      session_type: 'default_analysis',
      session_id: `analysis_${Date.UTC(2025, 0, 6, 9) / 1000}`,
      session_name: 'Complete Database Analysis',
      system_utilization_percent: 25,
    })
  })

  it('chooses the analysis period as upstream intends (D8 fallbacks included)', async () => {
    const now = () => Date.UTC(2025, 5, 1, 12) * 1000
    const meta = async (events: ReturnType<typeof history>, start?: string, end?: string) =>
      ((await sessionUtilizationReport(eventsReader(events), { startTime: start, endTime: end, now })) as Obj).report_metadata
    // Neither bound: the whole database ±1 minute.
    expect(await meta(history())).toMatchObject({ analysis_start: '2025-01-06T07:59:00', analysis_end: '2025-01-06T11:31:00' })
    // Only a start: 24 h from it; only an end: the 24 h before it (an aware bound is converted to UTC).
    expect(await meta(history(), '2025-01-06T08:00:00')).toMatchObject({ analysis_start: '2025-01-06T08:00:00', analysis_end: '2025-01-07T08:00:00' })
    expect(await meta(history(), undefined, '2025-01-06T12:00:00+02:00')).toMatchObject({ analysis_start: '2025-01-05T10:00:00', analysis_end: '2025-01-06T10:00:00' })
    // An empty store: the last 24 h (upstream answers an error here, D8).
    expect(await meta([])).toMatchObject({ analysis_start: '2025-05-31T12:00:00', analysis_end: '2025-06-01T12:00:00', total_sessions: 1 })
  })

  it('excludes an id marked as a workcell anywhere in the store, or only in range with lookups: range', async () => {
    const X = id('SHARED')
    const events = [
      ev('manager_start', '2025-01-01T00:00:00', { manager_id: X }),
      ev('action_status_change', '2025-01-06T10:00:00', { node_id: X }, { action_id: 'b', status: 'running' }),
    ]
    const range = { startTime: '2025-01-06T09:00:00', endTime: '2025-01-06T11:00:00' }
    const db = (await sessionUtilizationReport(eventsReader(events), range)) as Obj
    expect(db.session_details[0].node_utilizations).toEqual({})
    const local = (await sessionUtilizationReport(eventsReader(events), { ...range, lookups: 'range' })) as Obj
    expect(Object.keys(local.session_details[0].node_utilizations)).toEqual([X])
  })

  it("answers a bad time with upstream's error object", async () => {
    expect(await sessionUtilizationReport(eventsReader([]), { startTime: 'yesterday' })).toEqual({ error: "Failed to generate report: Invalid isoformat string: 'yesterday'" })
  })
})
