import { describe, expect, it } from 'vitest'
import { EventValidationError, eventToJson, parseEvent, safeParseEvent } from '../../src/index.js'

const ULID = '01JRB6Z6B1T3V7M9Q2W4E8R5TY'

describe('parseEvent', () => {
  it('applies MADSci defaults', () => {
    const e = parseEvent({})
    expect(e.event_id).toMatch(/^[0-9A-Z]{26}$/)
    expect(e).toMatchObject({ event_type: 'unknown', log_level: 20, alert: false, source: {}, event_data: {}, trace_id: null, span_id: null, archived: false, archived_at: null })
    expect(e.event_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/)
  })

  it('accepts _id or event_id (with _id winning) and keeps any string id', () => {
    expect(parseEvent({ event_id: 'abc' }).event_id).toBe('abc')
    expect(parseEvent({ _id: 'x', event_id: 'y' }).event_id).toBe('x')
    expect(parseEvent({ event_id: 12 }).event_id).toBe('12')
  })

  it('is lenient where the Python model is: type case, level names, lax booleans', () => {
    const e = parseEvent({ event_type: 'LOG_WARNING', log_level: 'EventLogLevel.WARNING', alert: 'yes', archived: 0 })
    expect(e.event_type).toBe('log_warning')
    expect(e.log_level).toBe(30)
    expect(e.alert).toBe(true)
    expect(e.archived).toBe(false)
  })

  it('keeps source fields in model order and drops nulls and unknown keys', () => {
    const e = parseEvent({ source: { workflow_id: ULID, node_id: ULID, user_id: null, color: 'red' } })
    expect(Object.keys(e.source)).toEqual(['node_id', 'workflow_id'])
  })

  it('lists every bad field with its path, convertible to FastAPI 422', () => {
    const r = safeParseEvent({ event_type: 'bogus', log_level: 25, alert: 'maybe', source: { node_id: 'not-a-ulid' }, event_timestamp: 'yesterday', trace_id: 5 })
    expect(r.ok).toBe(false)
    if (r.ok) return
    const locs = r.error.issues.map((i) => i.loc.join('.'))
    expect(locs).toEqual(expect.arrayContaining(['event_type', 'log_level', 'alert', 'source.node_id', 'event_timestamp', 'trace_id']))
    expect(r.error.code).toBe('MADSCI_ERR_INVALID_EVENT')
    expect(r.error.message).toContain('source.node_id')
    const detail = r.error.toFastApiDetail()
    expect(detail.detail[0].loc[0]).toBe('body')
    for (const d of detail.detail) expect(d).toHaveProperty('type')
  })

  it('refuses non-objects and a null source', () => {
    expect(() => parseEvent([])).toThrow(EventValidationError)
    expect(() => parseEvent('x')).toThrow(EventValidationError)
    expect(() => parseEvent({ source: null })).toThrow(/source/)
  })

  it('serializes in model order, compact, with either id key', () => {
    const e = parseEvent({ event_id: ULID, event_type: 'test', event_timestamp: '2026-04-09T14:47:11.123456', source: { manager_id: ULID }, event_data: { message: 'hello', step: 1 } })
    expect(eventToJson(e)).toBe(
      `{"event_id":"${ULID}","event_type":"test","log_level":20,"alert":false,"event_timestamp":"2026-04-09T14:47:11.123456","source":{"manager_id":"${ULID}"},"event_data":{"message":"hello","step":1},"trace_id":null,"span_id":null,"archived":false,"archived_at":null}`,
    )
    expect(eventToJson(e, '_id').startsWith(`{"_id":"${ULID}"`)).toBe(true)
  })
})
