import { appendFileSync, readdirSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createEventLogger } from '../../src/index.js'
import { startLoggingProcess } from '../helpers/child.js'
import { Receiver } from '../helpers/receiver.js'

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.()
})

async function receiver(batch = true): Promise<Receiver> {
  const rx = await Receiver.start({ batch })
  cleanup.push(() => rx.close())
  return rx
}

/** Replay the spool into the receiver with a fresh in-process logger and return its stats. */
async function replay(url: string, spool: string) {
  const logger = createEventLogger({ eventManager: url, spool, env: {}, onWarning: () => {} })
  await logger.flush()
  const stats = logger.stats()
  await logger.close()
  return stats
}

function ids(rx: Receiver, run: string): Set<number> {
  const out = new Set<number>()
  for (const e of rx.events.values()) {
    const d = e.event_data as { run?: string; i?: number }
    if (d?.run === run && typeof d.i === 'number') out.add(d.i)
  }
  return out
}

// Every way of ending with every sink and both APIs is the exit matrix (exit-matrix.test.ts); the
// signals' rules are signals.test.ts. Here: a torn spool record after SIGKILL, and process.exit()
// with a batch in flight to a store that stalls.
describe('exit paths: nothing lost', () => {
  it('SIGKILL with events in the spool: the next process replays them; a torn last record is skipped and counted', async () => {
    const rx = await receiver()
    rx.failures = [{ status: 503, times: 1e9, headers: { 'retry-after': '0' } }]
    const spool = await mkdtemp(join(tmpdir(), 'madsci-spool-'))
    const p = startLoggingProcess({ url: rx.url, spool: { dir: spool, mode: 'always', fsync: 'always' }, count: 2000, run: 'kill', then: 'wait', waitSpooled: true })
    cleanup.push(() => p.child.kill('SIGKILL'))
    await p.ready
    p.child.kill('SIGKILL')
    const { signal } = await p.exited
    expect(signal).toBe('SIGKILL')
    // A write torn by the kill, at the end of the last segment.
    const sinkDir = join(spool, readdirSync(spool)[0], '0')
    const segs = readdirSync(sinkDir).filter((f) => f.startsWith('seg-')).sort()
    appendFileSync(join(sinkDir, segs[segs.length - 1]), '12345678 {"event_id":"TORN')
    rx.failures = []
    const stats = await replay(rx.url, spool)
    expect(ids(rx, 'kill').size).toBe(2000)
    expect(stats.replayed).toBeGreaterThanOrEqual(2000)
    expect(stats.sinks[0].spool?.torn).toBe(1)
    expect(stats.dropped.spool_damaged).toBe(1)
    // Exactly once in the store: the receiver keys events by id like MongoDB's _id.
    expect([...rx.events.values()].filter((e) => (e.event_data as { run?: string })?.run === 'kill')).toHaveLength(2000)
  })

  it('process.exit() while the store stalls: unsent events are saved to the spool at exit and delivered next time', async () => {
    const rx = await receiver()
    rx.stall = true
    const spool = await mkdtemp(join(tmpdir(), 'madsci-spool-'))
    const p = startLoggingProcess({ url: rx.url, spool: { dir: spool }, count: 5000, run: 'exit', then: 'exit' })
    await p.ready
    const { code } = await p.exited
    expect(code).toBe(0)
    expect(p.stderr()).toMatch(/saved to the spool at exit/)
    // The store comes back on the same address (the spool is keyed by the sink's URL).
    const port = rx.port
    await rx.close()
    const back = await Receiver.start({ batch: true, port })
    cleanup.push(() => back.close())
    const stats = await replay(back.url, spool)
    expect(stats.replayed).toBe(5000)
    expect(ids(back, 'exit').size).toBe(5000)
  })
})

describe('close()', () => {
  it('with 100 000 queued resolves after all are written', async () => {
    const rx = await receiver()
    const logger = createEventLogger({ eventManager: rx.url, spool: false, env: {}, queue: { maxEvents: 200_000, maxBytes: 512 * 1024 * 1024 }, onWarning: () => {} })
    for (let i = 0; i < 100_000; i++) logger.info('queued', { i, run: 'close' })
    const report = await logger.close()
    expect(report).toMatchObject({ delivered: 100_000, spooled: 0, lost: 0, timedOut: false })
    expect(ids(rx, 'close').size).toBe(100_000)
  })

  it('past its deadline spools what is left and says how many', async () => {
    const rx = await receiver()
    rx.stall = true
    const spool = await mkdtemp(join(tmpdir(), 'madsci-spool-'))
    const logger = createEventLogger({ eventManager: { url: rx.url, timeoutMs: 60_000 }, spool, env: {}, onWarning: () => {} })
    for (let i = 0; i < 3000; i++) logger.info('stuck', { i, run: 'deadline' })
    const report = await logger.close({ timeoutMs: 300 })
    expect(report.timedOut).toBe(true)
    expect(report.spooled).toBe(3000)
    expect(report.lost).toBe(0)
    rx.stall = false
    const stats = await replay(rx.url, spool)
    expect(stats.replayed).toBe(3000)
    expect(ids(rx, 'deadline').size).toBe(3000)
  })
})
