import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkMix, ensureBuilt, EXIT_PATHS, projectDir, readEventFiles, runExitPath, summaries } from './helpers.js'

/**
 * Nothing lost at exit, NDJSON file sink: a program logs 100 000 pino lines through the transport
 * (a real worker thread) and ends by each exit path; every line is in the file exactly once, as
 * the Event it must become. The file sink is local disk, so everything is written inside pino's
 * exit window (no spool involved).
 */
beforeAll(() => ensureBuilt())

const COUNT = 100_000

describe('exit paths, file sink: 100 000 lines → exactly 100 000 events', () => {
  for (const path of EXIT_PATHS) {
    it(`${path === 'SIGTERM' || path === 'SIGINT' ? `${path} with handleShutdown(logger)` : path}`, { timeout: 120_000 }, async () => {
      const dir = await projectDir()
      const file = join(dir, 'events.ndjson')
      const run = `file-${path}`
      const r = await runExitPath(path, { file }, COUNT, run, { cwd: dir })
      const events = readEventFiles(file)
      const check = checkMix(events, COUNT, run, r.pid)
      expect(check.mismatches).toEqual([])
      expect(check.count).toBe(COUNT)
      expect(check.distinct).toBe(COUNT)
      // The closing summary: the totals of the run, through the same sink.
      const [summary] = summaries(events)
      expect(summary).toMatchObject({ event_type: 'log_debug', log_level: 10 })
      expect((summary.event_data as { madsci_events: object }).madsci_events).toMatchObject({ lines: COUNT, accepted: COUNT, dropped: {} })
      // The lines, the summary, and nothing else.
      expect(events).toHaveLength(COUNT + 1)
      // Nothing left over, so nothing to report.
      expect(r.stderr).not.toMatch(/madsci-events transport: closed/)
    })
  }
})
