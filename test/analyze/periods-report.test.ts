import { describe, expect, it } from 'vitest'
import { eventsReader, newDiagnostics, utilizationPeriodsReport } from '../../src/analyze/index.js'
import { ev, id } from './build.js'

type Obj = Record<string, any>
const W1 = id('WC1')
const LAB = id('LAB')
const E1 = id('EXP1')
const E2 = id('EXP2')
const N1 = id('NODE1')
const now = () => Date.UTC(2025, 5, 1) * 1000

describe('time-series report (GET /utilization/periods)', () => {
  it("answers bad input with upstream's error objects", async () => {
    const r = eventsReader([])
    expect(await utilizationPeriodsReport(r, { startTime: '2025-01-01T00:00:00Z' })).toEqual({
      error: 'start_time and end_time are required',
      details: 'Both parameters must be provided as ISO strings',
    })
    expect(await utilizationPeriodsReport(r, { startTime: '2025-01-02T00:00:00Z', endTime: '2025-01-01T00:00:00.5Z' })).toEqual({
      error: 'Invalid analysis time period: start time must be before end time',
      details: 'Start time 2025-01-02 00:00:00 >= end time 2025-01-01 00:00:00.500000',
    })
    expect(await utilizationPeriodsReport(r, { startTime: 'soon', endTime: '2025-01-01' })).toEqual({
      error: "Failed to generate utilization report: Invalid isoformat string: 'soon'",
    })
  })

  it('splits a session over local days, 23 hours on the spring-forward day (America/Chicago)', async () => {
    const events = [
      ev('workcell_start', '2025-03-08T06:00:00', { workcell_id: W1 }, { name: 'Line A' }),
      ev('experiment_start', '2025-03-08T06:00:00', { experiment_id: E1 }, { experiment: { experiment_design: { experiment_name: 'Soak' } } }),
      ev('workflow_start', '2025-03-08T07:00:00', {}, { workflow_id: 'wf', author: 'Ada' }),
      ev('workflow_complete', '2025-03-08T08:00:00', {}, { workflow_id: 'wf', duration_seconds: 3600 }),
      ev('experiment_complete', '2025-03-11T05:00:00', { experiment_id: E1 }, { status: 'completed' }),
      ev('workcell_stop', '2025-03-11T05:00:00', { workcell_id: W1 }),
    ]
    const d = newDiagnostics()
    const r = (await utilizationPeriodsReport(eventsReader(events), {
      startTime: '2025-03-08T06:00:00Z',
      endTime: '2025-03-11T05:00:00Z',
      analysisType: 'daily',
      userTimezone: 'America/Chicago',
      now,
      diagnostics: d,
    })) as Obj
    // user_utilization sits after key_metrics (upstream drops it on success: D7).
    expect(Object.keys(r)).toEqual(['summary_metadata', 'key_metrics', 'user_utilization', 'node_summary', 'workcell_summary', 'trends', 'experiment_details', 'time_series'])
    expect(r.summary_metadata).toEqual({
      analysis_type: 'daily',
      generated_at: '2025-06-01T00:00:00+00:00',
      period_start: '2025-03-08T06:00:00',
      period_end: '2025-03-11T05:00:00',
      user_timezone: 'America/Chicago',
      total_periods: 3,
      method: 'session_based_analysis_with_experiment_details_refactored',
    })
    const series = r.time_series.system as Obj[]
    expect(series.map((p) => [p.period_display, p.date, p.start_time, p.start_time_utc, p.runtime_hours, p.utilization, p.experiments])).toEqual([
      ['2025-03-08', '2025-03-08', '2025-03-08T00:00:00', '2025-03-08T06:00:00', 24, 100, 1],
      ['2025-03-09', '2025-03-09', '2025-03-09T00:00:00', '2025-03-09T06:00:00', 23, 100, 0],
      ['2025-03-10', '2025-03-10', '2025-03-10T00:00:00', '2025-03-10T05:00:00', 24, 100, 0],
    ])
    expect(r.key_metrics).toEqual({
      average_utilization: 100,
      peak_utilization: 100,
      peak_period: '2025-03-08',
      peak_context: 'Peak utilization on 2025-03-08',
      total_experiments: 1,
      total_runtime_hours: 71,
      total_active_time_hours: 71,
      active_periods: 1,
      total_periods: 3,
    })
    expect(r.user_utilization).toEqual({
      total_users: 1,
      author_attribution_rate_percent: 100,
      top_users: [{ author: 'Ada', total_workflows: 1, total_runtime_hours: 1, completion_rate_percent: 100, average_workflow_duration_hours: 1 }],
      system_totals: { total_workflows: 1, total_runtime_hours: 1, completion_rate_percent: 100 },
    })
    expect(r.workcell_summary[W1]).toMatchObject({ workcell_name: 'Line A', display_name: `Line A (${W1.slice(-8)})`, total_experiments: 1, total_runtime_hours: 71 })
    expect(r.workcell_summary[W1].peak_period).toBe('2025-03-08')
    expect(r.experiment_details).toEqual({
      total_experiments: 1,
      experiments: [
        {
          experiment_id: E1,
          experiment_name: 'Soak',
          start_time: '2025-03-08T06:00:00',
          end_time: '2025-03-11T05:00:00',
          status: 'completed',
          duration_hours: 71,
          duration_display: '71.0 hours',
        },
      ],
    })
    expect(r.trends.utilization_trend).toMatchObject({ direction: 'stable', change_percent: 0, active_periods_analyzed: 3 })
    expect(d).toMatchObject({ passes: 2, sessions: 1, workflows: 1, experiments: 1 })
  })

  it('keeps the first weekly bucket at Monday 00:00 local, before the analysis start', async () => {
    const events = [ev('lab_start', '2025-01-08T12:00:00', { manager_id: LAB }, { name: 'Main lab' }), ev('lab_stop', '2025-01-08T18:00:00', { manager_id: LAB })]
    const r = (await utilizationPeriodsReport(eventsReader(events), {
      startTime: '2025-01-08T00:00:00Z',
      endTime: '2025-01-10T00:00:00Z',
      analysisType: 'weekly',
      userTimezone: 'Europe/Berlin',
      includeUsers: false,
    })) as Obj
    expect('user_utilization' in r).toBe(false)
    expect(r.time_series.system).toEqual([
      {
        period_number: 1,
        period_type: 'week',
        period_display: 'Week of 2025-01-06',
        date: '',
        start_time: '',
        start_time_utc: '2025-01-05T23:00:00',
        utilization: 0,
        experiments: 0,
        runtime_hours: 6,
        active_time_hours: 0,
      },
    ])
    expect(r.workcell_summary[LAB]).toMatchObject({ workcell_name: 'Main lab', total_runtime_hours: 6, peak_utilization: 0, peak_period: 'Week of 2025-01-06' })
    expect(r.key_metrics).toMatchObject({ average_utilization: 0, peak_utilization: 0, peak_period: null, peak_context: 'No peak data available' })
  })

  it('cuts months at local midnight of the 1st (Europe/Berlin) and averages monthly by time', async () => {
    const events = [
      ev('workcell_start', '2025-01-31T20:00:00', { workcell_id: W1 }),
      ev('experiment_start', '2025-01-31T20:00:00', { experiment_id: E1 }),
      ev('node_start', '2025-01-31T20:00:00', { node_id: N1 }, { node_name: 'hidex' }),
      ev('action_status_change', '2025-01-31T21:00:00', { node_id: N1 }, { action_id: 'x', status: 'running' }),
      ev('action_status_change', '2025-01-31T23:00:00', { node_id: N1 }, { action_id: 'x', status: 'succeeded' }),
      ev('experiment_complete', '2025-02-01T00:00:00', { experiment_id: E1 }),
      ev('workcell_stop', '2025-02-01T04:00:00', { workcell_id: W1 }),
    ]
    const r = (await utilizationPeriodsReport(eventsReader(events), {
      startTime: '2025-01-31T12:00:00Z',
      endTime: '2025-02-01T12:00:00Z',
      analysisType: 'monthly',
      userTimezone: 'Europe/Berlin',
    })) as Obj
    const series = r.time_series.system as Obj[]
    expect(series.map((p) => [p.period_display, p.date, p.start_time, p.start_time_utc, p.runtime_hours, p.active_time_hours, p.utilization])).toEqual([
      ['January 2025', '2025-01', '2025-01-01T00:00:00', '2025-01-31T12:00:00', 3, 1.5, 50],
      ['February 2025', '2025-02', '2025-02-01T00:00:00', '2025-01-31T23:00:00', 5, 2.5, 50],
    ])
    expect(r.key_metrics).toMatchObject({ average_utilization: 50, total_runtime_hours: 8, total_active_time_hours: 4, peak_period: 'January 2025', peak_context: 'Peak utilization in January 2025' })
    // Daily/monthly node busy hours are the whole session's, in every bucket it touches (upstream).
    expect(r.node_summary[N1]).toMatchObject({ node_name: 'hidex', average_utilization: 25, total_busy_hours: 4, peak_period: 'January 2025' })
    expect(r.time_series.nodes[N1].map((p: Obj) => p.busy_hours)).toEqual([2, 2])
  })

  it('makes each hourly bucket a session report of its own', async () => {
    const events = [
      ev('experiment_start', '2025-01-06T10:15:00', { experiment_id: E1 }),
      ev('experiment_complete', '2025-01-06T10:45:00', { experiment_id: E1 }),
      ev('workcell_start', '2025-01-06T11:30:00', { workcell_id: W1 }),
      ev('experiment_start', '2025-01-06T11:30:00', { experiment_id: E2 }),
    ]
    const r = (await utilizationPeriodsReport(eventsReader(events), {
      startTime: '2025-01-06T10:00:00Z',
      endTime: '2025-01-06T12:00:00Z',
      analysisType: 'hourly',
      userTimezone: 'UTC',
    })) as Obj
    const series = r.time_series.system as Obj[]
    expect(series.map((p) => [p.period_display, p.date, p.start_time, p.runtime_hours, p.active_time_hours, p.utilization, p.experiments])).toEqual([
      // No session start in the hour: the default session covers it.
      ['2025-01-06 10:00', '', '', 1, 0.5, 50, 1],
      // A session from 11:30 to the bucket end.
      ['2025-01-06 11:00', '', '', 0.5, 0.5, 100, 1],
    ])
    expect(r.key_metrics).toMatchObject({ average_utilization: 75, peak_utilization: 100, peak_period: '2025-01-06 11:00', peak_context: 'Peak utilization in 2025-01-06 11:00' })
    expect(r.experiment_details.experiments.map((e: Obj) => [e.experiment_id, e.status, e.duration_display])).toEqual([
      [E1, 'completed', '30.0 minutes'],
      [E2, 'in_progress', 'Ongoing'],
    ])
  })

  it('counts an experiment that starts exactly on a bucket boundary in both buckets, as upstream', async () => {
    const events = [ev('experiment_start', '2025-01-07T00:00:00', { experiment_id: E1 })]
    const r = (await utilizationPeriodsReport(eventsReader(events), { startTime: '2025-01-06T00:00:00Z', endTime: '2025-01-08T00:00:00Z', userTimezone: 'UTC' })) as Obj
    expect(r.time_series.system.map((p: Obj) => p.experiments)).toEqual([1, 1])
    expect(r.key_metrics.total_experiments).toBe(2)
  })
})
