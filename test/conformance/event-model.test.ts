import { describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script
import { runPythonClient } from '../../scripts/lib/python-peer.mjs'
import { EVENT_TYPES, OWNERSHIP_FIELDS, type Event, eventToJson, newUlid, parseEvent, safeParseEvent } from '../../src/index.js'

const python = inject('python')
const em = inject('pythonEventManagerUrl')

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed |= 0
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** 252 events: every type, level and source field, varied data and timestamp forms. */
function generate(): Event[] {
  const r = rng(42)
  const levels = [0, 10, 20, 30, 40, 50] as const
  const stamps = ['2026-04-09T14:47:11.123456', '2026-04-09T14:47:11', '2026-04-09T14:47:11.000001Z', '2026-04-09T14:47:11.5+02:00', '2026-12-31T23:59:59.999999-05:30']
  const out: Event[] = []
  for (let i = 0; i < 252; i++) {
    const source: Record<string, string> = {}
    OWNERSHIP_FIELDS.forEach((f, k) => {
      if ((i + k) % 3 === 0 || i % 10 === k) source[f] = newUlid(Date.now() - Math.floor(r() * 1e9))
    })
    out.push(
      parseEvent({
        event_id: newUlid(),
        event_type: EVENT_TYPES[i % EVENT_TYPES.length],
        log_level: levels[i % levels.length],
        alert: i % 7 === 0,
        event_timestamp: stamps[i % stamps.length],
        source,
        event_data:
          i % 5 === 0
            ? `plain text ${i} — ünïcødé ✓`
            : {
                message: `event ${i}`,
                step: i,
                ratio: Math.round(r() * 1e6) / 1e3,
                ok: r() > 0.5,
                none: null,
                tags: ['a', `b${i}`, { nested: [1, 2.5, -3] }],
                text: 'quote " backslash \\ newline \n tab \t',
              },
        trace_id: i % 4 === 0 ? '0af7651916cd43dd8448eb211c80319c' : null,
        span_id: i % 4 === 0 ? 'b7ad6b7169203331' : null,
        archived: false,
      }),
    )
  }
  return out
}

describe('conformance of the event model with the Python MADSci peer', () => {
  const events = generate()

  it('covers every type, level and source field', () => {
    expect(new Set(events.map((e) => e.event_type)).size).toBe(63)
    expect(new Set(events.map((e) => e.log_level)).size).toBe(6)
    for (const f of OWNERSHIP_FIELDS) expect(events.some((e) => e.source[f])).toBe(true)
  })

  it('our events validate with the Python Event model and dump byte-identically', async () => {
    const input = events.map((e) => eventToJson(e)).join('\n')
    const dumped = (await runPythonClient({
      python,
      input,
      script: `
import sys, json
from madsci.common.types.event_types import Event
out = []
for line in sys.stdin.read().splitlines():
    out.append(Event.model_validate_json(line).model_dump_json())
print(json.dumps(out))
`,
    })) as string[]
    expect(dumped).toHaveLength(events.length)
    dumped.forEach((line, i) => expect(line).toBe(eventToJson(events[i])))
  })

  it('POST then GET through the Python Event Manager gives back byte-equal JSON', async () => {
    for (const e of events) {
      const body = eventToJson(e)
      const post = await fetch(`${em}/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      expect(post.status).toBe(200)
      expect(await post.text()).toBe(eventToJson(e, '_id'))
      const get = await fetch(`${em}/event/${e.event_id}`)
      expect(await get.text()).toBe(eventToJson(e, '_id'))
    }
  })

  it('events made by the Python EventClient parse with ours and re-serialize unchanged', async () => {
    const lines = (await runPythonClient({
      python,
      env: { EVENT_SERVER_URL: em },
      script: `
import json
from madsci.client.event_client import EventClient
from madsci.common.types.event_types import Event, EventType, EventLogLevel
from ulid import ULID
new_ulid_str = lambda: str(ULID())
client = EventClient(event_server_url="${em}", log_level=10)
ids = []
client.info("hello from python", step=1, temperature=21.5)
client.warning("careful", warning_category=None)
client.error("it broke", code=7)
client.debug("details", payload={"a": [1, 2, {"b": None}]})
ev = Event(event_type=EventType.WORKFLOW_START, log_level=EventLogLevel.INFO, event_data={"workflow_id": new_ulid_str(), "name": "wf"})
client.log(ev)
client.log({"event_type": "node_start", "event_data": {"node_name": "pf400"}})
client.log_alert("alerting")
import time; time.sleep(2)
events = client.get_events(number=50, level=0)
print(json.dumps([e.model_dump_json() for e in events.values()]))
`,
    })) as string[]
    expect(lines.length).toBeGreaterThanOrEqual(7)
    for (const line of lines) {
      const r = safeParseEvent(JSON.parse(line))
      expect(r.ok).toBe(true)
      if (r.ok) expect(eventToJson(r.event)).toBe(line)
    }
  })
})
