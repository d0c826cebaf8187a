import { describe, expect, it } from 'vitest'
import type { EventInput } from '../../src/event/index.js'
import { ConfigError } from '../../src/errors.js'
import { SilenceDetector } from '../../src/analyze/index.js'
import { ev, id } from './build.js'

const A = id('NODEA')
const B = id('NODEB')
const W = id('WC')

function setup(options: Record<string, unknown> = {}) {
  let now = 0
  const logged: EventInput[] = []
  const d = new SilenceDetector(options, { log: (e) => void logged.push(e), now: () => now })
  return { d, logged, at: (ms: number) => void (now = ms) }
}

describe('silent-source detector', () => {
  it('reports a source after ten of its usual gaps of silence, once, and its return', () => {
    const { d, logged, at } = setup()
    for (let i = 0; i < 10; i++) {
      at(i * 10_000)
      d.onEvent(ev('node_status_update', '2025-01-06T10:00:00', { node_id: A, workcell_id: W }))
    }
    const last = 90_000
    d.onTick(last + 99_999)
    expect(logged).toEqual([])
    d.onTick(last + 100_000)
    expect(logged).toHaveLength(2) // the node and its workcell went quiet together
    const node = logged.find((e) => (e.event_data as any).anomaly.field === 'node_id')!
    expect(node).toMatchObject({ event_type: 'log_warning', log_level: 30, alert: true })
    expect((node.event_data as any).anomaly).toMatchObject({ kind: 'source_silent', id: A, silent_ms: 100_000, usual_gap_ms: 10_000, limit_ms: 100_000, events_seen: 10 })
    d.onTick(last + 500_000)
    expect(logged).toHaveLength(2)
    expect(d.result().silent.map((s) => s.id).sort()).toEqual([A, W].sort())
    at(last + 600_000)
    d.onEvent(ev('log_info', '2025-01-06T10:00:00', { node_id: A }))
    expect(logged).toHaveLength(3)
    expect(logged[2]).toMatchObject({ event_type: 'log_info', alert: false, event_data: { anomaly: { kind: 'source_resumed', field: 'node_id', id: A, silent_ms: 600_000 } } })
    expect(d.result()).toMatchObject({ silences: 2, resumes: 1 })
  })

  it('needs minEvents before judging, waits at least a minute, at most an hour', () => {
    const { d, logged, at } = setup({ keys: ['node_id'] })
    // Three events: too few to know the source.
    for (let i = 0; i < 3; i++) {
      at(i * 1000)
      d.onEvent(ev('log_info', '2025-01-06T10:00:00', { node_id: B }))
    }
    d.onTick(10_000_000)
    expect(logged).toEqual([])
    // A chatty source (1 s gaps): silent only after the one-minute floor.
    const { d: chatty, logged: l2, at: at2 } = setup({ keys: ['node_id'] })
    for (let i = 0; i < 6; i++) {
      at2(i * 1000)
      chatty.onEvent(ev('log_info', '2025-01-06T10:00:00', { node_id: A }))
    }
    chatty.onTick(5000 + 59_999)
    expect(l2).toEqual([])
    chatty.onTick(5000 + 60_000)
    expect(l2).toHaveLength(1)
    // A slow source (hour gaps): the one-hour cap applies.
    const { d: slow, logged: l3, at: at3 } = setup({ keys: ['node_id'] })
    for (let i = 0; i < 6; i++) {
      at3(i * 7_200_000)
      slow.onEvent(ev('log_info', '2025-01-06T10:00:00', { node_id: A }))
    }
    slow.onTick(5 * 7_200_000 + 3_600_000)
    expect((l3[0].event_data as any).anomaly.limit_ms).toBe(3_600_000)
    void at
  })

  it('forgets the least recently heard sources beyond maxSources', () => {
    const { d, at } = setup({ keys: ['node_id'], maxSources: 2 })
    for (const [i, n] of [A, B, id('C')].entries()) {
      at(i)
      d.onEvent(ev('log_info', '2025-01-06T10:00:00', { node_id: n }))
    }
    expect(d.result().tracked).toBe(2)
  })

  it('accepts only source fields as keys', () => {
    expect(() => setup({ keys: ['hostname'] })).toThrow(ConfigError)
  })
})
