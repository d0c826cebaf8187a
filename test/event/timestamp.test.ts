import { describe, expect, it } from 'vitest'
import { formatDateNaiveUtc, formatMicros, nowTimestamp, parseTimestamp, timestampMicros } from '../../src/event/index.js'

const text = (v: unknown): string | undefined => {
  const p = parseTimestamp(v)
  return 'text' in p ? p.text : undefined
}

describe('timestamps (pydantic datetime rendering)', () => {
  it('keeps canonical strings byte-identical', () => {
    for (const s of [
      '2026-04-09T14:47:11.123456',
      '2026-04-09T14:47:11',
      '2026-04-09T14:47:11.123456Z',
      '2026-04-09T14:47:11+02:00',
      '2026-04-09T14:47:11.000001-05:30',
      '0001-01-01T00:00:00',
      '9999-12-31T23:59:59.999999',
    ]) {
      expect(text(s)).toBe(s)
    }
  })

  it('renders other accepted forms as pydantic would', () => {
    expect(text('2026-04-09 14:47:11.5')).toBe('2026-04-09T14:47:11.500000')
    expect(text('2026-04-09T14:47:11.123+00:00')).toBe('2026-04-09T14:47:11.123000Z')
    expect(text('2026-04-09T14:47:11.1234567')).toBe('2026-04-09T14:47:11.123456')
    expect(text('2026-04-09T14:47')).toBe('2026-04-09T14:47:00')
    expect(text('2026-04-09')).toBe('2026-04-09T00:00:00')
    expect(text('2026-04-09T14:47:11+0530')).toBe('2026-04-09T14:47:11+05:30')
    expect(text(0)).toBe('1970-01-01T00:00:00Z')
    expect(text(1700000000.5)).toBe('2023-11-14T22:13:20.500000Z')
    expect(text('1700000000')).toBe('2023-11-14T22:13:20Z')
  })

  it('refuses what is not a datetime, with a reason', () => {
    for (const bad of ['yesterday', '2026-13-01T00:00:00', '2026-02-30T00:00:00', '2026-04-09T24:00:00', '2026-04-09T14:60:00', null, {}, true, Number.NaN]) {
      const p = parseTimestamp(bad)
      expect('msg' in p).toBe(true)
    }
    expect(text('2024-02-29T00:00:00')).toBe('2024-02-29T00:00:00')
    expect(text('2023-02-29T00:00:00')).toBeUndefined()
  })

  it('orders naive and aware times by instant', () => {
    expect(timestampMicros('2026-04-09T14:47:11.000001')).toBe(Date.UTC(2026, 3, 9, 14, 47, 11) * 1000 + 1)
    expect(timestampMicros('2026-04-09T16:47:11+02:00')).toBe(Date.UTC(2026, 3, 9, 14, 47, 11) * 1000)
    expect(Number.isNaN(timestampMicros('nope'))).toBe(true)
  })

  it('generates Python-naive local time with microseconds, or UTC with Z', () => {
    expect(nowTimestamp()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/)
    expect(nowTimestamp('utc')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$/)
    expect(formatMicros(Date.UTC(2026, 0, 2, 3, 4, 5) * 1000 + 42, 'utc')).toBe('2026-01-02T03:04:05.000042Z')
    expect(formatMicros(Date.UTC(2026, 0, 2, 3, 4, 5) * 1000, 'utc')).toBe('2026-01-02T03:04:05Z')
    expect(formatDateNaiveUtc(new Date(Date.UTC(2026, 3, 9, 19, 47, 11, 123)))).toBe('2026-04-09T19:47:11.123000')
  })
})
