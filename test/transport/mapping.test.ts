import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { cleanEnv, ensureBuilt, projectDir, readEventFiles, runApp, summaries } from './helpers.js'

/**
 * The mapping table (README): each kind of pino line, logged by a real program through the
 * transport's worker thread into the NDJSON file, becomes exactly the MADSci Event listed.
 * The program runs with TZ=America/Chicago: pino's epoch-ms `time` 2026-04-09T14:47:11.123Z
 * becomes the naive local `2026-04-09T09:47:11.123000`, as MADSci's Python clients stamp events.
 */
const APP = fileURLToPath(new URL('./fixtures/mapping-app.mjs', import.meta.url))
const NODE = '01JRB6Y0000000000000000005'
const WORKFLOW = '01JRB6Y0000000000000000009'
const EXPERIMENT = '01JRB6Y0000000000000000002'
const LAB = '01JRB6Y0000000000000000007'
const LAB2 = '01JRB6Y000000000000000000C'
const LOCAL = '2026-04-09T09:47:11.123000'

let dir: string
let pid: number
const host = hostname()
const files = new Map<string, Array<Record<string, unknown>>>()

beforeAll(async () => {
  ensureBuilt()
  dir = await projectDir()
  const r = await runApp({}, { args: [APP, dir], cwd: dir, env: cleanEnv({ TZ: 'America/Chicago' }) })
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  pid = r.pid
  for (const name of ['table', 'utc', 'times-iso', 'times-seconds', 'times-none', 'labels', 'min-level', 'text']) {
    files.set(name, readEventFiles(join(dir, `${name}.ndjson`)))
  }
}, 120_000)

/** The user events of a file (the closing summary left out), without the generated ids. */
function lines(name: string): Array<Record<string, unknown>> {
  return (files.get(name) ?? []).filter((e) => !summaries([e]).length)
}

/** An Event as the table says, with pino's pid/hostname after the message and the transport's source. */
function event(type: string, level: number, data: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const { message, ...rest } = data
  return {
    event_type: type,
    log_level: level,
    alert: false,
    event_timestamp: LOCAL,
    source: { lab_id: LAB },
    event_data: { message, pid, hostname: host, ...rest },
    trace_id: null,
    span_id: null,
    archived: false,
    archived_at: null,
    ...extra,
  }
}

function bySeq(seq: number): Record<string, unknown> {
  const found = lines('table').find((e) => (e.event_data as { seq?: number }).seq === seq)
  if (!found) throw new Error(`no event for line ${seq}`)
  const { event_id, ...rest } = found
  expect(event_id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/)
  return rest
}

