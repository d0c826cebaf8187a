import { describe, expect, it } from 'vitest'
import { eventsReader, sessionUtilizationReport, userUtilizationReport } from '../../src/analyze/index.js'
import { compareReports, KNOWN_DIFFERENCES, numbersEqual } from '../fixtures/utilization-compare.js'
import { CONFORMANCE_DATASET, makeDataset } from '../fixtures/utilization-dataset.js'

describe('conformance tools (dataset generator and report comparison)', () => {
  it('generates the same ≥10 k-event history for the same seed, in strict time order', () => {
    const a = makeDataset(CONFORMANCE_DATASET)
    const b = makeDataset(CONFORMANCE_DATASET)
    expect(a.events.length).toBeGreaterThanOrEqual(10_000)
    expect(JSON.stringify(a.events)).toBe(JSON.stringify(b.events))
    expect(JSON.stringify(makeDataset({ ...CONFORMANCE_DATASET, seed: 7 }).events)).not.toBe(JSON.stringify(a.events))
    expect(a.events.filter((e, i) => i > 0 && !(e.event_timestamp > a.events[i - 1].event_timestamp))).toEqual([])
    const types = new Set(a.events.map((e) => e.event_type))
    for (const t of ['workcell_start', 'workcell_stop', 'lab_start', 'node_start', 'node_stop', 'action_status_change', 'experiment_start', 'experiment_complete', 'workflow_start', 'workflow_complete']) {
      expect(types.has(t as never), t).toBe(true)
    }
  })

  it('gives reports with several sessions, nodes and authors on that history', async () => {
    const ds = makeDataset(CONFORMANCE_DATASET)
    const reader = eventsReader(ds.events)
    const sessions = (await sessionUtilizationReport(reader)) as Record<string, any>
    expect(sessions.overall_summary.total_sessions).toBeGreaterThanOrEqual(5)
    expect(sessions.overall_summary.nodes_tracked).toBe(ds.nodes.length)
    const users = (await userUtilizationReport(reader)) as Record<string, any>
    expect(users.report_metadata.total_users).toBeGreaterThanOrEqual(3)
  })

  it('compares numerically, within tolerance, with unordered lists and known differences', () => {
    const ours = { report_metadata: { generated_at: 'a', total: 1 }, session_details: [{ session_name: 'Line A', experiment_details: [{ experiment_id: 'x', v: 0.1 + 0.2 }, { experiment_id: 'y', v: 1 }] }] }
    const theirs = { report_metadata: { generated_at: 'b', total: 1.0 }, session_details: [{ session_name: 'Workcell 12345678', experiment_details: [{ experiment_id: 'y', v: 1 }, { experiment_id: 'x', v: 0.3 }] }] }
    expect(compareReports(ours, theirs, KNOWN_DIFFERENCES.sessions)).toEqual([])
    const diffs = compareReports(ours, theirs, {})
    expect(diffs.map((d) => d.path)).toEqual(['report_metadata.generated_at', 'session_details.0.session_name', 'session_details.0.experiment_details.0.experiment_id', 'session_details.0.experiment_details.0.v', 'session_details.0.experiment_details.1.experiment_id', 'session_details.0.experiment_details.1.v'])
    expect(numbersEqual(100, 100 + 1e-8)).toBe(true)
    expect(numbersEqual(100, 100.001)).toBe(false)
    expect(compareReports({ a: { b: 1 } }, { a: {} }, {})).toEqual([{ path: 'a.b', ours: 1, theirs: undefined, why: 'missing upstream' }])
  })
})
