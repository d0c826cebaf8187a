import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { EventInput } from '../../src/event/index.js'
import { createAnalyzerHost, eventsReader, sessionUtilizationReport, type Analyzer } from '../../src/analyze/index.js'
import { makeDataset } from '../fixtures/utilization-dataset.js'
import { ev } from './build.js'

const counter = fileURLToPath(new URL('./fixtures/type-counter.mjs', import.meta.url))

function recorder() {
  const logged: EventInput[] = []
  return { logged, context: { log: (e: EventInput) => void logged.push(e) } }
}

describe('analyzer host', () => {
  it('queues offered events and runs analyzers later, off the caller', async () => {
    const { context } = recorder()
    const seen: string[] = []
    const inline: Analyzer = { name: 'inline', onEvent: (e) => void seen.push(e.event_type), result: () => ({ seen: seen.length }) }
    const host = createAnalyzerHost([inline, { module: counter, options: { name: 'types' } }], context, { tickMs: 0 })
    await host.ready
    host.offer(ev('log_info', '2025-01-06T10:00:00'))
    host.offer(ev('log_error', '2025-01-06T10:00:01', {}, {}, { log_level: 40 }))
    expect(seen).toEqual([]) // offer() only queued
    expect(host.stats()).toMatchObject({ offered: 2, processed: 0, pending: 2 })
    await new Promise((r) => setImmediate(r))
    expect(seen).toEqual(['log_info', 'log_error'])
    expect(host.results()).toEqual({ inline: { seen: 2 }, types: { counts: { log_info: 1, log_error: 1 } } })
    expect(host.stats()).toMatchObject({ offered: 2, processed: 2, pending: 0, dropped: 0, analyzers: { inline: { events: 2, failures: 0 }, types: { events: 2 } } })
    await host.close()
  })

  it('holds events offered while modules load, and drops (and counts) beyond the queue bound', async () => {
    const { context } = recorder()
    const host = createAnalyzerHost([{ module: counter }], context, { tickMs: 0, queueSize: 3 })
    for (let i = 0; i < 5; i++) host.offer(ev('log_info', `2025-01-06T10:00:0${i}`))
    await host.flush()
    expect(host.stats()).toMatchObject({ offered: 5, processed: 3, dropped: 2 })
    expect(host.results()['type-counter']).toEqual({ counts: { log_info: 3 } })
    await host.close()
    host.offer(ev('log_info', '2025-01-06T11:00:00'))
    expect(host.stats().dropped).toBe(3)
  })

  it('lets analyzers record events (and alerts) through the context, with the host clock', async () => {
    const { logged, context } = recorder()
    const host = createAnalyzerHost([{ module: counter, options: { alertOn: 'node_error' } }], context, { tickMs: 0, now: () => 1234 })
    host.offer(ev('node_error', '2025-01-06T10:00:00'))
    await host.flush()
    expect(logged).toEqual([{ event_type: 'log_warning', log_level: 30, alert: true, event_data: { message: 'saw node_error', at: 1234 } }])
    expect(host.stats().emitted).toBe(1)
    await host.close()
  })

  it('counts failures and reports them as MADSci events, at most once per interval', async () => {
    const { logged, context } = recorder()
    let t = 0
    const host = createAnalyzerHost([{ module: counter, options: { failOn: 'node_error' } }], context, { tickMs: 0, now: () => t, failureReportIntervalMs: 60_000 })
    for (let i = 0; i < 3; i++) host.offer(ev('node_error', '2025-01-06T10:00:00'))
    host.offer(ev('log_info', '2025-01-06T10:00:01'))
    await host.flush()
    expect(host.stats().analyzers['type-counter']).toEqual({ events: 4, failures: 3, lastError: 'cannot count node_error' })
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ event_type: 'log_error', log_level: 40, event_data: { analyzer: 'type-counter', phase: 'onEvent', failures: 1 } })
    t = 61_000
    host.offer(ev('node_error', '2025-01-06T10:01:00'))
    await host.flush()
    expect(logged).toHaveLength(2)
    expect(logged[1].event_data).toMatchObject({ failures: 3, message: expect.stringContaining('3 failures since the last report') })
    expect(host.results()['type-counter']).toEqual({ counts: { log_info: 1 } })
    await host.close()
  })

  it('reports modules it cannot load instead of throwing', async () => {
    const { logged, context } = recorder()
    const host = createAnalyzerHost(
      [{ module: './no/such/analyzer.mjs' }, { module: 'builtin:nope' }, { module: 'builtin:burst', options: { key: 'colour' } }, { module: 'builtin:silence' }],
      context,
      { tickMs: 0 },
    )
    await host.ready
    const errors = host.stats().loadErrors
    expect(errors).toHaveLength(3)
    expect(errors[0]).toContain('cannot import the plugin module "./no/such/analyzer.mjs"')
    expect(errors[1]).toContain('unknown built-in analyzer "builtin:nope"; built-ins are builtin:error-rate, builtin:silence, builtin:burst, builtin:utilization')
    expect(errors[2]).toContain('Invalid option `analyzers.burst.key`')
    expect(logged.filter((e) => e.event_type === 'log_error')).toHaveLength(3)
    expect(Object.keys(host.results())).toEqual(['silence'])
    await host.close()
  })

  it('runs batch analyzers over stored events (MADSci reports as builtin:utilization)', async () => {
    const { context } = recorder()
    const ds = makeDataset({ days: 2, minEvents: 100 })
    const reader = eventsReader(ds.events)
    const now = 1_750_000_000_000
    const host = createAnalyzerHost([{ module: 'builtin:utilization', options: { report: 'sessions' } }, { module: counter }], context, { tickMs: 0, now: () => now })
    const range = { startTime: '2025-01-06T06:00:00', endTime: '2025-01-07T06:00:00' }
    const out = await host.analyze(reader, range)
    const direct = await sessionUtilizationReport(reader, { ...range, now: () => now * 1000 })
    expect(out['utilization-sessions']).toEqual(direct)
    expect(host.results()['utilization-sessions']).toEqual(direct)
    expect(out['type-counter']).toEqual({ stored: ds.events.filter((e) => e.event_timestamp >= range.startTime && e.event_timestamp <= range.endTime).length })
    await host.close()
  })

  it('survives a context whose log() throws', async () => {
    const host = createAnalyzerHost([{ module: counter, options: { alertOn: 'log_info' } }], { log: () => { throw new Error('pipeline closed') } }, { tickMs: 0 })
    host.offer(ev('log_info', '2025-01-06T10:00:00'))
    await expect(host.flush()).resolves.toBeUndefined()
    expect(host.stats().emitted).toBe(1)
    await host.close()
  })
})
