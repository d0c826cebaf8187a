import { mkdtemp, readFile } from 'node:fs/promises'
import { type Server, type Socket, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type EventLogger, createEventLogger } from '../../src/index.js'
import { type AlertDispatcher, createAlertDispatcher } from '../../src/notify/index.js'
import { makeEvent, recordingContext, startHttpReceiver } from './support/peers.js'

/**
 * A dead or slow peer never reaches the caller: offer() only decides and enqueues (no I/O, no
 * await), the queue bound holds, every failure is counted and reported as a MADSci event.
 * Structural assertions only: no timings (speed is measured in bench/).
 */

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

/** A port nothing listens on: SMTP down. */
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))
  const { port } = s.address() as { port: number }
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

/** An SMTP server that accepts connections and never says a word: SMTP slow. */
async function stallingServer(): Promise<{ port: number; sockets: Socket[]; server: Server }> {
  const sockets: Socket[] = []
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  cleanups.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as { port: number }).port, sockets, server }
}

function track(d: AlertDispatcher): AlertDispatcher {
  cleanups.push(() => d.close({ timeoutMs: 500 }))
  return d
}

describe('a dead or slow peer', () => {
  it('SMTP down: offer() stays synchronous, the queue bound holds, failures are counted and reported', async () => {
    const port = await closedPort()
    const { context, events } = recordingContext()
    const d = track(
      createAlertDispatcher(
        { storm: false, maxQueue: 5, retry: { retries: 1, baseMs: 1, maxMs: 2 }, notifiers: [{ type: 'email', smtp_server: '127.0.0.1', smtp_port: port, use_tls: false, email_addresses: ['ops@lab.example'] }] },
        context,
      ),
    )
    for (let i = 0; i < 100; i++) expect(d.offer(makeEvent())).toBeUndefined()
    // Still on the caller's stack: nothing started, the queue holds its bound, the rest was dropped.
    expect(d.stats().notifiers.email).toMatchObject({ queueDepth: 5, inFlight: 0, droppedOverflow: 95, sent: 0 })
    await d.flush()
    expect(d.stats().notifiers.email).toMatchObject({ queueDepth: 0, inFlight: 0, sent: 0, failed: 5, retried: 5, droppedOverflow: 95 })
    const failures = events.filter((e) => e.log_level === 40)
    const drops = events.filter((e) => e.log_level === 30)
    expect(failures).toHaveLength(5)
    expect(failures.every((e) => e.event_type === 'manager_error' && /ECONNECTION|ECONNREFUSED/.test((e.event_data as { message: string }).message))).toBe(true)
    expect(drops).toHaveLength(1)
    expect((drops[0].event_data as { madsci_events: { dropped: number } }).madsci_events.dropped).toBe(95)
  })

  it('SMTP slow: a server that stalls costs one attempt deadline per message, never the caller', async () => {
    const { port, sockets } = await stallingServer()
    const { context, events } = recordingContext()
    const d = track(
      createAlertDispatcher(
        {
          storm: false,
          maxQueue: 3,
          concurrency: 2,
          sendTimeoutMs: 250,
          retry: { retries: 0 },
          notifiers: [{ type: 'email', smtp_server: '127.0.0.1', smtp_port: port, use_tls: false, greeting_timeout_ms: 60_000, email_addresses: ['ops@lab.example'] }],
        },
        context,
      ),
    )
    for (let i = 0; i < 10; i++) d.offer(makeEvent())
    expect(d.stats().notifiers.email).toMatchObject({ queueDepth: 3, droppedOverflow: 7, inFlight: 0 })
    await d.flush()
    expect(sockets.length).toBeGreaterThan(0)
    expect(d.stats().notifiers.email).toMatchObject({ queueDepth: 0, inFlight: 0, sent: 0, failed: 3 })
    expect(events.filter((e) => /sendTimeoutMs/.test((e.event_data as { message: string }).message))).toHaveLength(3)
  })

  it('close() gives up on a stalled send at its deadline and counts what is left', async () => {
    const { port } = await stallingServer()
    const { context, events } = recordingContext()
    const d = createAlertDispatcher(
      {
        storm: false,
        concurrency: 1,
        sendTimeoutMs: 600_000,
        notifiers: [{ type: 'email', smtp_server: '127.0.0.1', smtp_port: port, use_tls: false, greeting_timeout_ms: 600_000, email_addresses: ['ops@lab.example'] }],
      },
      context,
    )
    for (let i = 0; i < 4; i++) d.offer(makeEvent())
    await new Promise((resolve) => setImmediate(resolve))
    expect(d.stats().notifiers.email).toMatchObject({ inFlight: 1, queueDepth: 3 })
    await d.close({ timeoutMs: 300 })
    expect(d.stats().notifiers.email).toMatchObject({ state: 'closed', inFlight: 0, queueDepth: 0, sent: 0, failed: 1, droppedClosed: 3 })
    expect(events.some((e) => /dispatcher closed/.test((e.event_data as { message: string }).message))).toBe(true)
    d.offer(makeEvent())
    expect(d.stats().afterClose).toBe(1)
  })

  it('one notifier stalling never holds up another', async () => {
    const { port } = await stallingServer()
    let gotAll!: () => void
    const allDelivered = new Promise<void>((resolve) => (gotAll = resolve))
    const hook = await startHttpReceiver((_req, i) => {
      if (i === 9) gotAll()
      return { status: 200 }
    })
    cleanups.push(() => hook.close())
    const d = track(
      createAlertDispatcher(
        {
          storm: false,
          sendTimeoutMs: 600_000,
          notifiers: [
            { type: 'email', smtp_server: '127.0.0.1', smtp_port: port, use_tls: false, greeting_timeout_ms: 600_000, email_addresses: ['ops@lab.example'] },
            { type: 'webhook', url: hook.url },
          ],
        },
        recordingContext().context,
      ),
    )
    for (let i = 0; i < 10; i++) d.offer(makeEvent())
    await allDelivered
    const s = d.stats().notifiers
    expect(s.email.sent).toBe(0)
    expect(s.email.inFlight).toBeGreaterThan(0)
    expect(hook.requests).toHaveLength(10)
  })

  it('webhook 500 behind a real logger: every event reaches the store, the failures are counted and logged', async () => {
    const hook = await startHttpReceiver(() => ({ status: 500 }))
    cleanups.push(() => hook.close())
    const dir = await mkdtemp(join(tmpdir(), 'madsci-alerts-'))
    const file = join(dir, 'events.ndjson')
    let logger: EventLogger | undefined
    const dispatcher = createAlertDispatcher(
      { storm: false, retry: { retries: 1, baseMs: 1, maxMs: 2 }, notifiers: [{ type: 'webhook', url: hook.url }] },
      { log: (event) => logger?.log(event) },
    )
    logger = createEventLogger({ file, env: {}, consumers: [dispatcher] })
    for (let i = 0; i < 200; i++) logger.info(`reading ${i}`)
    for (let i = 0; i < 20; i++) logger.error(`valve ${i} stuck`)
    await dispatcher.flush()
    await logger.flush()
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    const user = lines.filter((e) => !e.event_data?.madsci_events)
    const reports = lines.filter((e) => e.event_data?.madsci_events?.component === 'alerts')
    expect(user).toHaveLength(220)
    expect(hook.requests).toHaveLength(40)
    expect(dispatcher.stats()).toMatchObject({ alerts: 20, ignoredOwn: 20 })
    expect(dispatcher.stats().notifiers.webhook).toMatchObject({ sent: 0, failed: 20, retried: 20 })
    expect(reports).toHaveLength(20)
    expect(reports.every((e) => e.event_type === 'manager_error' && e.log_level === 40)).toBe(true)
    await dispatcher.close()
    await logger.close()
  })
})
