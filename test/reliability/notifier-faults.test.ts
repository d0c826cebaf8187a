import { createServer, type Socket } from 'node:net'
import { MongoClient } from 'mongodb'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { type EventLogger, createEventLogger } from '../../src/index.js'
import { createAlertDispatcher } from '../../src/notify/index.js'

/**
 * Alerts whose peers hang, behind a real logger writing to FerretDB: an SMTP server that accepts
 * and never greets, and a webhook receiver that accepts and reads the request and never answers.
 * Logging and delivery must not notice: every logging call returns at once, every event is stored
 * once, the notifiers' queues hold their bound, their timeouts fire and are counted, the failures
 * are reported as MADSci events, and close() ends at its deadline counting what it gave up.
 */

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.()
})

/** A TCP server that accepts connections, reads what comes, and never writes a byte. */
async function silentServer(): Promise<{ port: number; connections: () => number; bytesIn: () => number }> {
  const sockets: Socket[] = []
  let bytes = 0
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.on('data', (d) => (bytes += d.length))
    socket.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  cleanups.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as { port: number }).port, connections: () => sockets.length, bytesIn: () => bytes }
}

describe('notifiers whose peers hang, behind a real logger', () => {
  it('SMTP that never greets and a webhook that never answers: 10 000 events stored once, queues bounded, timeouts counted and reported', async () => {
    const smtp = await silentServer()
    const hook = await silentServer()
    const database = `t_rel_notify_${process.pid}`
    const url = inject('mongoUrl')
    cleanups.push(async () => {
      const c = await MongoClient.connect(url)
      await c.db(database).dropDatabase()
      await c.close()
    })
    const maxQueue = 50
    let logger: EventLogger | undefined
    const dispatcher = createAlertDispatcher(
      {
        storm: false,
        maxQueue,
        retry: { retries: 1, baseMs: 1, maxMs: 2 },
        notifiers: [
          { type: 'email', smtp_server: '127.0.0.1', smtp_port: smtp.port, use_tls: false, connection_timeout_ms: 300, greeting_timeout_ms: 300, socket_timeout_ms: 300, email_addresses: ['ops@lab.example'] },
          { type: 'webhook', url: `http://127.0.0.1:${hook.port}/alert`, timeoutMs: 300 },
        ],
      },
      { log: (event) => logger?.log(event) },
    )
    logger = createEventLogger({ mongodb: { url, database }, spool: false, env: {}, consumers: [dispatcher], onWarning: () => {} })
    cleanups.push(() => logger?.close({ timeoutMs: 1000 }))

    const total = 10_000
    const ids = new Set<string>()
    let maxDepth = 0
    for (let i = 0; i < total; i++) {
      // One in ten is an error, so an alert to both notifiers.
      const id = i % 10 === 9 ? logger.error(`valve ${i} stuck`, { i, run: 'notify' }) : logger.info(`reading ${i}`, { i, run: 'notify' })
      ids.add(id as string)
      if (i % 500 === 499) {
        for (const n of Object.values(dispatcher.stats().notifiers)) maxDepth = Math.max(maxDepth, n.queueDepth)
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    // Every call returned an id at once, and the logger's flush finishes while both peers still
    // hang: the webhook still has alerts queued or in flight when it returns.
    expect(ids.size).toBe(total)
    await logger.flush({ timeoutMs: 4000 })
    const during = dispatcher.stats()
    expect(during.notifiers.webhook.queueDepth + during.notifiers.webhook.inFlight).toBeGreaterThan(0)
    expect(smtp.connections() + hook.connections()).toBeGreaterThan(0)
    expect(hook.bytesIn()).toBeGreaterThan(0) // webhook requests really went out, unanswered
    expect(during.alerts).toBe(total / 10)
    for (const n of Object.values(during.notifiers)) {
      expect(n.sent).toBe(0)
      // The queue bound held; the excess was dropped and counted, not buffered.
      expect(maxDepth).toBeLessThanOrEqual(maxQueue)
      expect(n.queueDepth).toBeLessThanOrEqual(maxQueue)
      expect(n.droppedOverflow).toBeGreaterThan(0)
    }

    // Each notifier gave up on some messages after their timeouts; the failures are logged as events.
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 15_000
      const check = (): void => {
        const n = dispatcher.stats().notifiers
        if (Object.values(n).every((s) => s.failed > 0)) resolve()
        else if (Date.now() > deadline) reject(new Error(`no failure counted: ${JSON.stringify(n)}`))
        else setTimeout(check, 50)
      }
      check()
    })
    await dispatcher.close({ timeoutMs: 1000 })
    const closed = dispatcher.stats().notifiers
    for (const n of Object.values(closed)) {
      expect(n.failed).toBeGreaterThan(0)
      expect(n.lastError).toMatch(/timeout|timed out|ETIMEDOUT|Greeting never received|aborted|closed/i)
      expect(n.inFlight + n.queueDepth).toBe(0)
      // Every alert offered to this notifier is accounted for: failed, dropped, or given up at close.
      expect(n.sent + n.failed + n.droppedOverflow + n.droppedClosed).toBe(total / 10)
    }
    await logger.flush({ timeoutMs: 10_000 })
    await logger.close({ timeoutMs: 5000 })
    logger = undefined

    const client = await MongoClient.connect(url)
    try {
      const coll = client.db(database).collection('events')
      const docs = await coll.find({ 'event_data.run': 'notify' }, { projection: { _id: 1 } }).toArray()
      expect(docs).toHaveLength(total)
      expect(new Set(docs.map((d) => String(d._id)))).toEqual(ids)
      // The notifiers' failures reached the store as MADSci error events from the alerting component.
      const reports = await coll.countDocuments({ 'event_data.madsci_events.component': 'alerts' })
      expect(reports).toBeGreaterThan(0)
    } finally {
      await client.close()
    }
  }, 60_000)
})
