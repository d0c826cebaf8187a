import { describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script
import { runPythonClient } from '../../scripts/lib/python-peer.mjs'
import { eventToJson, safeParseEvent } from '../../src/index.js'

const python = inject('python')
const ULID = '01JRB6Z6B1T3V7M9Q2W4E8R5TY'
const base = { event_id: ULID, event_timestamp: '2026-04-09T14:47:11.123456' }

/** Inputs on the edge of the Python model's leniency; each must be accepted or refused as pydantic does, with the same output. */
const cases: Array<Record<string, unknown>> = [
  { event_type: 'LOG_INFO' },
  { event_type: 'Log_Info' },
  { event_type: 'info' },
  { event_type: 5 },
  { log_level: 'warning' },
  { log_level: 'EventLogLevel.ERROR' },
  { log_level: 'WARN' },
  { log_level: 25 },
  { log_level: 30.0 },
  { log_level: true },
  { alert: 'yes' },
  { alert: 'off' },
  { alert: 1 },
  { alert: 2 },
  { alert: 'maybe' },
  { archived: 't' },
  { event_timestamp: '2026-04-09 14:47:11' },
  { event_timestamp: '2026-04-09T14:47:11Z' },
  { event_timestamp: '2026-04-09T14:47:11+00:00' },
  { event_timestamp: '2026-04-09T14:47:11.1234567' },
  { event_timestamp: '2026-04-09T14:47:11.000000' },
  { event_timestamp: '2026-04-09T14:47:11.5-05:30' },
  { event_timestamp: '2026-04-09' },
  { event_timestamp: 1700000000 },
  { event_timestamp: 1700000000.25 },
  { event_timestamp: '1700000000' },
  { event_timestamp: 'yesterday' },
  { event_timestamp: '2026-02-30T00:00:00' },
  { event_timestamp: null },
  { source: { node_id: ULID.toLowerCase() } },
  { source: { node_id: 'not-a-ulid' } },
  { source: { node_id: null, workflow_id: ULID } },
  { source: { unknown_field: 'x' } },
  { source: null },
  { source: 'abc' },
  { trace_id: 12 },
  { trace_id: 'abc', span_id: null },
  { event_data: [1, 'two', { three: 3 }] },
  { event_data: null },
  { event_data: 'just text' },
  { extra_field: 'dropped' },
  { _id: 'custom-id' },
  { event_id: 42 },
  { archived_at: '2026-04-09T19:47:11.123000' },
  { archived_at: 'nope' },
]

describe('validation leniency matches the Python Event model', () => {
  it('accepts and refuses the same inputs, and renders accepted ones identically', async () => {
    const inputs = cases.map((c) => ({ ...base, ...c }))
    const python_results = (await runPythonClient({
      python,
      input: inputs,
      script: `
import json, sys
from pydantic import ValidationError
from madsci.common.types.event_types import Event
out = []
for item in json.load(sys.stdin):
    try:
        out.append({"ok": True, "json": Event.model_validate(item).model_dump_json()})
    except ValidationError as e:
        out.append({"ok": False, "locs": sorted(".".join(str(p) for p in err["loc"]) for err in e.errors())})
print(json.dumps(out))
`,
    })) as Array<{ ok: boolean; json?: string; locs?: string[] }>
    const mismatches: string[] = []
    inputs.forEach((input, i) => {
      const ours = safeParseEvent(input)
      const theirs = python_results[i]
      const label = JSON.stringify(cases[i])
      if (ours.ok !== theirs.ok) {
        mismatches.push(`${label}: python ${theirs.ok ? 'accepts' : `refuses (${theirs.locs})`}, we ${ours.ok ? 'accept' : `refuse (${ours.error.issues.map((x) => x.loc.join('.'))})`}`)
      } else if (ours.ok && theirs.json !== eventToJson(ours.event)) {
        mismatches.push(`${label}: python ${theirs.json}\n   ours   ${eventToJson(ours.event)}`)
      }
    })
    expect(mismatches).toEqual([])
  })
})
