import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { aggregateEvents, eventsReader } from '../../src/analyze/index.js'
import { ev, id } from './build.js'

const N1 = id('N1')
const N2 = id('N2')
const events = () => [
  ev('log_info', '2025-03-29T22:30:00', { node_id: N1 }),
  ev('log_error', '2025-03-30T00:30:00', { node_id: N1 }, {}, { log_level: 40 }),
  ev('log_error', '2025-03-30T00:45:00', { node_id: N2 }, {}, { log_level: 40 }),
  ev('log_info', '2025-03-30T01:30:00', {}),
  ev('node_error', '2025-03-30T21:59:59.999999', { node_id: N2 }, {}, { log_level: 40 }),
  ev('log_info', '2025-03-30T22:00:00', { node_id: N1 }),
]

describe('event counts for the aggregation route', () => {
  it('counts by type, level and source field, most frequent first', async () => {
    const r = eventsReader(events())
    expect(await aggregateEvents(r)).toEqual({
      by: 'event_type',
      start_time: null,
      end_time: null,
      bucket: null,
      time_zone: null,
      total: 6,
      missing: 0,
      counts: { log_info: 3, log_error: 2, node_error: 1 },
    })
    const levels = await aggregateEvents(r, { by: 'log_level' })
    expect(levels.counts).toEqual({ '20': 3, '40': 3 })
    expect(levels.labels).toEqual({ '20': 'INFO', '40': 'ERROR' })
    const nodes = await aggregateEvents(r, { by: 'source.node_id', startTime: '2025-03-30T00:00:00', endTime: '2025-03-30T23:00:00+01:00' })
    expect(nodes).toMatchObject({ total: 5, missing: 1, counts: { [N2]: 2, [N1]: 2 }, start_time: '2025-03-30T00:00:00', end_time: '2025-03-30T22:00:00' })
  })

  it('buckets by local hour and day across the Europe/Berlin switch to summer time', async () => {
    const r = eventsReader(events())
    const hours = await aggregateEvents(r, { bucket: 'hour', timeZone: 'Europe/Berlin', startTime: '2025-03-30T00:00:00', endTime: '2025-03-30T02:00:00' })
    expect(hours.buckets).toEqual([
      { start: '2025-03-30T00:00:00', end: '2025-03-30T01:00:00', label: '2025-03-30T01:00+01:00', total: 2, counts: { log_error: 2 } },
      { start: '2025-03-30T01:00:00', end: '2025-03-30T02:00:00', label: '2025-03-30T03:00+02:00', total: 1, counts: { log_info: 1 } },
    ])
    const days = await aggregateEvents(r, { bucket: 'day', timeZone: 'Europe/Berlin', by: 'log_level' })
    expect(days.buckets?.map((b) => [b.label, b.start, b.end, b.total])).toEqual([
      ['2025-03-29', '2025-03-28T23:00:00', '2025-03-29T23:00:00', 1],
      // The 23-hour day: midnight CET to midnight CEST.
      ['2025-03-30', '2025-03-29T23:00:00', '2025-03-30T22:00:00', 4],
      ['2025-03-31', '2025-03-30T22:00:00', '2025-03-31T22:00:00', 1],
    ])
    const months = await aggregateEvents(r, { bucket: 'month', timeZone: 'Europe/Berlin' })
    expect(months.buckets?.map((b) => [b.label, b.start, b.end, b.total])).toEqual([['2025-03', '2025-02-28T23:00:00', '2025-03-31T22:00:00', 6]])
    const weeks = await aggregateEvents(r, { bucket: 'week', timeZone: 'Europe/Berlin' })
    expect(weeks.buckets?.map((b) => [b.label, b.total])).toEqual([
      ['2025-03-24', 5],
      ['2025-03-31', 1],
    ])
  })

  it('refuses unknown keys, buckets and zones with ConfigError', async () => {
    const r = eventsReader(events())
    await expect(aggregateEvents(r, { by: 'colour' as never })).rejects.toThrow(ConfigError)
    await expect(aggregateEvents(r, { bucket: 'year' as never })).rejects.toThrow(ConfigError)
    await expect(aggregateEvents(r, { bucket: 'day', timeZone: 'Mars/Base' })).rejects.toThrow('is not a time zone this platform knows')
  })
})
