import { describe, expect, it } from 'vitest'
import type { EventInput } from '../../src/event/index.js'
import { parseEvent } from '../../src/event/index.js'
import { ConfigError } from '../../src/errors.js'
import { ErrorRateDetector } from '../../src/analyze/index.js'
import { ev } from './build.js'

function setup(options: Record<string, unknown> = {}) {
  let now = 0
  const logged: EventInput[] = []
  const d = new ErrorRateDetector(options, { log: (e) => void logged.push(e), now: () => now })
  return { d, logged, at: (ms: number) => void (now = ms) }
}

const error = () => ev('log_error', '2025-01-06T10:00:00', {}, { message: 'pump stalled' }, { log_level: 40 })
const info = () => ev('log_info', '2025-01-06T10:00:00')

describe('error-rate spike detector', () => {
  it('fires once when a window reaches mean + 4σ (floored at √mean and 10 errors) of the last windows', () => {
    const { d, logged, at } = setup()
    for (let w = 0; w < 10; w++) {
      at(w * 60_000 + 1_000)
      d.onEvent(error())
      d.onEvent(error())
      d.onEvent(info())
    }
    at(10 * 60_000 + 500)
    for (let i = 0; i < 9; i++) d.onEvent(error())
    expect(logged).toEqual([])
    d.onEvent(error()) // the 10th: max(10, 2 + 4·√2)
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ event_type: 'log_warning', log_level: 30, alert: true })
    const data = logged[0].event_data as Record<string, any>
    expect(data.analyzer).toBe('error-rate')
    expect(data.anomaly).toMatchObject({ kind: 'error_rate_spike', level: 40, window_ms: 60_000, count: 10, baseline_mean: 2, baseline_stddev: 0, baseline_windows: 10, threshold: 10 })
    expect(data.message).toContain('Error rate spike: 10 events at level >= 40 in 60 s')
    for (let i = 0; i < 50; i++) d.onEvent(error()) // cooldown: one incident, one report
    expect(logged).toHaveLength(1)
    expect(d.result()).toMatchObject({ spikes: 1, currentCount: 60, baseline: { mean: 2, windows: 10 } })
  })

  it('stays quiet without enough history, and ignores its own anomaly events', () => {
    const { d, logged, at } = setup()
    at(0)
    for (let i = 0; i < 500; i++) d.onEvent(error())
    expect(logged).toEqual([])
    const own = parseEvent({ event_type: 'log_critical', log_level: 50, event_data: { message: 'x', analyzer: 'other', anomaly: { kind: 'k' } } })
    for (let w = 1; w < 8; w++) {
      at(w * 60_000)
      d.onEvent(info())
    }
    for (let i = 0; i < 100; i++) d.onEvent(own)
    expect(logged).toEqual([])
  })

  it('takes its thresholds and the reported event from options', () => {
    const { d, logged, at } = setup({ windowMs: 1000, minBaselineWindows: 2, minErrors: 3, level: 50, alert: false, eventType: 'manager_error', logLevel: 40, name: 'criticals' })
    for (let w = 0; w < 3; w++) {
      at(w * 1000)
      d.onEvent(info())
    }
    const critical = () => ev('log_critical', '2025-01-06T10:00:00', {}, {}, { log_level: 50 })
    d.onEvent(error())
    d.onEvent(critical())
    d.onEvent(critical())
    expect(logged).toEqual([])
    d.onEvent(critical()) // max(3, 0 + 4·1) = 4 criticals
    d.onEvent(critical())
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ event_type: 'manager_error', log_level: 40, alert: false, event_data: { analyzer: 'criticals', anomaly: { count: 4, threshold: 4 } } })
  })

  it('refuses nonsense options with a ConfigError naming the option', () => {
    expect(() => setup({ windowMs: 0 })).toThrow(ConfigError)
    expect(() => setup({ zScore: 'high' })).toThrow('Invalid option `analyzers.error-rate.zScore`')
  })
})
