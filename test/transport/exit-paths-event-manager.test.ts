import { join } from 'node:path'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { checkMix, ensureBuilt, EXIT_PATHS, projectDir, replaySpool, runExitPath, summaries } from './helpers.js'

/**
 * Nothing lost at exit, Event Manager sink: the real Python MADSci Event Manager 0.8.1 over HTTP.
 * It has no batch route, so every event is one `POST /event`, about 100-150 a second on FerretDB:
 * 1 000 lines per exit path keeps this file near a minute (100 000 would take 15 minutes per path).
 * What the exit window cannot deliver is spooled, counted, and delivered by the next logger on the
 * same spool. The events are read back through the Event Manager's own `POST /events/query`.
 */
beforeAll(() => ensureBuilt())

const COUNT = 1_000
const emUrl = inject('pythonEventManagerUrl')

async function eventsOfRun(run: string): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(new URL('events/query', emUrl.endsWith('/') ? emUrl : `${emUrl}/`), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ 'event_data.run': run }),
  })
  expect(res.status).toBe(200)
  return Object.values((await res.json()) as Record<string, Record<string, unknown>>)
}

async function summaryOf(pid: number): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(new URL('events/query', emUrl.endsWith('/') ? emUrl : `${emUrl}/`), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ 'event_data.madsci_events.kind': 'transport_summary', 'event_data.madsci_events.pid': pid }),
  })
  expect(res.status).toBe(200)
  return summaries(Object.values((await res.json()) as Record<string, Record<string, unknown>>))
}

describe(`exit paths, Python Event Manager sink: ${COUNT.toLocaleString('en')} lines → exactly ${COUNT.toLocaleString('en')} events`, () => {
  for (const path of EXIT_PATHS) {
    it(`${path === 'SIGTERM' || path === 'SIGINT' ? `${path} with handleShutdown(logger)` : path}`, { timeout: 180_000 }, async () => {
      const dir = await projectDir()
      const spool = join(dir, 'spool')
      const run = `em-${path}-${process.pid}`
      const r = await runExitPath(path, { eventManager: emUrl, spool }, COUNT, run, { cwd: dir })
      expect(r.stderr).not.toMatch(/[1-9]\d* lost/)
      await replaySpool({ eventManager: emUrl }, spool)
      const events = await eventsOfRun(run)
      const check = checkMix(events, COUNT, run, r.pid)
      expect(check.mismatches).toEqual([])
      expect(check.count).toBe(COUNT)
      expect(check.distinct).toBe(COUNT)
      const [summary] = await summaryOf(r.pid)
      expect((summary.event_data as { madsci_events: object }).madsci_events).toMatchObject({ lines: COUNT, accepted: COUNT, dropped: {} })
    })
  }
})
