import { describe, expect, it } from 'vitest'
import type { Event } from '../../src/event/index.js'
import { parseEvent } from '../../src/event/index.js'
import { eventsReader, newDiagnostics, sessionUtilizationReport, utilizationPeriodsReport, userUtilizationReport } from '../../src/analyze/index.js'
import { naiveIso } from '../fixtures/utilization-dataset.js'
import { id } from './build.js'

const SESSIONS = 20
const NODES = ['N1', 'N2', 'N3', 'N4', 'N5'].map(id)
const WORKCELL = id('WC')
const T0 = Date.UTC(2025, 0, 6) * 1000
const SPAN = 10 * 86_400_000_000 // ten days in µs

/**
 * `n` events in time order, made one at a time by `parseEvent` and never kept: 20 sessions, 5
 * nodes, 2 experiments and 2 workflows per session (fixed), and `n` minus those of actions and
 * log lines. More events means more actions per node, never more entities.
 */
function* history(n: number): Generator<Event> {
  const structure = new Map<number, Record<string, unknown>>()
  const at = (fraction: number, e: Record<string, unknown>) => {
    let i = Math.floor(fraction * n)
    while (structure.has(i)) i++
    structure.set(i, e)
  }
  for (let k = 0; k < SESSIONS; k++) {
    const f = (x: number) => (k + x) / SESSIONS
    at(f(0), { event_type: 'workcell_start', source: { workcell_id: WORKCELL } })
    NODES.forEach((node, j) => {
      at(f(0.02 + j * 0.001), { event_type: 'node_start', source: { node_id: node }, event_data: { node_name: `node ${j}` } })
      at(f(0.75 + j * 0.001), { event_type: 'node_stop', source: { node_id: node } })
    })
    for (const [x, e] of [[0.1, 0], [0.45, 1]] as const) {
      const exp = id(`E${k}X${e}`)
      at(f(x), { event_type: 'experiment_start', source: { experiment_id: exp } })
      at(f(x + 0.3), { event_type: 'experiment_complete', source: { experiment_id: exp } })
      at(f(x + 0.01), { event_type: 'workflow_start', event_data: { workflow_id: `w${k}-${e}`, author: e ? 'Ada' : 'Grace' } })
      at(f(x + 0.2), { event_type: 'workflow_complete', event_data: { workflow_id: `w${k}-${e}`, duration_seconds: 60 } })
    }
    at(f(0.8), { event_type: 'workcell_stop', source: { workcell_id: WORKCELL } })
  }
  for (let i = 0; i < n; i++) {
    const t = T0 + Math.floor((i * SPAN) / n)
    const s = structure.get(i)
    const base = s ?? (i % 4 === 3
      ? { event_type: 'log_info', source: { node_id: NODES[i % 5] }, event_data: { message: 'tick', i } }
      : { event_type: 'action_status_change', source: { node_id: NODES[(i >> 1) % 5] }, event_data: { action_id: `a${(i >> 1) % 7}`, status: i % 2 ? 'completed' : 'running' } })
    yield parseEvent({ event_id: `E${String(i).padStart(12, '0')}`, event_timestamp: naiveIso(t), ...base })
  }
}

function counted(n: number) {
  const produced = { events: 0, passes: 0 }
  const reader = eventsReader(function* () {
    produced.passes++
    for (const e of history(n)) {
      produced.events++
      yield e
    }
  })
  return { reader, produced }
}

const window = { startTime: '2025-01-06T00:00:00', endTime: '2025-01-16T00:00:00' }

describe('reports stream: memory follows sessions and entities, not events', () => {
  it('session report over 1 000 000 generated events holds the same state as over 100 000', async () => {
    const run = async (n: number) => {
      const { reader, produced } = counted(n)
      const d = newDiagnostics()
      const report = (await sessionUtilizationReport(reader, { ...window, lookups: 'range', diagnostics: d })) as Record<string, any>
      return { report, d, produced }
    }
    const small = await run(100_000)
    const large = await run(1_000_000)
    for (const { report, d, produced } of [small, large]) {
      expect(report.overall_summary.total_sessions).toBe(SESSIONS)
      expect(report.overall_summary.nodes_tracked).toBe(NODES.length)
      expect(report.overall_summary.total_experiments).toBe(2 * SESSIONS)
      // Two passes: lifecycle events only, then every event once.
      expect(d.passes).toBe(2)
      expect(produced.passes).toBe(2)
      // Pass 1 reads the 2 lifecycle events per session, pass 2 every event.
      expect(d.eventsRead).toBe(produced.events / 2 + 2 * SESSIONS)
      expect(d.sessions).toBe(SESSIONS)
    }
    expect(large.produced.events).toBe(2_000_000)
    // State per session: 2 experiments (+2 periods) and 5 nodes with at most 7 running actions each.
    expect(large.d.maxSessionState).toBe(small.d.maxSessionState)
    expect(large.d.totalSessionState).toBe(small.d.totalSessionState)
    expect(large.d.maxSessionState).toBeLessThanOrEqual(2 + 2 + NODES.length * 8)
  }, 120_000)

  it('periods and user reports keep per-entity state too', async () => {
    const run = async (n: number) => {
      const { reader } = counted(n)
      const d = newDiagnostics()
      await utilizationPeriodsReport(reader, { ...window, startTime: '2025-01-06T00:00:00Z', endTime: '2025-01-16T00:00:00Z', userTimezone: 'UTC', lookups: 'range', diagnostics: d })
      const u = newDiagnostics()
      await userUtilizationReport(counted(n).reader, { ...window, diagnostics: u })
      return { d, u }
    }
    const a = await run(50_000)
    const b = await run(200_000)
    expect(b.d.maxSessionState).toBe(a.d.maxSessionState)
    expect(b.d.experiments).toBe(2 * SESSIONS)
    expect(a.d.experiments).toBe(2 * SESSIONS)
    expect(b.d.workflows).toBe(2 * SESSIONS)
    expect(b.u.workflows).toBe(2 * SESSIONS)
    // The user report reads workflow events only (a selector), however many events there are.
    expect(b.u.eventsRead).toBe(4 * SESSIONS)
  }, 120_000)
})
