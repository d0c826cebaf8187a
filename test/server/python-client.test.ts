import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, recordingFront, runPython, type Running, startServer, STORE_KINDS } from './helpers.js'

/**
 * SPEC §12 items 42-70 that involve a server, with the real Python `EventClient` (madsci-client
 * 0.8.1, unchanged) as the driver against OUR server. The server is mounted behind a recording
 * front, so the test sees exactly which requests the client sent. Client-only items (local log
 * file, rotation, binding, context propagation: 43-44, 46-48, 51-52, 54-55, 59, 62, 64, 69, 71-80)
 * need no server and are not repeated here.
 */

const SCRIPT = `
import httpx
from madsci.common.types.event_types import Event, EventLogLevel, EventType
from madsci_peer import event_client, output, read_input, wait_for_sends
inp = read_input()
marker = inp["marker"]
res = {}

c = event_client(log_level=EventLogLevel.DEBUG)
res["server"] = str(c.event_server)

# 45: log(Event) sends one POST <server>event with the Event (key event_id)
e = Event(event_type=EventType.TEST, event_data={"marker": marker, "k": 1})
c.log(e)
# structured API: type from the level, event_data = message + kwargs
c.info("hello info", marker=marker, step=1)
c.debug("hello debug", marker=marker)
# 49: a WARNING client sends nothing below WARNING
w = event_client(name="warn_client", log_level=EventLogLevel.WARNING)
w.info("suppressed", marker=marker)
w.warning("sent warning", marker=marker)
wait_for_sends()
res["event_id"] = e.event_id

# 53: get_event returns an Event equal to the one logged
got = c.get_event(e.event_id)
res["get_event_is_event"] = isinstance(got, Event)
res["get_event_equal"] = got == e
# 56: a non-2xx answer raises
try:
    c.get_event("01JRB6Z6B1T3V7M9Q2W4E8R5TZ")
    res["missing"] = "no exception"
except httpx.HTTPStatusError as ex:
    res["missing"] = ex.response.status_code

# 57, 58: get_events returns {id: Event}, newest first
ev = c.get_events(number=50, level=20)
res["events_50_20"] = {"ids": list(ev.keys()), "levels": [x.log_level for x in ev.values()], "all_events": all(isinstance(x, Event) for x in ev.values())}
ev = c.get_events()
res["events_default"] = list(ev.keys())

# 61 (D2 fixed on our side): query_events sends the selector as ?selector=<Python dict literal>
q = c.query_events({"event_data.marker": marker, "log_level": {"$gte": 20}})
res["query"] = sorted(q.keys())
res["query_is_event"] = all(isinstance(x, Event) for x in q.values())
# 63: an HTTP error raises
try:
    c.query_events({"$where": "1 == 1"})
    res["query_error"] = "no exception"
except httpx.HTTPStatusError as ex:
    res["query_error"] = [ex.response.status_code, ex.response.json()]

# the 0.8.1 additions: archive_events, purge_events, create_backup, get_backup_status (GET /backup)
doomed = Event(event_type=EventType.TEST, event_data={"marker": marker + "-doomed"})
c.log(doomed)
wait_for_sends()
res["archive"] = c.archive_events(event_ids=[doomed.event_id])
res["purge"] = c.purge_events(older_than_days=0)
res["backup"] = c.create_backup()
res["backup_status"] = c.get_backup_status()
output(res)
`

describe.each(STORE_KINDS)('the Python EventClient 0.8.1 against our server on the %s store', (kind) => {
  let r: Running
  let front: Awaited<ReturnType<typeof recordingFront>>
  let out: Record<string, any>
  const marker = `pyclient-${kind}-${process.pid}`
  beforeAll(async () => {
    r = await startServer(kind, 'pyclient')
    front = await recordingFront(r.server)
    out = await runPython(SCRIPT, { serverUrl: front.url, input: { marker } })
  })
  afterAll(async () => {
    await front?.close()
    await r?.close()
  })

  it('42: the client reports our server URL with the trailing slash it adds', () => {
    expect(out.server).toBe(`${front.url}/`)
  })

  it('45, 49: log(Event) and the structured API arrive as MADSci events; nothing below the client level is sent', async () => {
    const posts = front.requests.filter((q) => q.method === 'POST' && q.url === '/event')
    // log(Event), info, debug (DEBUG client), warning (WARNING client), and the event later purged
    expect(posts).toHaveLength(5)
    const stored = (await call(r.url, 'POST', '/events/query', { 'event_data.marker': marker })).json<Record<string, any>>()
    const byMessage = Object.fromEntries(Object.values(stored).map((e) => [e.event_data.message ?? 'log', e]))
    expect(Object.keys(byMessage).sort()).toEqual(['hello debug', 'hello info', 'log', 'sent warning'])
    expect(byMessage.log).toMatchObject({ _id: out.event_id, event_type: 'test', log_level: 20, event_data: { marker, k: 1 } })
    expect(byMessage['hello info']).toMatchObject({ event_type: 'log_info', log_level: 20, event_data: { message: 'hello info', marker, step: 1 } })
    expect(byMessage['hello debug']).toMatchObject({ event_type: 'log_debug', log_level: 10 })
    expect(byMessage['sent warning']).toMatchObject({ event_type: 'log_warning', log_level: 30 })
  })

  it('53, 56: get_event returns an equal Event; an unknown id raises HTTPStatusError 404', () => {
    expect(out.get_event_is_event).toBe(true)
    expect(out.get_event_equal).toBe(true)
    expect(out.missing).toBe(404)
    expect(front.requests.some((q) => q.method === 'GET' && q.url === `/event/${out.event_id}`)).toBe(true)
  })

  it('57, 58: get_events sends exactly number and level (default: 100 and the client level) and gets {id: Event} newest first', async () => {
    const gets = front.requests.filter((q) => q.method === 'GET' && q.url.startsWith('/events?'))
    expect(gets.map((q) => q.url)).toEqual(['/events?number=50&level=20', '/events?number=100&level=10'])
    expect(out.events_50_20.all_events).toBe(true)
    for (const l of out.events_50_20.levels) expect(l).toBeGreaterThanOrEqual(20)
    const ours = Object.keys((await call(r.url, 'GET', '/events?number=50&level=20')).json())
    expect(out.events_50_20.ids).toEqual(ours)
    expect(out.events_default).toHaveLength(4)
  })

  it('61, 63 (D2): query_events with the selector in the query string as a Python dict literal works; an error raises', () => {
    const q = front.requests.find((x) => x.method === 'POST' && x.url.startsWith('/events/query?selector='))
    expect(decodeURIComponent((q?.url ?? '').split('selector=')[1].replace(/\+/g, ' '))).toBe(`{'event_data.marker': '${marker}', 'log_level': {'$gte': 20}}`)
    expect(out.query_is_event).toBe(true)
    expect(out.query).toHaveLength(3) // log(Event), info and warning; debug is level 10
    expect(out.query).toContain(out.event_id)
    expect(out.query_error[0]).toBe(400)
    expect(out.query_error[1].detail).toMatch(/\$where/)
  })

  it('0.8.1 client additions work against our server: archive_events, purge_events, create_backup, get_backup_status', () => {
    expect(out.archive).toEqual({ archived_count: 1, message: 'Successfully archived 1 events' })
    expect(out.purge).toEqual({ deleted_count: 1, message: 'Permanently deleted 1 archived events older than 0 days' })
    expect(out.backup.status).toBe('completed')
    expect(out.backup.backup_path).toContain(`_backup_`)
    // MADSci answers the client's GET /backup with 405; we answer it as /backup/status.
    expect(out.backup_status.available_backups.map((b: { path: string }) => b.path)).toContain(out.backup.backup_path)
  })
})

