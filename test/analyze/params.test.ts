import { describe, expect, it } from 'vitest'
import { ERROR_ANSWERS, parseBoolParam, parseTimeParam, presentTime } from '../../src/analyze/params.js'
import { isoNaive } from '../../src/analyze/pytime.js'
import { resolveTimeZone } from '../../src/analyze/zone.js'

describe('route parameters', () => {
  it('reads naive times as UTC for sessions/user and as the given zone for periods', () => {
    expect(isoNaive(parseTimeParam('2025-07-01T10:00:00'))).toBe('2025-07-01T10:00:00')
    expect(isoNaive(parseTimeParam('2025-07-01T10:00:00', resolveTimeZone('America/Chicago')))).toBe('2025-07-01T15:00:00')
    // An aware time is converted, whatever the zone for naive ones; a Z becomes +00:00 first.
    expect(isoNaive(parseTimeParam('2025-07-01T10:00:00Z', resolveTimeZone('America/Chicago')))).toBe('2025-07-01T10:00:00')
    expect(isoNaive(parseTimeParam('2025-07-01T10:00:00+02:00'))).toBe('2025-07-01T08:00:00')
    expect(isoNaive(parseTimeParam(new Date(Date.UTC(2025, 6, 1, 10))))).toBe('2025-07-01T10:00:00')
  })

  it('reads a local time skipped by DST as Python does (fold=0: the offset before the jump)', () => {
    // 02:30 does not exist in Chicago on 2025-03-09; Python's astimezone() gives 08:30 UTC.
    expect(isoNaive(parseTimeParam('2025-03-09T02:30:00', resolveTimeZone('America/Chicago')))).toBe('2025-03-09T08:30:00')
    // 01:30 happens twice on 2025-11-02; fold=0 is the first (CDT, UTC-5).
    expect(isoNaive(parseTimeParam('2025-11-02T01:30:00', resolveTimeZone('America/Chicago')))).toBe('2025-11-02T06:30:00')
  })

  it('treats empty parameters as missing, as Python\'s truthiness does', () => {
    expect(presentTime('')).toBeUndefined()
    expect(presentTime(null)).toBeUndefined()
    expect(presentTime('2025-01-01')).toBe('2025-01-01')
  })

  it('parses booleans as FastAPI does', () => {
    for (const v of ['true', 'TRUE', '1', 'yes', 'on']) expect(parseBoolParam(v, false)).toBe(true)
    for (const v of ['false', '0', 'No', 'off']) expect(parseBoolParam(v, true)).toBe(false)
    expect(parseBoolParam(undefined, true)).toBe(true)
    expect(parseBoolParam('maybe', true)).toBeUndefined()
  })

  it('words the error answers as upstream', () => {
    expect(ERROR_ANSWERS.periodsMissingTimes()).toEqual({ error: 'start_time and end_time are required', details: 'Both parameters must be provided as ISO strings' })
    expect(ERROR_ANSWERS.csvOutputPathRequired()).toEqual({ error: 'output_path is required when save_to_file=True' })
    expect(ERROR_ANSWERS.sessions(new Error('boom'))).toEqual({ error: 'Failed to generate report: boom' })
  })
})
