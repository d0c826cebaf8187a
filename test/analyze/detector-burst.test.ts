import { describe, expect, it } from 'vitest'
import type { EventInput } from '../../src/event/index.js'
import { BurstDetector } from '../../src/analyze/index.js'
import { ev, id } from './build.js'

function setup(options: Record<string, unknown> = {}) {
  let now = 0
  const logged: EventInput[] = []
  const d = new BurstDetector(options, { log: (e) => void logged.push(e), now: () => now })
  return { d, logged, at: (ms: number) => void (now = ms) }
}

describe('event burst detector', () => {
  it('fires when one type floods at ten times its usual rate, not for a type just born', () => {
    const { d, logged, at } = setup()
    // Two info events a second for a minute: 20 per 10-second window.
    for (let i = 0; i < 120; i++) {
      at(i * 500)
      d.onEvent(ev('log_info', '2025-01-06T10:00:00'))
    }
    expect(d.result().baselines.log_info).toBeCloseTo(20, 6)
    // A flood of 300 in one second, plus a brand-new type flooding alongside.
    for (let i = 0; i < 300; i++) {
      at(60_000 + i * 3)
      d.onEvent(ev('log_info', '2025-01-06T10:00:00'))
      d.onEvent(ev('data_store', '2025-01-06T10:00:00'))
    }
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ event_type: 'log_warning', log_level: 30, alert: false })
    const anomaly = (logged[0].event_data as any).anomaly
    expect(anomaly).toMatchObject({ kind: 'event_burst', key: 'event_type', value: 'log_info', window_ms: 10_000 })
    expect(anomaly.baseline_per_window).toBeCloseTo(20, 9)
    expect(anomaly.count).toBeGreaterThan(200)
    expect(d.result().bursts).toBe(1)
  })

  it('counts by a source field when asked, and ignores anomaly events', () => {
    const node = id('NODE')
    const { d, logged, at } = setup({ key: 'source.node_id', minEvents: 10, factor: 3, warmupMs: 0, alert: true })
    at(0)
    for (let i = 0; i < 20; i++) d.onEvent(ev('log_info', '2025-01-06T10:00:00', { node_id: node }, { message: 'x', analyzer: 'burst', anomaly: { kind: 'event_burst' } }))
    expect(logged).toEqual([])
    for (let i = 0; i < 20; i++) d.onEvent(ev('log_info', '2025-01-06T10:00:00', { node_id: node }))
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ alert: true, event_data: { anomaly: { key: 'source.node_id', value: node } } })
  })
})
