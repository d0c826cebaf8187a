import { TimeoutError } from '../errors.js'
import type { Event } from '../event/model.js'
import { retryDelay } from '../pipeline/backoff.js'
import { ByteQueue } from '../pipeline/queue.js'
import type { DeliverySettings } from './options.js'
import { DEFAULT_STORM } from './options.js'
import { StormControl, makeKeyFunction } from './storm.js'
import type { Alert, Notifier, NotifierStats } from './types.js'

/**
 * One notifier's own delivery line: storm control, a bounded queue, a few sends at once, a
 * deadline per attempt, retries with backoff (full jitter), and counters. Nothing here runs on the
 * caller's stack except `offer()`/`tick()`, which only decide and enqueue.
 */

export interface LaneReport {
  (level: 30 | 40 | 50, message: string, details: Record<string, unknown>): void
}

export interface LaneParams {
  name: string
  type: string
  settings: DeliverySettings
  now: () => number
  random: () => number
  /** Records a MADSci event of the dispatcher's own (never alerted on). */
  report: LaneReport
  /** Removes secrets from error texts. */
  scrub: (text: string) => string
  notifier: Notifier | Promise<Notifier>
}

/** Drop reports are batched: at most one event per minute per notifier, with the count since the last one. */
const DROP_REPORT_INTERVAL_MS = 60_000

export class NotifierLane {
  readonly name: string
  readonly type: string
  readonly settings: DeliverySettings
  #notifier: Notifier | undefined
  #state: NotifierStats['state']
  #loading: Promise<void> | undefined
  readonly #storm: StormControl | null
  readonly #plainKey: (event: Event) => string
  readonly #queue = new ByteQueue<Alert>()
  #inFlight = 0
  #scheduled = false
  readonly #idle: Array<() => void> = []
  readonly #closing = new AbortController()
  readonly #p: LaneParams
  #sent = 0
  #sentDigests = 0
  #failed = 0
  #retried = 0
  #droppedOverflow = 0
  #droppedClosed = 0
  #unreportedDrops = 0
  #lastDropReport = Number.NEGATIVE_INFINITY
  #dropReportQueued = false
  #lastError: string | null = null

