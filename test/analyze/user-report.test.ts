import { describe, expect, it } from 'vitest'
import { eventsReader, userUtilizationReport } from '../../src/analyze/index.js'
import { ev } from './build.js'

type Obj = Record<string, any>

const events = () => [
  ev('workflow_start', '2025-01-06T10:00:00', {}, { workflow_id: 'wf-1', name: 'prep', author: ' Ada ' }),
  ev('workflow_complete', '2025-01-06T10:30:00', {}, { workflow_id: 'wf-1', status: 'completed', duration_seconds: 1800 }),
  ev('workflow_start', '2025-01-06T11:00:00', {}, { workflow_id: 'wf-2', workflow_name: 'assay', definition_metadata: { author: 'Grace' } }),
  ev('workflow_complete', '2025-01-06T12:00:00', {}, { workflow_id: 'wf-2', status: { failed: true, description: 'step 3' } }),
  ev('workflow_start', '2025-01-06T12:00:00', {}, { workflow_id: 3, name: 'wash' }),
  ev('workflow_complete', '2025-01-06T12:15:00', {}, { workflow_id: 3, status: { description: 'Cancelled by user' }, duration_seconds: 900 }),
  ev('workflow_start', '2025-01-06T13:00:00', {}, { workflow_id: 'wf-4', author: 'Ada' }),
  ev('workflow_start', '2025-01-06T13:10:00', {}, { name: 'no id: skipped' }),
  ev('workflow_complete', '2025-01-07T10:00:00', {}, { workflow_id: 'outside', author: 'Zed' }),
]

describe('user utilization report (GET /utilization/user)', () => {
  it('groups workflows by author with upstream fields, statuses and rounding', async () => {
    const r = (await userUtilizationReport(eventsReader(events()), {
      startTime: '2025-01-06T09:00:00',
      endTime: '2025-01-06T14:00:00',
      now: () => Date.UTC(2025, 0, 7) * 1000,
    })) as Obj
    expect(Object.keys(r)).toEqual(['report_metadata', 'system_summary', 'user_utilization'])
    expect(r.report_metadata).toEqual({
      generated_at: '2025-01-07T00:00:00+00:00',
      analysis_start: '2025-01-06T09:00:00',
      analysis_end: '2025-01-06T14:00:00',
      total_workflows: 4,
      total_users: 3,
      workflows_with_authors: 2,
      workflows_without_authors: 2,
    })
    // Upstream's cruder totals: raw `author` of the first event, raw status/duration of the complete event.
    expect(r.system_summary).toEqual({
      total_workflows: 4,
      total_runtime_hours: 0.75,
      average_workflow_duration_hours: 0.375,
      completion_rate_percent: 25,
      workflows_with_known_authors: 2,
      author_attribution_rate_percent: 50,
    })
    expect(Object.keys(r.user_utilization)).toEqual(['Ada', 'Grace', 'Unknown Author'])
    expect(r.user_utilization.Ada).toEqual({
      author: 'Ada',
      total_workflows: 2,
      completed_workflows: 1,
      failed_workflows: 0,
      cancelled_workflows: 0,
      total_runtime_hours: 0.5,
      average_workflow_duration_hours: 0.5,
      shortest_workflow_hours: 0.5,
      longest_workflow_hours: 0.5,
      completion_rate_percent: 50,
      workflows: [
        { workflow_id: 'wf-1', workflow_name: 'prep', start_time: '2025-01-06T10:00:00', end_time: '2025-01-06T10:30:00', duration_hours: 0.5, status: 'completed' },
        { workflow_id: 'wf-4', workflow_name: 'Unknown', start_time: '2025-01-06T13:00:00', end_time: null, duration_hours: null, status: 'started' },
      ],
    })
    // Nested author; duration from the start and complete times; a dict status.
    expect(r.user_utilization.Grace).toMatchObject({ failed_workflows: 1, total_runtime_hours: 1, completion_rate_percent: 0 })
    expect(r.user_utilization.Grace.workflows[0]).toMatchObject({ workflow_name: 'assay', status: 'failed', duration_hours: 1 })
    // A numeric workflow id is printed as str(); a status found in the description.
    expect(r.user_utilization['Unknown Author'].workflows[0]).toMatchObject({ workflow_id: '3', status: 'cancelled', duration_hours: 0.25 })
  })

  it('rounds as upstream: round(x, 3) for durations, round(x, 2) for runtime and rates', async () => {
    const data = [
      ev('workflow_complete', '2025-01-06T10:00:00', {}, { workflow_id: 'a', author: 'A', duration_seconds: 1000 }),
      ev('workflow_complete', '2025-01-06T10:01:00', {}, { workflow_id: 'b', author: 'A', duration_seconds: 2000, status: 'failed' }),
      ev('workflow_complete', '2025-01-06T10:02:00', {}, { workflow_id: 'c', author: 'A', duration_seconds: '333.3' }),
    ]
    const r = (await userUtilizationReport(eventsReader(data), { startTime: '2025-01-06T09:00:00', endTime: '2025-01-06T11:00:00' })) as Obj
    expect(r.user_utilization.A).toMatchObject({
      total_runtime_hours: 0.93,
      average_workflow_duration_hours: 0.309,
      shortest_workflow_hours: 0.093,
      longest_workflow_hours: 0.556,
      completion_rate_percent: 66.67,
    })
  })

  it("answers a bad time with upstream's error object", async () => {
    expect(await userUtilizationReport(eventsReader([]), { endTime: '2025-13-01' })).toEqual({ error: 'Failed to generate report: month must be in 1..12' })
  })
})
