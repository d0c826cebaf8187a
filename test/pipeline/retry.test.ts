import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createEventLogger } from '../../src/index.js'
import { Receiver } from '../helpers/receiver.js'
import { parseRetryAfter, retryDelay } from '../../src/pipeline/backoff.js'

const open: Array<{ close(): Promise<unknown> }> = []
afterEach(async () => {
  while (open.length) await open.pop()?.close()
})

describe('retries against an Event Manager answering errors', () => {
  for (const batch of [false, true]) {
    it(`500, 503 and 429 for a while: everything arrives once (${batch ? 'batch route' : 'one POST per event'})`, async () => {
      const rx = await Receiver.start({ batch })
      open.push(rx)
      rx.failures = [
        { status: 500, times: 3 },
        { status: 503, times: 2, headers: { 'retry-after': '0' } },
        { status: 429, times: 2, headers: { 'retry-after': '0', 'x-ratelimit-reset': '0' } },
      ]
      const logger = createEventLogger({ eventManager: rx.url, spool: false, env: {}, retry: { baseMs: 5, maxMs: 50 }, onWarning: () => {} })
      open.push(logger)
      const ids = new Set<string>()
      for (let i = 0; i < 500; i++) ids.add(logger.info(`event ${i}`, { i }) as string)
      await logger.flush()
      const s = logger.stats()
      expect(rx.events.size).toBe(500)
      for (const id of ids) expect(rx.events.has(id)).toBe(true)
      expect(s.delivered).toBe(500)
      expect(s.retried).toBeGreaterThanOrEqual(1)
      const statuses = rx.log.map((l) => l.status)
      for (const code of [500, 503, 429]) expect(statuses).toContain(code)
      expect(s.dropped).toEqual({})
      expect(s.failed).toBe(0)
    })
  }

  it('waits at least as long as Retry-After says on 429', async () => {
    const rx = await Receiver.start({ batch: true })
    open.push(rx)
    rx.failures = [{ status: 429, times: 1, headers: { 'retry-after': '1' } }]
    const logger = createEventLogger({ eventManager: rx.url, spool: false, env: {}, retry: { baseMs: 1, maxMs: 60_000 }, onWarning: () => {} })
    open.push(logger)
    logger.info('once')
    await logger.flush()
    const posts = rx.log.filter((l) => l.path === '/events/batch')
    expect(posts.map((p) => p.status)).toEqual([429, 200])
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(990)
    expect(rx.events.size).toBe(1)
  })

  it('a refused event (422) is reported and dead-lettered, the others delivered', async () => {
    const rx = await Receiver.start({ batch: false })
    open.push(rx)
    rx.failures = [{ status: 422, times: 1 }]
    const dir = await mkdtemp(join(tmpdir(), 'madsci-spool-'))
    const logger = createEventLogger({ eventManager: { url: rx.url, concurrency: 1 }, spool: dir, env: {}, onWarning: () => {} })
    open.push(logger)
    const errors: Error[] = []
    logger.on('error', (e) => errors.push(e))
    logger.info('refused')
    logger.info('fine')
    await logger.flush()
    await logger.flush()
    const s = logger.stats()
    expect(s.failed).toBe(1)
    expect(errors.some((e) => e.name === 'StoreRejectedError')).toBe(true)
    // The refusal itself is recorded as a MADSci event.
    const reports = [...rx.events.values()].filter((e) => (e.event_data as Record<string, unknown>)?.madsci_events)
    expect(reports).toHaveLength(1)
    expect((reports[0].event_data as { madsci_events: { kind: string } }).madsci_events.kind).toBe('rejected')
  })
})

describe('retry timing', () => {
  it('full jitter stays within the exponential ceiling; Retry-After wins, capped', () => {
    const opts = { baseMs: 100, maxMs: 30_000 }
    for (let a = 0; a < 20; a++) {
      const d = retryDelay(a, opts)
      expect(d).toBeGreaterThanOrEqual(0)
      expect(d).toBeLessThanOrEqual(Math.min(30_000, 100 * 2 ** a))
    }
    expect(retryDelay(3, opts, 2500)).toBeGreaterThanOrEqual(2500)
    expect(retryDelay(3, opts, 2500, () => 0)).toBe(2500)
    expect(retryDelay(10, opts, 0, () => 0.5)).toBe(15_000)
    expect(retryDelay(3, opts, 10_000_000)).toBe(300_000)
    expect(parseRetryAfter('2')).toBe(2000)
    const now = Date.UTC(2026, 0, 1)
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', undefined, now)).toBe(5000)
    expect(parseRetryAfter(undefined, String(now / 1000 + 7), now)).toBe(7000)
    expect(parseRetryAfter('soon')).toBeUndefined()
  })
})