  constructor(p: LaneParams) {
    this.#p = p
    this.name = p.name
    this.type = p.type
    this.settings = p.settings
    this.#storm = p.settings.storm ? new StormControl(p.settings.storm, p.now()) : null
    this.#plainKey = makeKeyFunction(DEFAULT_STORM)
    if (p.notifier instanceof Promise) {
      this.#state = 'loading'
      this.#loading = p.notifier.then(
        (n) => {
          this.#loading = undefined
          if (this.#state === 'closed') {
            void Promise.resolve(n.close?.()).catch(() => undefined)
            return
          }
          this.#notifier = n
          this.#state = 'ready'
          this.#schedule()
        },
        (err: Error) => {
          this.#loading = undefined
          this.#state = 'failed'
          this.#lastError = p.scrub(err.message)
          const dropped = this.#queue.drain().length
          this.#droppedClosed += dropped
          p.report(40, `Alert notifier "${p.name}" could not be created: ${this.#lastError}`, { notifier: p.name, dropped })
          this.#checkIdle()
        },
      )
    } else {
      this.#notifier = p.notifier
      this.#state = 'ready'
    }
  }

  get notifier(): Notifier | undefined {
    return this.#notifier
  }

  /** Storm control decides; an alert to send now is queued. Synchronous, no I/O. */
  offer(event: Event, now: number): void {
    const alert: Alert | null = this.#storm
      ? this.#storm.offer(event, now)
      : { kind: 'event', key: this.#plainKey(event), level: event.log_level, event }
    if (alert) this.#enqueue(alert, now)
  }

  /** Queue the digests that are due. */
  tick(now: number): void {
    this.#reportDrops(now)
    if (!this.#storm || this.#storm.openDigests === 0) return
    for (const d of this.#storm.due(now)) this.#enqueue(d, now)
  }

  /** Queue every pending digest at once (closing). */
  drainDigests(now: number): void {
    if (!this.#storm) return
    for (const d of this.#storm.drain(now)) this.#enqueue(d, now)
  }

  #enqueue(alert: Alert, now: number): void {
    if (this.#state === 'failed' || this.#state === 'closed') {
      this.#droppedClosed++
      return
    }
    if (this.#queue.length >= this.settings.maxQueue) {
      this.#droppedOverflow++
      this.#unreportedDrops++
      if (this.settings.overflow === 'drop-newest') {
        this.#reportDrops(now)
        return
      }
      this.#queue.shift()
    }
    this.#queue.push(alert, 1)
    this.#reportDrops(now)
    this.#schedule()
  }

  /** Report drops: the first of a burst at once (after the current synchronous burst), then at most once a minute. */
  #reportDrops(now: number, force = false): void {
    if (this.#unreportedDrops === 0 || this.#dropReportQueued) return
    if (!force && now - this.#lastDropReport < DROP_REPORT_INTERVAL_MS) return
    this.#dropReportQueued = true
    this.#lastDropReport = now
    const send = (): void => {
      this.#dropReportQueued = false
      const count = this.#unreportedDrops
      if (count === 0) return
      this.#unreportedDrops = 0
      this.#p.report(30, `Alert notifier "${this.name}" dropped ${count} message${count === 1 ? '' : 's'}: its queue of ${this.settings.maxQueue} was full (${this.settings.overflow})`, {
        notifier: this.name,
        dropped: count,
        dropped_total: this.#droppedOverflow,
        last_error: this.#lastError,
      })
    }
    // Coalesce a synchronous burst of drops (a loop of offer() calls) into one report.
    if (force) send()
    else queueMicrotask(send)
  }

  #schedule(): void {
    if (this.#scheduled || this.#state !== 'ready') return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#pump()
    })
  }

  #pump(): void {
    while (this.#state === 'ready' && this.#inFlight < this.settings.concurrency && this.#queue.length > 0) {
      const alert = this.#queue.shift()!
      this.#inFlight++
      void this.#deliver(alert).finally(() => {
        this.#inFlight--
        this.#pump()
        this.#checkIdle()
      })
    }
    this.#checkIdle()
  }

  async #deliver(alert: Alert): Promise<void> {
    const { retries, baseMs, maxMs } = this.settings.retry
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#attempt(alert)
        this.#sent++
        if (alert.kind === 'digest') this.#sentDigests++
        return
      } catch (err) {
        const e = err as Error & { permanent?: unknown; retryAfterMs?: unknown; logLevel?: unknown; code?: unknown }
        const message = this.#p.scrub(String(e?.message ?? e))
        this.#lastError = message
        const closing = this.#closing.signal.aborted
        if (e?.permanent === true || attempt >= retries || closing) {
          this.#failed++
          const level = e?.logLevel === 30 || e?.logLevel === 50 ? e.logLevel : 40
          const first = alert.kind === 'event' ? alert.event : alert.items[0]?.event
          const why = closing ? 'the dispatcher closed' : e?.permanent === true ? 'a permanent error' : `${attempt + 1} attempt${attempt === 0 ? '' : 's'}`
          this.#p.report(level, `Alert notifier "${this.name}" could not deliver ${alert.kind === 'event' ? 'an alert' : `a digest of ${alert.count} alerts`} (${why}): ${message}`, {
            notifier: this.name,
            alert_kind: alert.kind,
            alert_key: alert.key,
            alert_event_id: first?.event_id ?? null,
            alert_count: alert.kind === 'digest' ? alert.count : 1,
            attempts: attempt + 1,
            permanent: e?.permanent === true,
            error_code: typeof e?.code === 'string' ? e.code : null,
            error: message,
          })
          return
        }
        this.#retried++
        const retryAfter = typeof e?.retryAfterMs === 'number' ? e.retryAfterMs : undefined
        await this.#sleep(retryDelay(attempt, { baseMs, maxMs }, retryAfter, this.#p.random))
      }
    }
  }

  /** One attempt, bounded by `sendTimeoutMs` and aborted when the dispatcher gives up at close. */
  async #attempt(alert: Alert): Promise<void> {
    const closing = this.#closing.signal
    if (closing.aborted) throw closing.reason
    const ctrl = new AbortController()
    const onClose = (): void => ctrl.abort(closing.reason)
    closing.addEventListener('abort', onClose, { once: true })
    const ms = this.settings.sendTimeoutMs
    const timer = setTimeout(() => ctrl.abort(new TimeoutError(`the attempt did not finish within ${ms} ms (sendTimeoutMs)`)), ms)
    timer.unref()
    try {
      await new Promise<void>((resolve, reject) => {
        ctrl.signal.addEventListener('abort', () => reject(ctrl.signal.reason), { once: true })
        let sent: Promise<void>
        try {
          sent = this.#notifier!.send(alert, { signal: ctrl.signal })
        } catch (err) {
          reject(err)
          return
        }
        Promise.resolve(sent).then(() => resolve(), reject)
      })
    } finally {
      clearTimeout(timer)
      closing.removeEventListener('abort', onClose)
    }
  }

  #sleep(ms: number): Promise<void> {
    const closing = this.#closing.signal
    if (closing.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        closing.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      closing.addEventListener('abort', done, { once: true })
    })
  }

  #isIdle(): boolean {
    return this.#state !== 'loading' && (this.#queue.length === 0 || this.#state !== 'ready') && this.#inFlight === 0
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return
    for (const w of this.#idle.splice(0)) w()
  }

  /** Resolves when nothing is queued or being sent. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /** Wait until the notifier module is loaded (or failed). */
  async ready(): Promise<void> {
    await this.#loading
  }

  /** Give up: abort what is in flight, drop what is queued, close the notifier. */
  async abort(timeoutMs: number): Promise<void> {
    const reason = new TimeoutError(`the alert dispatcher closed before "${this.name}" finished`)
    if (this.#state === 'ready' || this.#state === 'loading') this.#state = 'closed'
    if (!this.#closing.signal.aborted) this.#closing.abort(reason)
    this.#droppedClosed += this.#queue.drain().length
    await this.idle()
    this.#reportDrops(this.#p.now(), true)
    const n = this.#notifier
    if (n?.close) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.resolve()
          .then(() => n.close!({ timeoutMs }))
          .catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs)
          timer.unref()
        }),
      ])
      clearTimeout(timer)
    }
    this.#state = this.#state === 'failed' ? 'failed' : 'closed'
  }

  /** Counters, a snapshot. */
  stats(): NotifierStats {
    const c = this.#storm?.counters
    return {
      name: this.name,
      type: this.type,
      state: this.#state,
      sent: this.#sent,
      sentDigests: this.#sentDigests,
      failed: this.#failed,
      retried: this.#retried,
      suppressedRateLimit: c?.suppressedRateLimit ?? 0,
      suppressedDedup: c?.suppressedDedup ?? 0,
      digested: c?.digested ?? 0,
      queueDepth: this.#queue.length,
      inFlight: this.#inFlight,
      droppedOverflow: this.#droppedOverflow,
      droppedClosed: this.#droppedClosed,
      openDigests: this.#storm?.openDigests ?? 0,
      keys: this.#storm?.keys ?? 0,
      lastError: this.#lastError,
    }
  }
}
