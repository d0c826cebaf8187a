import { describe, expect, it } from 'vitest'
import { createBuckets } from '../../src/analyze/buckets.js'
import { isoNaive, microsFromCivil, US_PER_HOUR } from '../../src/analyze/pytime.js'
import { resolveTimeZone, strftime } from '../../src/analyze/zone.js'

const utc = (s: string): number => Date.parse(s + 'Z') * 1000
const hours = (b: { start: number; end: number }): number => (b.end - b.start) / US_PER_HOUR

describe('time zones and buckets (local calendar units, real DST)', () => {
  it('converts both ways around America/Chicago DST changes (compatible disambiguation)', () => {
    const chicago = resolveTimeZone('America/Chicago')
    expect(chicago.fellBack).toBe(false)
    expect(chicago.offsetAt(utc('2025-03-09T07:59:59'))).toBe(-6 * US_PER_HOUR)
    expect(chicago.offsetAt(utc('2025-03-09T08:00:00'))).toBe(-5 * US_PER_HOUR)
    const wall = (y: number, mo: number, d: number, h: number, mi = 0) => ({ year: y, month: mo, day: d, hour: h, minute: mi, second: 0, micro: 0 })
    expect(isoNaive(chicago.toUtc(wall(2025, 3, 9, 0)))).toBe('2025-03-09T06:00:00')
    // 02:30 is skipped: moved forward by the jump (03:30 CDT).
    expect(isoNaive(chicago.toUtc(wall(2025, 3, 9, 2, 30)))).toBe('2025-03-09T08:30:00')
    // 01:30 happens twice: the first occurrence (CDT).
    expect(isoNaive(chicago.toUtc(wall(2025, 11, 2, 1, 30)))).toBe('2025-11-02T06:30:00')
    expect(strftime(chicago.toLocal(utc('2025-11-02T07:30:00')), '%Y-%m-%d %H:%M')).toBe('2025-11-02 01:30')
    expect(microsFromCivil(chicago.toLocal(utc('2025-07-04T17:00:00')))).toBe(utc('2025-07-04T12:00:00'))
  })

  it('falls back to UTC for an unknown zone name, as upstream', () => {
    const z = resolveTimeZone('Mars/Olympus_Mons')
    expect(z.name).toBe('UTC')
    expect(z.fellBack).toBe(true)
  })

  it('gives a 23-hour spring-forward day and a 25-hour fall-back day in Chicago', () => {
    const chicago = resolveTimeZone('America/Chicago')
    const spring = createBuckets(utc('2025-03-08T06:00:00'), utc('2025-03-11T05:00:00'), 'daily', chicago)
    expect(spring.map((b) => b.periodInfo.display)).toEqual(['2025-03-08', '2025-03-09', '2025-03-10'])
    expect(spring.map(hours)).toEqual([24, 23, 24])
    expect(spring.map((b) => isoNaive(b.start))).toEqual(['2025-03-08T06:00:00', '2025-03-09T06:00:00', '2025-03-10T05:00:00'])
    const fall = createBuckets(utc('2025-11-01T05:00:00'), utc('2025-11-04T06:00:00'), 'daily', chicago)
    expect(fall.map(hours)).toEqual([24, 25, 24])
    expect(fall.map((b) => strftime(b.localStart, '%Y-%m-%dT%H:%M:%S'))).toEqual(['2025-11-01T00:00:00', '2025-11-02T00:00:00', '2025-11-03T00:00:00'])
  })

  it('aligns a daily first bucket to local midnight and ends the last at the analysis end', () => {
    const b = createBuckets(utc('2025-01-06T15:00:00'), utc('2025-01-07T20:00:00'), 'daily', resolveTimeZone('America/Chicago'))
    expect(b.map((x) => isoNaive(x.start))).toEqual(['2025-01-06T06:00:00', '2025-01-07T06:00:00'])
    expect(isoNaive(b[1].end)).toBe('2025-01-07T20:00:00')
  })

  it('runs weeks Monday to Monday local time (167 hours across spring forward)', () => {
    const w = createBuckets(utc('2025-03-05T12:00:00'), utc('2025-03-17T12:00:00'), 'weekly', resolveTimeZone('America/Chicago'))
    expect(w.map((b) => b.periodInfo.display)).toEqual(['Week of 2025-03-03', 'Week of 2025-03-10', 'Week of 2025-03-17'])
    expect(isoNaive(w[0].start)).toBe('2025-03-03T06:00:00')
    expect(hours(w[0])).toBe(167)
    expect(w[1].periodInfo.short).toBe('Week 03/10')
  })

  it('starts Europe/Berlin months at local midnight of the 1st, in winter and summer time', () => {
    const m = createBuckets(utc('2025-01-15T00:00:00'), utc('2025-04-15T00:00:00'), 'monthly', resolveTimeZone('Europe/Berlin'))
    expect(m.map((b) => b.periodInfo.display)).toEqual(['January 2025', 'February 2025', 'March 2025', 'April 2025'])
    expect(m.map((b) => b.periodInfo.short)).toEqual(['Jan 2025', 'Feb 2025', 'Mar 2025', 'Apr 2025'])
    expect(m.map((b) => isoNaive(b.start))).toEqual(['2024-12-31T23:00:00', '2025-01-31T23:00:00', '2025-02-28T23:00:00', '2025-03-31T22:00:00'])
    // March loses the hour of the switch to summer time.
    expect(hours(m[2])).toBe(31 * 24 - 1)
  })

  it('keeps hourly buckets real hours from the analysis start and labels them in local time', () => {
    const h = createBuckets(utc('2025-11-02T05:30:00'), utc('2025-11-02T09:30:00'), 'hourly', resolveTimeZone('America/Chicago'))
    expect(h.map((b) => b.periodInfo.display)).toEqual(['2025-11-02 00:30', '2025-11-02 01:30', '2025-11-02 01:30', '2025-11-02 02:30'])
    expect(h.map(hours)).toEqual([1, 1, 1, 1])
    expect(h[0].periodInfo).toEqual({ type: 'period', display: '2025-11-02 00:30', short: '11/02 00:30' })
  })

  it('gives unknown analysis types daily buckets, as upstream', () => {
    const b = createBuckets(utc('2025-01-06T00:00:00'), utc('2025-01-08T00:00:00'), 'fortnightly', resolveTimeZone('UTC'))
    expect(b.map((x) => x.periodInfo.type)).toEqual(['day', 'day'])
  })
})