describe('pino line → MADSci Event', () => {
  it('levels by name: trace, debug → DEBUG; info → INFO; warn → WARNING; error → ERROR; fatal → CRITICAL', () => {
    const want: Array<[number, string, number, string]> = [
      [1, 'log_debug', 10, 'trace line'],
      [2, 'log_debug', 10, 'debug line'],
      [3, 'log_info', 20, 'info line'],
      [4, 'log_warning', 30, 'warn line'],
      [5, 'log_error', 40, 'error line'],
      [6, 'log_critical', 50, 'fatal line'],
    ]
    for (const [seq, type, level, message] of want) expect(bySeq(seq)).toStrictEqual(event(type, level, { message, seq }))
  })

  it('custom levels by the nearest standard pino level at or below them (15 → DEBUG, 35 → INFO, 55 → ERROR, 70 → CRITICAL)', () => {
    expect(bySeq(7)).toStrictEqual(event('log_debug', 10, { message: 'custom 15', seq: 7 }))
    expect(bySeq(8)).toStrictEqual(event('log_info', 20, { message: 'custom 35', seq: 8 }))
    expect(bySeq(9)).toStrictEqual(event('log_error', 40, { message: 'custom 55', seq: 9 }))
    expect(bySeq(10)).toStrictEqual(event('log_critical', 50, { message: 'custom 70', seq: 10 }))
  })

  it('level labels (formatters.level) map by name; another messageKey and errorKey are honoured', () => {
    const [e] = lines('labels')
    expect(e).toMatchObject({ event_type: 'log_warning', log_level: 30, event_timestamp: LOCAL })
    expect(e.event_data).toStrictEqual({
      message: 'labelled',
      pid,
      hostname: host,
      error: { type: 'RangeError', message: 'out of range', stack: expect.stringMatching(/^RangeError: out of range\n\s+at /) },
    })
  })

  it('msg → event_data.message first, the other fields after it in line order, nested values intact', () => {
    expect(bySeq(11)).toStrictEqual(event('log_info', 20, { message: 'fields', seq: 11, nested: { a: [1, 2.5, null, true] }, count: 3 }))
    const noFields = lines('table').find((e) => (e.event_data as { message?: string }).message === 'no fields')
    expect(noFields?.event_data).toStrictEqual({ message: 'no fields', pid, hostname: host })
    // A field called `message` next to pino's message is kept as `message_field`.
    expect(bySeq(25)).toStrictEqual(event('log_info', 20, { message: 'pino message', seq: 25, message_field: 'a field called message' }))
  })

  it('err → { type, message, stack, ...own fields, cause }: pino\'s flattened "caused by" chain becomes nested causes', () => {
    const e = bySeq(12)
    const data = e.event_data as Record<string, unknown>
    expect(e).toMatchObject({ event_type: 'log_error', log_level: 40 })
    expect(Object.keys(data)).toEqual(['message', 'pid', 'hostname', 'seq', 'err'])
    expect(data.err).toStrictEqual({
      type: 'Error',
      message: 'outer',
      stack: expect.stringMatching(/^Error: outer\n\s+at /),
      code: 'E_OUT',
      cause: { type: 'TypeError', message: 'inner', stack: expect.stringMatching(/^TypeError: inner\n\s+at /) },
    })
    expect((data.err as { stack: string }).stack).not.toMatch(/caused by/)
  })

  it('event_type / eventType in the line or in child bindings picks the type (the line wins); an unknown type stays in event_data', () => {
    expect(bySeq(13)).toStrictEqual(event('workflow_start', 20, { message: 'typed', seq: 13 }))
    expect(bySeq(14)).toStrictEqual(event('experiment_complete', 20, { message: 'camel typed', seq: 14 }))
    expect(bySeq(15)).toStrictEqual(event('node_status_update', 30, { message: 'bound type', seq: 15 }))
    expect(bySeq(16)).toStrictEqual(event('node_error', 30, { message: 'line type wins', seq: 16 }))
    expect(bySeq(17)).toStrictEqual(event('log_info', 20, { message: 'unknown type', seq: 17, event_type: 'my_custom_type' }))
  })

  it('ownership fields in bindings or a source object → source (over the transport\'s source option); non-ULID values stay in event_data', () => {
    expect(bySeq(18)).toStrictEqual(event('log_info', 20, { message: 'owned', seq: 18 }, { source: { node_id: NODE, lab_id: LAB, workflow_id: WORKFLOW } }))
    expect(bySeq(19)).toStrictEqual(
      event('log_info', 20, { message: 'source object', source: { station: 'B2' }, seq: 19 }, { source: { experiment_id: EXPERIMENT, node_id: NODE, lab_id: LAB } }),
    )
    expect(bySeq(20)).toStrictEqual(event('log_info', 20, { message: 'bad ownership', seq: 20, node_id: 'not-a-ulid' }))
    expect(bySeq(21)).toStrictEqual(event('log_info', 20, { message: 'line overrides the transport source', seq: 21 }, { source: { node_id: NODE, lab_id: LAB2 } }))
    expect(bySeq(27)).toStrictEqual(event('log_info', 20, { message: 'source that is not an object', seq: 27, source: 'sensor-3' }))
  })

  it('alert: true → alert; any other value stays in event_data', () => {
    expect(bySeq(22)).toStrictEqual(event('log_critical', 50, { message: 'alarm', seq: 22 }, { alert: true }))
    expect(bySeq(23)).toStrictEqual(event('log_info', 20, { message: 'not a boolean alert', seq: 23, alert: 'yes' }))
  })

  it('event_id, trace_id and span_id of the line are the Event\'s', () => {
    const e = lines('table').find((x) => (x.event_data as { seq?: number }).seq === 24)
    expect(e).toStrictEqual({
      event_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TY',
      ...event('log_info', 20, { message: 'ids', seq: 24 }, { trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' }),
    })
  })

  it('time: epoch ms → naive local time; timestamps: "utc" → UTC with Z; an ISO string is kept; Unix seconds are read as seconds; none → now', () => {
    expect(lines('utc')[0]).toMatchObject({ event_timestamp: '2026-04-09T14:47:11.123000Z' })
    expect(lines('times-iso')[0]).toMatchObject({ event_timestamp: '2026-04-09T14:47:11.123000Z' })
    expect(lines('times-seconds')[0]).toMatchObject({ event_timestamp: '2026-04-09T09:47:11' })
    const now = lines('times-none')[0].event_timestamp as string
    expect(now).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/)
    // Stamped by the transport when the line arrived: just before its closing summary, on the same clock.
    const closing = summaries(files.get('times-none') ?? [])[0].event_timestamp as string
    const gap = Date.parse(`${closing}Z`) - Date.parse(`${now}Z`)
    expect(gap).toBeGreaterThanOrEqual(0)
    expect(gap).toBeLessThan(60_000)
  })

  it('pid and hostname are kept by default and dropped with keepPinoFields: false', () => {
    expect((bySeq(3).event_data as Record<string, unknown>).pid).toBe(pid)
    expect(lines('utc')[0].event_data).toStrictEqual({ message: 'utc', seq: 1 })
  })

  it('minLevel: lines under it are not shipped, and the summary counts them', () => {
    expect(lines('min-level').map((e) => [e.event_type, e.log_level])).toEqual([
      ['log_warning', 30],
      ['log_error', 40],
      ['log_critical', 50],
    ])
    const [s] = summaries(files.get('min-level') ?? [])
    expect((s.event_data as { madsci_events: object }).madsci_events).toMatchObject({ lines: 6, below_min_level: 3, accepted: 3, delivered: 3 })
  })

  it('a line that is not JSON (a text stage earlier in a pipeline) → a log_info event with the text as message', () => {
    const [e] = lines('text')
    expect(e).toMatchObject({ event_type: 'log_info', log_level: 20, alert: false, source: {}, event_data: { message: 'WARN: door open', unparsed_line: true } })
    const [s] = summaries(files.get('text') ?? [])
    expect((s.event_data as { madsci_events: object }).madsci_events).toMatchObject({ lines: 0, unparsed_lines: 1, accepted: 1, delivered: 1 })
  })

  it('closing adds one DEBUG summary event with the totals to each file', () => {
    const [s] = summaries(files.get('table') ?? [])
    expect(s).toMatchObject({ event_type: 'log_debug', log_level: 10, source: { lab_id: LAB } })
    expect(s.event_data).toMatchObject({
      message: 'madsci-events pino transport closing',
      madsci_events: {
        kind: 'transport_summary',
        pid,
        hostname: host,
        lines: 27,
        accepted: 27,
        delivered: 27,
        failed: 0,
        dropped: {},
        pending: 0,
        sinks: [{ sink: 'file', target: join(dir, 'table.ndjson'), accepted: 27, delivered: 27 }],
      },
    })
    expect(lines('table')).toHaveLength(27)
  })
})
