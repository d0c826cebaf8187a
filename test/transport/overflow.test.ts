import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Receiver } from '../helpers/receiver.js'
import { ensureBuilt, projectDir, readEventFiles, startApp, summaries } from './helpers.js'

/**
 * The worker never grows without bound: each sink's memory queue is bounded, and the overflow
 * policy decides what happens past it — lines are dropped (counted, reported as a MADSci event
 * once the store is back, and in the closing summary), or the worker stops reading (`block`) and
 * pino holds the lines. A sink that is down never stalls another. The store is a real HTTP
 * receiver (test/helpers/receiver.ts) answering 503 while it is "down".
 */
beforeAll(() => ensureBuilt())

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.()
})

const LINES = 20_000
const DOWN = { status: 503, times: 1e9, headers: { 'retry-after': '1' } }

async function receiver(): Promise<Receiver> {
  const rx = await Receiver.start({ batch: true })
  cleanup.push(() => rx.close())
  return rx
}

function userEvents(rx: Receiver, run: string): Array<Record<string, unknown>> {
  return [...rx.events.values()].filter((e) => (e.event_data as { run?: string } | null)?.run === run)
}

function ownEvents(rx: Receiver, kind: string): Array<Record<string, unknown>> {
  return [...rx.events.values()].filter((e) => (e.event_data as { madsci_events?: { kind?: string } } | null)?.madsci_events?.kind === kind)
}

async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('overflow', () => {
  it('drop-oldest: a store down during a burst costs the oldest lines, counted; the drop report and the closing summary say how many', { timeout: 120_000 }, async () => {
    const rx = await receiver()
    rx.failures = [DOWN]
    const dir = await projectDir()
    const run = 'drop-oldest'
    const app = startApp(
      {
        options: { eventManager: { url: rx.url, mode: 'batch' }, spool: false, overflow: 'drop-oldest', queue: { maxEvents: 1000 }, closeTimeoutMs: 2000, flushTimeoutMs: 2000 },
        count: LINES,
        run,
        then: 'flush',
        shutdown: true,
      },
      { cwd: dir },
    )
    cleanup.push(() => app.child.kill('SIGKILL'))
    // logger.flush() calls back once every line is in the pipeline and the store did not answer within flushTimeoutMs.
    await app.printed('FLUSHED')
    expect(userEvents(rx, run)).toHaveLength(0)
    rx.failures = []
    await until('the drop report', () => ownEvents(rx, 'dropped').length > 0)
    app.child.kill('SIGTERM')
    const r = await app.done
    expect(r.signal).toBe('SIGTERM')

    const [report] = ownEvents(rx, 'dropped')
    const [summary] = summaries([...rx.events.values()])
    const totals = (summary.event_data as { madsci_events: Record<string, unknown> }).madsci_events as { dropped: { overflow: number }; lines: number; sinks: Array<{ queue_depth: number }> }
    const dropped = totals.dropped.overflow
    // Bounded: the queue holds 1000 and at most 4 batches of 1000 were in flight; the rest was dropped.
    expect(dropped).toBeGreaterThanOrEqual(LINES - 1000 - 4 * 1000)
    // Counted exactly: every line was either delivered (once) or dropped.
    expect(userEvents(rx, run).length + dropped).toBe(LINES)
    expect(rx.duplicates).toBe(0)
    expect(totals.lines).toBe(LINES)
    // Reported once the store was back, as a MADSci event.
    expect(report).toMatchObject({ event_type: 'log_error', log_level: 40 })
    expect(report.event_data).toMatchObject({
      message: `madsci-events dropped ${dropped} event(s) for the http sink`,
      madsci_events: { kind: 'dropped', sink: 'http', dropped: { overflow: dropped } },
    })
    // The oldest went: the newest line is there.
    expect(userEvents(rx, run).some((e) => (e.event_data as { i: number }).i === LINES - 1)).toBe(true)
    expect(r.stderr).toMatch(new RegExp(`${dropped} dropped \\(overflow: ${dropped}\\)`))
  })

  it('block: while the store is down the worker stops reading, pino holds the lines, and nothing is dropped', { timeout: 120_000 }, async () => {
    const rx = await receiver()
    // Down for the first 40 requests (about 40 s of retries would be too long: retry-after 0 and backoff).
    rx.failures = [{ status: 500, times: 40 }]
    const dir = await projectDir()
    const run = 'block'
    const r = await startApp(
      {
        options: { eventManager: { url: rx.url, mode: 'batch' }, spool: false, overflow: 'block', queue: { maxEvents: 1000 }, retry: { baseMs: 20, maxMs: 200, maxRetries: 100 } },
        count: LINES,
        run,
        then: 'normal',
      },
      { cwd: dir },
    ).done
    expect(r.code).toBe(0)
    expect(rx.log.filter((l) => l.status === 500)).toHaveLength(40)
    expect(userEvents(rx, run)).toHaveLength(LINES)
    const [summary] = summaries([...rx.events.values()])
    expect((summary.event_data as { madsci_events: object }).madsci_events).toMatchObject({ lines: LINES, dropped: {}, failed: 0 })
    expect(r.stderr).not.toMatch(/madsci-events transport: closed/)
  })

  it('a sink that is down does not stall another: the file gets every line while the Event Manager sink drops', { timeout: 120_000 }, async () => {
    const rx = await receiver()
    rx.failures = [DOWN]
    const dir = await projectDir()
    const file = join(dir, 'events.ndjson')
    const run = 'two-sinks'
    const app = startApp(
      {
        // The file sink blocks when full (its default), the Event Manager sink without spool drops the oldest.
        options: { file, eventManager: { url: rx.url, mode: 'batch' }, spool: false, queue: { maxEvents: 1000 }, closeTimeoutMs: 2000, flushTimeoutMs: 2000 },
        count: LINES,
        run,
        then: 'flush',
        shutdown: true,
      },
      { cwd: dir },
    )
    cleanup.push(() => app.child.kill('SIGKILL'))
    await app.printed('FLUSHED')
    expect(readEventFiles(file).filter((e) => (e.event_data as { run?: string }).run === run)).toHaveLength(LINES)
    app.child.kill('SIGTERM')
    const r = await app.done
    expect(r.signal).toBe('SIGTERM')
    const events = readEventFiles(file)
    expect(events.filter((e) => (e.event_data as { run?: string }).run === run)).toHaveLength(LINES)
    const totals = (summaries(events)[0].event_data as { madsci_events: { sinks: Array<{ sink: string; accepted: number; delivered: number; dropped: Record<string, number> }> } }).madsci_events
    const http = totals.sinks.find((s) => s.sink === 'http')
    const fileSink = totals.sinks.find((s) => s.sink === 'file')
    expect(fileSink).toMatchObject({ accepted: LINES, delivered: LINES, dropped: {} })
    expect(http?.delivered).toBe(0)
    expect(http?.dropped.overflow).toBeGreaterThanOrEqual(LINES - 1000 - 4 * 1000)
    // At close the store was still down and there is no spool: what was queued is lost, and said so.
    expect(r.stderr).toMatch(/madsci-events transport: closed in [\d.]+ s: \d+ delivered, .*dropped \(overflow: \d+\), [1-9]\d* lost/)
  })
})
