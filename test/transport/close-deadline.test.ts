import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Receiver } from '../helpers/receiver.js'
import { cleanEnv, ensureBuilt, projectDir, replaySpool, runApp, startApp, summaries } from './helpers.js'

/**
 * Closing within pino's exit window: pino waits at most 10 s for the worker when the process
 * ends, then kills it. Against a store that accepts connections but never answers (a network
 * stall), the transport stops delivering at `closeTimeoutMs`, writes what is left to the spool,
 * says how many on stderr, and lets the process end; the next logger on the same spool delivers
 * every one of them. Had pino killed the worker first, the message and the spooled events would
 * be missing.
 */
beforeAll(() => ensureBuilt())

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.()
})

const LINES = 5000

function leftInSpool(stderr: string): number {
  const m = /madsci-events transport: closed in [\d.]+ s: (\d+) delivered, (\d+) left in the spool (\S+) .*, 0 lost/.exec(stderr)
  if (!m) throw new Error(`no closing line on stderr:\n${stderr}`)
  return Number(m[2])
}

describe('close against a stalled store', () => {
  const cases: Array<{ name: string; then: string; closeTimeoutMs?: number }> = [
    { name: 'process.exit() with the default closeTimeoutMs (8 s)', then: 'exit' },
    { name: 'SIGTERM with handleShutdown(logger) and closeTimeoutMs 500', then: 'SIGTERM', closeTimeoutMs: 500 },
  ]
  for (const c of cases) {
    it(`${c.name}: the rest is spooled and counted, then delivered by the next logger`, { timeout: 120_000 }, async () => {
      const rx = await Receiver.start({ batch: true })
      cleanup.push(() => rx.close())
      rx.stall = true
      const dir = await projectDir()
      const spool = join(dir, 'spool')
      const run = `stall-${c.then}`
      const signal = c.then === 'SIGTERM'
      const app = startApp(
        {
          options: { eventManager: { url: rx.url, mode: 'batch', timeoutMs: 60_000 }, spool, ...(c.closeTimeoutMs !== undefined ? { closeTimeoutMs: c.closeTimeoutMs } : {}) },
          count: LINES,
          run,
          then: signal ? 'wait' : c.then,
          shutdown: signal,
        },
        { cwd: dir },
      )
      cleanup.push(() => app.child.kill('SIGKILL'))
      if (signal) {
        await app.printed('READY')
        // Every line reached the transport (and sits in a request the store never answers).
        while (rx.requests === 0) await new Promise((r) => setTimeout(r, 50))
        app.child.kill('SIGTERM')
      }
      const r = await app.done
      expect(signal ? r.signal : r.code).toBe(signal ? 'SIGTERM' : 0)
      expect(rx.events.size).toBe(0)
      // The lines and the closing summary: all in the spool, and the transport said so.
      expect(leftInSpool(r.stderr)).toBe(LINES + 1)
      expect(r.stderr).toContain(` left in the spool ${spool} `)

      rx.stall = false
      const stats = await replaySpool({ eventManager: rx.url }, spool)
      expect(stats.failed).toBe(0)
      const mine = [...rx.events.values()].filter((e) => (e.event_data as { run?: string }).run === run)
      expect(new Set(mine.map((e) => (e.event_data as { i: number }).i)).size).toBe(LINES)
      expect(mine).toHaveLength(LINES)
      const [summary] = summaries([...rx.events.values()])
      expect((summary.event_data as { madsci_events: object }).madsci_events).toMatchObject({ lines: LINES, accepted: LINES, delivered: 0, pending: LINES })
      expect(rx.duplicates).toBe(0)
    })
  }
})

describe('the closing totals line', () => {
  it('is printed on every close with NODE_DEBUG=madsci-events (Node\'s debuglog convention), not otherwise', { timeout: 60_000 }, async () => {
    const dir = await projectDir()
    const file = join(dir, 'events.ndjson')
    const quiet = await runApp({ options: { file }, count: 10, run: 'quiet' }, { cwd: dir })
    expect(quiet.stderr).toBe('')
    const debug = await runApp({ options: { file }, count: 10, run: 'debug' }, { cwd: dir, env: cleanEnv({ NODE_DEBUG: 'madsci-events' }) })
    expect(debug.code).toBe(0)
    expect(debug.stderr).toMatch(/^madsci-events transport: closed in \d+\.\d s: 11 delivered, 0 lost\n$/)
  })
})