describe('the Python EventClient against a failing server', () => {
  it('60: a 5xx answer makes get_events raise (after the client retries)', async () => {
    const r = await startServer('file', 'pyclient500')
    // A data file that is a directory: every read fails inside the store.
    mkdirSync(join(r.dir, 'not-a-file'))
    const broken = await startServer('file', 'pyclient500b', { settings: { data_file: join(r.dir, 'not-a-file') } })
    try {
      const out = await runPython(
        `
import httpx
from madsci_peer import event_client, output
c = event_client()
try:
    c.get_events()
    output("no exception")
except httpx.HTTPStatusError as ex:
    output(ex.response.status_code)
`,
        { serverUrl: broken.url },
      )
      expect(out).toBeGreaterThanOrEqual(500)
    } finally {
      await broken.close()
      await r.close()
    }
  })
})

describe('utilization reports through the Python EventClient (SPEC §12 items 65-68)', () => {
  it('65-68: get_utilization_periods, get_session_utilization and get_user_utilization_report (D3: /utilization/users) against our server', async () => {
    const r = await startServer('file', 'pyutil')
    try {
      const paths = r.server.routes.map((x) => x.path)
      expect(paths).toEqual(expect.arrayContaining(['/utilization/periods', '/utilization/sessions', '/utilization/user', '/utilization/users']))
      const front = await recordingFront(r.server)
      try {
        await call(r.url, 'POST', '/events/batch', [
          { event_type: 'workflow_start', event_timestamp: '2026-04-09T10:00:00', source: { workflow_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' } },
          { event_type: 'workflow_complete', event_timestamp: '2026-04-09T11:00:00', source: { workflow_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' } },
        ])
        const out = await runPython(
          `
from madsci_peer import event_client, output
c = event_client()
res = {}
res["periods"] = c.get_utilization_periods(start_time="2026-04-09T00:00:00", end_time="2026-04-10T00:00:00")
res["sessions"] = c.get_session_utilization(start_time="2026-04-09T00:00:00", end_time="2026-04-10T00:00:00")
res["sessions_csv"] = c.get_session_utilization(csv_export=True, save_to_file=True, output_path="sessions.csv")
res["user"] = c.get_user_utilization_report(start_time="2026-04-09T00:00:00", end_time="2026-04-10T00:00:00")
output(res)
`,
          { serverUrl: front.url },
        )
        const urls = front.requests.map((q) => q.url)
        expect(urls).toContain('/utilization/periods?analysis_type=daily&user_timezone=America%2FChicago&include_users=true&start_time=2026-04-09T00%3A00%3A00&end_time=2026-04-10T00%3A00%3A00')
        expect(urls).toContain('/utilization/sessions?start_time=2026-04-09T00%3A00%3A00&end_time=2026-04-10T00%3A00%3A00')
        expect(urls).toContain('/utilization/sessions?csv_format=true&save_to_file=true&output_path=sessions.csv')
        expect(urls).toContain('/utilization/users?start_time=2026-04-09T00%3A00%3A00&end_time=2026-04-10T00%3A00%3A00')
        expect(out.periods).toBeTypeOf('object')
        expect(out.periods).not.toBeNull()
        expect(out.sessions).toBeTypeOf('object')
        expect(out.sessions).not.toBeNull()
        // D3: MADSci's server has no /utilization/users, so the client gets None there; ours answers.
        expect(out.user).not.toBeNull()
        expect(out.sessions_csv).not.toBeNull()
      } finally {
        await front.close()
      }
    } finally {
      await r.close()
    }
  })
})
