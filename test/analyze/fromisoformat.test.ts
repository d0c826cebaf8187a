import { describe, expect, it } from 'vitest'
import { PyValueError, isoNaive, pyFromIsoformat, pyStrDatetime } from '../../src/analyze/pytime.js'

function parse(s: string): string {
  const d = pyFromIsoformat(s)
  if (d.offsetMicros === null) return isoNaive(d.wallMicros)
  const off = d.offsetMicros / 60_000_000
  const sign = off < 0 ? '-' : '+'
  const a = Math.abs(off)
  return `${isoNaive(d.wallMicros)}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`
}

function error(s: string): string {
  try {
    pyFromIsoformat(s)
  } catch (err) {
    expect(err).toBeInstanceOf(PyValueError)
    return (err as Error).message
  }
  throw new Error(`${s} parsed`)
}

// Vectors observed with CPython 3.11.7's datetime.fromisoformat (the Event Manager's runtime).
describe('datetime.fromisoformat as CPython 3.11', () => {
  it('accepts what Python accepts, with the same value', () => {
    const ok: Array<[string, string]> = [
      ['2026-01-01', '2026-01-01T00:00:00'],
      ['2026-01-01T10', '2026-01-01T10:00:00'],
      ['2026-01-01T10:00', '2026-01-01T10:00:00'],
      ['2026-01-01T10:00:00.1', '2026-01-01T10:00:00.100000'],
      ['2026-01-01T10:00:00.1234567', '2026-01-01T10:00:00.123456'],
      ['2026-01-01 10:00:00', '2026-01-01T10:00:00'],
      ['2026-01-01X10:00:00', '2026-01-01T10:00:00'],
      ['2026-01-01é10:00', '2026-01-01T10:00:00'],
      ['20260101T100000', '2026-01-01T10:00:00'],
      ['2026-01-01T1000', '2026-01-01T10:00:00'],
      ['2026-01-01T100000.5', '2026-01-01T10:00:00.500000'],
      ['2026-W01-1', '2025-12-29T00:00:00'],
      ['2026W011', '2025-12-29T00:00:00'],
      ['2026W01', '2025-12-29T00:00:00'],
      ['2026-W53-1', '2026-12-28T00:00:00'],
      ['2026-01-01T10:00:00+02', '2026-01-01T10:00:00+02:00'],
      ['2026-01-01T10:00:00+0200', '2026-01-01T10:00:00+02:00'],
      ['2026-01-01T10:00:00-05', '2026-01-01T10:00:00-05:00'],
      ['2026-01-01T10:00:00,5', '2026-01-01T10:00:00.500000'],
      ['2026-01-01T10:00:00 +02:00', '2026-01-01T10:00:00+02:00'],
      ['2026-01-01T10:00:00.123+00:00', '2026-01-01T10:00:00.123000+00:00'],
      ['2026-01-01T10:00:00.123+0530', '2026-01-01T10:00:00.123000+05:30'],
      ['2026-01-01T10:00:00-0530', '2026-01-01T10:00:00-05:30'],
      ['2026-01-01T10+02:00', '2026-01-01T10:00:00+02:00'],
      ['2026-01-01T10:00:00-00:00', '2026-01-01T10:00:00+00:00'],
      ['2026-01-01T10:00:00.12345678901', '2026-01-01T10:00:00.123456'],
    ]
    for (const [input, expected] of ok) expect(parse(input), input).toBe(expected)
  })

  it('refuses what Python refuses, with Python\'s message', () => {
    const bad: Array<[string, string]> = [
      ['2026-01', "Invalid isoformat string: '2026-01'"],
      ['abc', "Invalid isoformat string: 'abc'"],
      ["it's", `Invalid isoformat string: "it's"`],
      [' 2026-01-01', "Invalid isoformat string: ' 2026-01-01'"],
      ['2026-1-1', "Invalid isoformat string: '2026-1-1'"],
      ['2026-01-01T10:00:00.', "Invalid isoformat string: '2026-01-01T10:00:00.'"],
      ['2026-01-01T10:0', "Invalid isoformat string: '2026-01-01T10:0'"],
      ['2026-01-01T10:00:00 ', "Invalid isoformat string: '2026-01-01T10:00:00 '"],
      ['2026-01-01T10:00:00  +02:00', "Invalid isoformat string: '2026-01-01T10:00:00  +02:00'"],
      ['2026-W01-8', "Invalid isoformat string: '2026-W01-8'"],
      ['2026-001', "Invalid isoformat string: '2026-001'"],
      ['2026-0101', "Invalid isoformat string: '2026-0101'"],
      ['2026-01-01T10:00:00+2', "Invalid isoformat string: '2026-01-01T10:00:00+2'"],
      ['2026-01-01T10:00:00+01:00+00:00', "Invalid isoformat string: '2026-01-01T10:00:00+01:00+00:00'"],
      ['2026-01-01T25:00', 'hour must be in 0..23'],
      ['2026-01-01T24:00', 'hour must be in 0..23'],
      ['2026-01-01T10:00:60', 'second must be in 0..59'],
      ['2026-02-30', 'day is out of range for month'],
      ['2026-13-01', 'month must be in 1..12'],
      ['0000-01-01', 'year 0 is out of range'],
      [
        '2026-01-01T10:00:00+25:00',
        'offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=1, seconds=3600).',
      ],
      [
        '2026-01-01T10:00:00+24:00',
        'offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=1).',
      ],
    ]
    for (const [input, message] of bad) expect(error(input), input).toBe(message)
  })

  it('prints str(datetime) with a space, as the periods error details do', () => {
    expect(pyStrDatetime(pyFromIsoformat('2026-01-01T10:00:00.000005').wallMicros)).toBe('2026-01-01 10:00:00.000005')
  })
})
