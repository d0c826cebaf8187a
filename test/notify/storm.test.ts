import { describe, expect, it } from 'vitest'
import { type Alert, type DigestAlert, type Notifier, createAlertDispatcher } from '../../src/notify/index.js'
import { makeEvent, manualClock, recordingContext } from './support/peers.js'

/** A notifier plugin that keeps what it is asked to send. */
function recorder(): Notifier & { alerts: Alert[] } {
  const alerts: Alert[] = []
  return {
    name: 'rec',
    alerts,
    async send(alert) {
      alerts.push(alert)
    },
  }
}

const MIN = 60_000

function digests(alerts: Alert[]): DigestAlert[] {
  return alerts.filter((a): a is DigestAlert => a.kind === 'digest')
}

/** Every alert offered is sent on its own or counted in exactly one digest. */
function represented(alerts: Alert[]): number {
  return alerts.reduce((n, a) => n + (a.kind === 'event' ? 1 : a.count), 0)
}

describe('storm control', () => {
  it('turns 10 000 alerts of one instrument within a second into the first alert and one digest', async () => {
    const clock = manualClock()
    const start = clock.now()
    const rec = recorder()
    const { context } = recordingContext()
    const d = createAlertDispatcher({ notifiers: [rec], now: clock.now }, context)
    for (let i = 0; i < 10_000; i++) {
      clock.set(start + Math.floor(i / 10)) // ten per millisecond: one second in all
      expect(d.offer(makeEvent({ event_data: { message: `reading ${i} out of range` } }))).toBeUndefined()
    }
    await d.flush()
    expect(rec.alerts).toHaveLength(1)
    expect(rec.alerts[0].kind).toBe('event')
    expect(d.stats().notifiers.rec).toMatchObject({ sent: 1, digested: 9999, openDigests: 1, suppressedDedup: 0, suppressedRateLimit: 0 })

    clock.set(start + MIN - 1)
    await d.flush()
    expect(rec.alerts).toHaveLength(1) // the window is not over yet

    clock.set(start + MIN)
    await d.flush()
    expect(rec.alerts).toHaveLength(2)
    const digest = rec.alerts[1] as DigestAlert
    expect(digest).toMatchObject({ kind: 'digest', reason: 'window', count: 9999, duplicates: 0, omitted: 9979, key: 'node_error|node_id=01JRB6Y0000000000000000000' })
    expect(digest.items).toHaveLength(20)
    expect(digest.items.map((it) => (it.event.event_data as { message: string }).message)).toEqual(Array.from({ length: 20 }, (_, i) => `reading ${i + 1} out of range`))
    expect(digest.items.every((it) => it.occurrences === 1)).toBe(true)
    expect(digest.keys).toEqual([{ key: digest.key, count: 9999 }])
    expect(digest.eventTypes).toEqual(['node_error'])
    expect(d.stats().notifiers.rec).toMatchObject({ sent: 2, sentDigests: 1, digested: 9999, openDigests: 0 })
    expect(represented(rec.alerts)).toBe(10_000)
    await d.close()
    expect(rec.alerts).toHaveLength(2)
  })

  it('counts an identical flood as duplicates of the first alert', async () => {
    const clock = manualClock()
    const rec = recorder()
    const d = createAlertDispatcher({ notifiers: [rec], now: clock.now }, recordingContext().context)
    for (let i = 0; i < 10_000; i++) d.offer(makeEvent({ event_data: { message: 'pump stalled', pressure: i } }))
    clock.advance(MIN)
    await d.flush()
    expect(rec.alerts.map((a) => a.kind)).toEqual(['event', 'digest'])
    const digest = rec.alerts[1] as DigestAlert
    expect(digest).toMatchObject({ count: 9999, duplicates: 9999, omitted: 0 })
    expect(digest.items).toHaveLength(1)
    expect(digest.items[0].occurrences).toBe(9999)
    expect(d.stats().notifiers.rec).toMatchObject({ suppressedDedup: 9999, digested: 9999 })
    await d.close()
  })

  it('reports an alert that repeats every 2 minutes at most once per 10-minute dedup window', async () => {
    const clock = manualClock()
    const start = clock.now()
    const rec = recorder()
    const d = createAlertDispatcher({ notifiers: [rec], now: clock.now }, recordingContext().context)
    for (let m = 0; m < 60; m += 2) {
      clock.set(start + m * MIN)
      await d.flush()
      d.offer(makeEvent({ event_data: { message: 'door open' } }))
    }
    clock.set(start + 60 * MIN)
    await d.flush()
    expect(rec.alerts.map((a) => (a.kind === 'event' ? 'event' : a.count))).toEqual(['event', 4, 5, 5, 5, 5, 5])
    expect(digests(rec.alerts).map((a) => a.windowEnd - start)).toEqual([10, 20, 30, 40, 50, 60].map((m) => m * MIN))
    expect(digests(rec.alerts).every((a) => a.duplicates === a.count && a.items.length === 1)).toBe(true)
    expect(represented(rec.alerts)).toBe(30)
    await d.close()
  })

  it('holds alerts over the per-key rate limit in a digest until a token frees', async () => {
    const clock = manualClock()
    const start = clock.now()
    const rec = recorder()
    const d = createAlertDispatcher(
      { notifiers: [rec], now: clock.now, storm: { perKey: { max: 2, windowMs: 60 * MIN }, digestWindowMs: MIN, dedupWindowMs: 0 } },
      recordingContext().context,
    )
    for (const m of [0, 2, 4, 6]) {
      clock.set(start + m * MIN)
      await d.flush()
      d.offer(makeEvent({ event_data: { message: `distinct problem at minute ${m}` } }))
    }
    await d.flush()
    expect(rec.alerts.map((a) => a.kind)).toEqual(['event', 'event'])
    expect(d.stats().notifiers.rec).toMatchObject({ suppressedRateLimit: 2, openDigests: 1 })
    // Two tokens an hour: the next one frees 30 minutes after the first two were spent.
    clock.set(start + 29 * MIN)
    await d.flush()
    expect(rec.alerts).toHaveLength(2)
    clock.set(start + 31 * MIN)
    await d.flush()
    expect(rec.alerts).toHaveLength(3)
    expect(rec.alerts[2]).toMatchObject({ kind: 'digest', reason: 'rate-limit', count: 2, duplicates: 0 })
    await d.close()
  })

  it('keeps a sustained storm to a few messages an hour and loses no count', async () => {
    const clock = manualClock()
    const start = clock.now()
    const rec = recorder()
    const d = createAlertDispatcher({ notifiers: [rec], now: clock.now }, recordingContext().context)
    let offered = 0
    for (let s = 0; s < 2 * 3600; s++) {
      clock.set(start + s * 1000)
      if (s % 10 === 0) await d.flush()
      d.offer(makeEvent({ event_data: { message: `reading ${s}` } }))
      offered++
    }
    clock.set(start + 2 * 3600_000)
    await d.flush()
    // Per key: 6 tokens at once, then 6 an hour.
    expect(rec.alerts.length).toBeLessThanOrEqual(6 + 2 * 6)
    expect(rec.alerts.length).toBeGreaterThanOrEqual(12)
    await d.close()
    expect(represented(rec.alerts)).toBe(offered)
  })

  it('sends alerts of many instruments over the total limit as one digest across keys', async () => {
    const clock = manualClock()
    const start = clock.now()
    const rec = recorder()
    const d = createAlertDispatcher({ notifiers: [rec], now: clock.now }, recordingContext().context)
    for (let i = 0; i < 10_000; i++) {
      clock.set(start + Math.floor(i / 10))
      d.offer(makeEvent({ source: { node_id: `01JRB6Y${String(i).padStart(19, '0')}` } }))
    }
    await d.flush()
    expect(rec.alerts).toHaveLength(30)
    expect(rec.alerts.every((a) => a.kind === 'event')).toBe(true)
    const s = d.stats().notifiers.rec
    expect(s).toMatchObject({ suppressedRateLimit: 9970, digested: 9970, keys: 1000 })
    // 30 an hour: the next token frees two minutes after the first burst.
    clock.set(start + 61_000)
    await d.flush()
    expect(rec.alerts).toHaveLength(30)
    clock.set(start + 121_000)
    await d.flush()
    expect(rec.alerts).toHaveLength(31)
    const digest = rec.alerts[30] as DigestAlert
    expect(digest).toMatchObject({ kind: 'digest', key: '*', reason: 'overflow', count: 9970, omitted: 9950 })
    expect(digest.items).toHaveLength(20)
    expect(digest.keys).toHaveLength(20)
    expect(digest.keys.every((k) => k.count === 1)).toBe(true)
    expect(digest.keysOmitted).toBe(9950)
    expect(represented(rec.alerts)).toBe(10_000)
    await d.close()
  })

  it('merges the pending digest of a forgotten key into the digest across keys', async () => {
    const clock = manualClock()
    const rec = recorder()
    const d = createAlertDispatcher({ notifiers: [rec], now: clock.now, storm: { maxKeys: 2 } }, recordingContext().context)
    const at = (node: string, message: string) => makeEvent({ source: { node_id: node }, event_data: { message } })
    const A = '01JRB6Y000000000000000000A'
    d.offer(at(A, 'a1'))
    d.offer(at(A, 'a2'))
    d.offer(at('01JRB6Y000000000000000000B', 'b1'))
    d.offer(at('01JRB6Y000000000000000000C', 'c1')) // A is the least recently used: forgotten
    clock.advance(MIN)
    await d.flush()
    expect(rec.alerts.map((a) => a.kind)).toEqual(['event', 'event', 'event', 'digest'])
    expect(rec.alerts[3]).toMatchObject({ key: '*', reason: 'overflow', count: 1, keys: [{ key: `node_error|node_id=${A}`, count: 1 }] })
    await d.close()
  })

  it('sends every pending digest when closing', async () => {
    const clock = manualClock()
    const rec = recorder()
    const d = createAlertDispatcher({ notifiers: [rec], now: clock.now }, recordingContext().context)
    for (let i = 0; i < 100; i++) d.offer(makeEvent())
    await d.close()
    expect(rec.alerts.map((a) => a.kind)).toEqual(['event', 'digest'])
    expect(rec.alerts[1]).toMatchObject({ reason: 'close', count: 99 })
    d.offer(makeEvent())
    expect(d.stats()).toMatchObject({ afterClose: 1, alerts: 100 })
  })

  it('with storm control off sends every alert on its own', async () => {
    const rec = recorder()
    const d = createAlertDispatcher({ notifiers: [rec], storm: false }, recordingContext().context)
    for (let i = 0; i < 50; i++) d.offer(makeEvent({ event_data: 'same' }))
    await d.flush()
    expect(rec.alerts).toHaveLength(50)
    expect(d.stats().notifiers.rec).toMatchObject({ sent: 50, digested: 0, keys: 0 })
    await d.close()
  })

  it('keys by the configured fields', async () => {
    const clock = manualClock()
    const rec = recorder()
    const d = createAlertDispatcher({ notifiers: [rec], now: clock.now, storm: { keyBy: ['event_type'] } }, recordingContext().context)
    d.offer(makeEvent({ source: { node_id: '01JRB6Y000000000000000000A' } }))
    d.offer(makeEvent({ source: { node_id: '01JRB6Y000000000000000000B' } }))
    d.offer(makeEvent({ event_type: 'workflow_abort' }))
    clock.advance(MIN)
    await d.flush()
    expect(rec.alerts.map((a) => `${a.kind}:${a.key}`)).toEqual(['event:node_error', 'event:workflow_abort', 'digest:node_error'])
    await d.close()
  })
})

