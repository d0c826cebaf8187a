import { mkdtemp } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createEventLogger } from '../../src/index.js'
import { Receiver } from '../helpers/receiver.js'

/**
 * A network stall: a TCP server that accepts connections and reads what is sent but never
 * answers a byte. The HTTP sink's timeouts must fire (no request waits forever), the memory
 * queue must stay within its bound (the rest goes to the spool), and once a good server
 * takes the port every event arrives exactly once.
 */

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.()
})

interface BlackHole {
  port: number
  accepted: number
  bytesIn: number
  close(): Promise<void>
}

async function blackHole(): Promise<BlackHole> {
  const sockets = new Set<Socket>()
  const hole = { port: 0, accepted: 0, bytesIn: 0, close: async () => {} }
  const server: Server = createServer((s) => {
    hole.accepted++
    sockets.add(s)
    s.on('data', (d) => (hole.bytesIn += d.length))
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  hole.port = (server.address() as AddressInfo).port
  hole.close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return hole
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('a network stall: the server accepts but never answers', () => {
  for (const batch of [true, false]) {
    it(`timeouts fire, the queue stays bounded, the rest is spooled, and a good server then gets every event once (${batch ? 'batch route' : 'one POST per event'})`, async () => {
      const hole = await blackHole()
      cleanup.push(() => hole.close())
      const spool = await mkdtemp(join(tmpdir(), 'madsci-stall-'))
      const maxQueue = 500
      const logger = createEventLogger({
        eventManager: { url: `http://127.0.0.1:${hole.port}`, mode: batch ? 'batch' : 'single', timeoutMs: 250, concurrency: 4 },
        spool,
        queue: { maxEvents: maxQueue },
        batch: { maxEvents: 100, maxInFlight: 2 },
        retry: { baseMs: 20, maxMs: 200 },
        env: {},
        onWarning: () => {},
      })
      cleanup.push(() => logger.close({ timeoutMs: 1000 }))
      const errors: string[] = []
      logger.on('error', (e) => errors.push(e.message))
      const total = batch ? 5000 : 1500
      const ids = new Set<string>()
      let maxDepth = 0
      let maxInFlight = 0
      for (let i = 0; i < total; i++) {
        ids.add(logger.info(`stalled ${i}`, { i, pad: 'x'.repeat(100) }) as string)
        if (i % 250 === 0) {
          const s = logger.stats()
          maxDepth = Math.max(maxDepth, s.queueDepth)
          maxInFlight = Math.max(maxInFlight, s.inFlight)
          await new Promise((r) => setTimeout(r, 10))
        }
      }
      // Several timeouts, not one request hanging forever.
      await until(() => errors.filter((m) => /timeout/i.test(m)).length >= 2, 'two timeouts')
      const during = logger.stats()
      maxDepth = Math.max(maxDepth, during.queueDepth)
      expect(hole.accepted).toBeGreaterThan(0)
      expect(hole.bytesIn).toBeGreaterThan(0) // requests were sent and went unanswered
      expect(during.delivered).toBe(0)
      expect(during.retried).toBeGreaterThanOrEqual(2)
      expect(maxDepth).toBeLessThanOrEqual(maxQueue)
      expect(maxInFlight).toBeLessThanOrEqual(2)
      expect(during.sinks[0].queueBytes).toBeLessThanOrEqual(16 * 1024 * 1024)
      // What the queue could not hold is on disk, not dropped.
      expect(during.spooled).toBeGreaterThanOrEqual(total - maxQueue - 2 * 100)
      expect(during.dropped).toEqual({})

      // A good server takes over the same port.
      const port = hole.port
      await hole.close()
      const rx = await Receiver.start({ batch, port })
      cleanup.push(() => rx.close())
      await logger.flush({ timeoutMs: 30_000 })
      const after = logger.stats()
      const stored = [...rx.events.values()].filter((e) => typeof (e.event_data as { i?: number })?.i === 'number')
      expect(stored.length).toBe(total)
      for (const id of ids) expect(rx.events.has(id)).toBe(true)
      expect(rx.duplicates).toBe(0)
      expect(after.dropped).toEqual({})
      expect(after.failed).toBe(0)
      const report = await logger.close()
      expect(report.lost).toBe(0)
      expect(report.spoolPendingBytes).toBe(0)
    }, 30_000)
  }
})