describe('the alert condition', () => {
  it('alerts on alert: true at any level and on log_level >= alertLevel (MADSci semantics)', async () => {
    const rec = recorder()
    const d = createAlertDispatcher({ notifiers: [rec], storm: false }, recordingContext().context)
    expect(d.alertLevel).toBe(40)
    d.offer(makeEvent({ log_level: 20 }))
    d.offer(makeEvent({ log_level: 30 }))
    d.offer(makeEvent({ log_level: 10, alert: true }))
    d.offer(makeEvent({ log_level: 40 }))
    d.offer(makeEvent({ log_level: 50 }))
    await d.flush()
    expect(rec.alerts.map((a) => (a.kind === 'event' ? a.event.log_level : -1))).toEqual([10, 40, 50])
    expect(d.stats()).toMatchObject({ offered: 5, alerts: 3 })
    await d.close()
  })

  it('takes the level as a name or number', () => {
    const { context } = recordingContext()
    expect(createAlertDispatcher({ alertLevel: 'warning' }, context).alertLevel).toBe(30)
    expect(createAlertDispatcher({ alertLevel: 'EventLogLevel.CRITICAL' }, context).alertLevel).toBe(50)
    expect(createAlertDispatcher({ alertLevel: 10 }, context).alertLevel).toBe(10)
    expect(() => createAlertDispatcher({ alertLevel: 25 }, context)).toThrow(/alertLevel.*0, 10, 20, 30, 40, 50/)
  })

  it('never alerts on its own reports (no feedback loop)', async () => {
    const { context, events } = recordingContext()
    const failing: Notifier = {
      name: 'down',
      async send() {
        throw Object.assign(new Error('peer refused'), { permanent: true })
      },
    }
    const d = createAlertDispatcher({ notifiers: [failing], storm: false }, context)
    d.offer(makeEvent())
    await d.flush()
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ event_type: 'manager_error', log_level: 40 })
    // The pipeline hands the report back to the dispatcher, as it does with every event.
    d.offer(events[0])
    // Even when its id was changed on the way (e.g. through another process), the marker is recognised.
    d.offer(makeEvent({ event_data: events[0].event_data }))
    await d.flush()
    expect(d.stats()).toMatchObject({ alerts: 1, ignoredOwn: 2 })
    expect(events).toHaveLength(1)
    await d.close()
  })
})
