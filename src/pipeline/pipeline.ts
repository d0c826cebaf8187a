import { createHash } from 'node:crypto'
import { appendFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { EventEmitter } from 'eventemitter3'
import { TimeoutError } from '../errors.js'
import { safeJsonStringify } from '../event/json-safe.js'
import type { EventLogLevel } from '../event/levels.js'
import type { Event, OwnershipInfo } from '../event/model.js'
import { nowTimestamp, type TimestampMode } from '../event/timestamp.js'
import type { EventType } from '../event/types.js'
import { newUlid } from '../event/ulid.js'
import type { PipelineEvent, Sink } from '../stores/types.js'
import { type DeferredSpool, Delivery, type DeliveryOptions, type DeliveryStats, type SavedAtExit } from './delivery.js'
import { LoggedEvent, pipelineEventJson } from './record.js'
import { type FsyncPolicy, Spool } from './spool.js'
import { makeWarning, type WarningListener } from '../warnings.js'

/**
 * The pipeline: every accepted event fans out to one `Delivery` per sink (own queue, batches,
 * retries, spool), to in-process plugins (notifiers, analyzers) and to the bus (`event`).
 * It knows nothing about MongoDB or HTTP.
 */

export interface SpoolConfig {
  /** Root directory; each sink gets `<dir>/<kind>-<hash of target>/<slot>`. */
  dir: string
  /** `overflow` (default): only what the memory queue cannot hold. `always`: every event (a write-ahead log; survives SIGKILL). */
  mode?: 'overflow' | 'always'
  fsync?: FsyncPolicy
  fsyncIntervalMs?: number
  /** Per sink. Default 1 GiB. */
  maxBytes?: number
  segmentBytes?: number
}

export interface PipelineOptions {
  sinks: Sink[]
  delivery?: Partial<DeliveryOptions>
  /** Per-sink overrides of `delivery`, by sink kind. */
  deliveryBySink?: Record<string, Partial<DeliveryOptions>>
  spool?: SpoolConfig | false
  /** `source` of the pipeline's own events (drop reports, rejections). */
  source?: OwnershipInfo
  timestampMode?: TimestampMode
  /** Let the sinks go of their connections when idle (a finished program must not be kept alive by them). Default false. */
  releaseWhenIdle?: boolean
  /** Degraded-mode notices (a spool directory that cannot be opened, a store that does not answer). */
  onWarning?: WarningListener
}

/** Something that receives every accepted event synchronously (notifier dispatcher, analyzer host). */
export interface EventConsumer {
  offer(event: Event): void
}

export interface PipelineEventMap {
  /** Every accepted event: the in-process live stream. */
  event: [Event]
  batch: [{ sink: string; size: number; latencyMs: number; attempts: number; fromSpool: boolean }]
  error: [Error, { sink?: string; stage: string }]
  drop: [{ sink: string; reason: string; count: number }]
  spool: [{ sink: string; count: number }]
  rejected: [{ sink: string; count: number; error: Error }]
  /** A store stopped answering (`reachable: false`, with the reason) or answers again (with how long it was down). */
  outage: [{ sink: string; target: string; reachable: boolean; reason?: string; downForMs?: number }]
}

export interface PipelineStats {
  accepted: number
  delivered: number
  retried: number
  failed: number
  spooled: number
  replayed: number
  dropped: Record<string, number>
  queueDepth: number
  inFlight: number
  sinks: DeliveryStats[]
}

export interface CloseReport {
  /** Events delivered over the pipeline's life. */
  delivered: number
  /** Events written to the spool at close (replayed by the next process). */
  spooled: number
  /** Events that could not be delivered nor spooled. */
  lost: number
  timedOut: boolean
  /** Bytes left in the spool for the next process: this close's events and any earlier overflow not yet replayed. */
  spoolPendingBytes: number
}

/** How a notice names a store. */
function storeLabel(kind: string): string {
  return kind === 'mongodb' ? 'MongoDB' : kind === 'http' ? 'the Event Manager' : kind === 'file' ? 'the event file' : `the ${kind} sink`
}

/** The spool directory of a sink under the spool root: `<kind>-<hash of its target>`. */
export function sinkKey(sink: Sink): string {
  return `${sink.kind}-${createHash('sha256').update(sink.target).digest('hex').slice(0, 12)}`
}

export class Pipeline extends EventEmitter<PipelineEventMap> {
  readonly #deliveries: Delivery[]
  readonly #consumers: EventConsumer[] = []
  readonly #internal = new WeakSet<object>()
  readonly #source: OwnershipInfo
  readonly #timestampMode: TimestampMode
  readonly #deadLetterDir: string | undefined
  #accepted = 0
  #closed: Promise<CloseReport> | undefined
  readonly #onWarning: WarningListener | undefined

  constructor(options: PipelineOptions) {
    super()
    this.#source = options.source ?? {}
    this.#timestampMode = options.timestampMode ?? 'local'
    this.#onWarning = options.onWarning
    const spoolCfg = options.spool || undefined
    this.#deadLetterDir = spoolCfg?.dir
    this.#deliveries = options.sinks.map((sink) => {
      const key = sinkKey(sink)
      let delivery: Delivery | undefined
      let spool: Spool | DeferredSpool | undefined
      let orphans: Spool[] = []
      if (spoolCfg) {
        const spoolOptions = {
          fsync: spoolCfg.fsync,
          fsyncIntervalMs: spoolCfg.fsyncIntervalMs,
          maxBytes: spoolCfg.maxBytes,
          segmentBytes: spoolCfg.segmentBytes,
        }
        const open = (): Spool => Spool.open(join(spoolCfg.dir, key), { ...spoolOptions, onWrite: () => delivery?.poke() })
        try {
          spool = open()
          // Slots left by processes that ran at the same time as the one before are replayed too.
          orphans = Spool.adoptOrphans(join(spoolCfg.dir, key), spool.dir, spoolOptions)
        } catch (err) {
          // An unwritable spool directory must not stop the program that logs: the sink works
          // without it, what the spool would take is dropped and counted, and it is tried again.
          spool = { error: err as Error, open }
          options.onWarning?.(makeWarning('MADSCI_WARN_SPOOL_UNAVAILABLE', 'spool', `${sink.kind} sink: ${(err as Error).message}`))
          // On the bus once listeners can be attached (the caller gets the pipeline back first).
          setImmediate(() => this.emit('error', err as Error, { sink: sink.kind, stage: 'spool-open' }))
        }
      }
      const opts: Partial<DeliveryOptions> = {
        ...(spool ? { overflow: 'spool' as const } : {}),
        ...options.delivery,
        ...options.deliveryBySink?.[sink.kind],
      }
      if (opts.overflow === 'spool' && !spool) opts.overflow = 'drop-oldest'
      delivery = new Delivery(sink, opts, this.#hooks, spool, spoolCfg?.mode ?? 'overflow', { orphans, releaseWhenIdle: options.releaseWhenIdle })
      return delivery
    })
    // Replay what a previous process left in the spool.
    for (const d of this.#deliveries) d.poke()
  }

  #hooks = {
    onBatch: (info: PipelineEventMap['batch'][0]) => this.emit('batch', info),
    onError: (err: Error, info: { sink: string; stage: string }) => this.emit('error', err, info),
    onDrop: (info: PipelineEventMap['drop'][0]) => this.emit('drop', info),
    onSpool: (info: PipelineEventMap['spool'][0]) => this.emit('spool', info),
    onRejected: (events: readonly PipelineEvent[], err: Error, sink: string) => {
      this.#settle(events, err)
      this.#onRejected(events, err, sink)
    },
    onDelivered: (events: readonly PipelineEvent[]) => this.#settle(events),
    onDropsRecovered: (info: { sink: string; dropped: Record<string, number>; since: number }) => {
      const total = Object.values(info.dropped).reduce((a, b) => a + b, 0)
      this.report(40, 'log_error', `madsci-events dropped ${total} event(s) for the ${info.sink} sink`, {
        kind: 'dropped',
        sink: info.sink,
        dropped: info.dropped,
        since: new Date(info.since).toISOString(),
        until: new Date().toISOString(),
      })
    },
    onOutage: (info: { sink: string; target: string; reason: string; fate: string }) => {
      this.emit('outage', { sink: info.sink, target: info.target, reachable: false, reason: info.reason })
      // The store's own name is in the notice already: "MongoDB is unavailable: connect ..." → "connect ...".
      const reason = info.reason.replace(/^.{0,40}? is unavailable: /, '')
      this.#onWarning?.(makeWarning('MADSCI_WARN_STORE_UNREACHABLE', info.sink, `${storeLabel(info.sink)} at ${info.target} (${reason}); ${info.fate}`))
    },
    onRecovered: (info: { sink: string; target: string; downForMs: number }) => {
      this.emit('outage', { sink: info.sink, target: info.target, reachable: true, downForMs: info.downForMs })
      this.#onWarning?.(makeWarning('MADSCI_WARN_STORE_REACHABLE', info.sink, `${storeLabel(info.sink)} at ${info.target}, after ${(info.downForMs / 1000).toFixed(1)} s; delivering what was kept`))
    },
  }

  /** Waiters of `pushAndWait`, by event id: resolved when every sink has stored the event. */
  readonly #waits = new Map<string, { remaining: number; resolve: () => void; reject: (err: Error) => void }>()

  #settle(events: readonly PipelineEvent[], err?: Error): void {
    if (this.#waits.size === 0) return
    for (const e of events) {
      const w = this.#waits.get(e.event_id)
      if (!w) continue
      if (err) {
        this.#waits.delete(e.event_id)
        w.reject(err)
      } else if (--w.remaining <= 0) {
        this.#waits.delete(e.event_id)
        w.resolve()
      }
    }
  }

  /**
   * Accept an event and resolve when every sink has stored it (rejects with the store's error
   * when one refuses it for good). The server adapter answers `POST /event` this way, so a
   * following `GET /event/{id}` finds it, as with MADSci.
   */
  pushAndWait(event: PipelineEvent): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      const existing = this.#waits.get(event.event_id)
      if (existing) {
        // The same id twice at once: settle both together.
        const prev = { ...existing }
        existing.resolve = () => {
          prev.resolve()
          resolve()
        }
        existing.reject = (err) => {
          prev.reject(err)
          reject(err)
        }
      } else this.#waits.set(event.event_id, { remaining: this.#deliveries.length, resolve, reject })
    })
    this.push(event)
    return p
  }

  /** Stop waiting for an event (the caller timed out); delivery itself continues. */
  forgetWait(eventId: string): void {
    this.#waits.delete(eventId)
  }

  #onRejected(events: readonly PipelineEvent[], err: Error, sink: string): void {
    this.emit('rejected', { sink, count: events.length, error: err })
    this.emit('error', err, { sink, stage: 'rejected' })
    const userEvents = events.filter((e) => !this.#internal.has(e))
    if (userEvents.length === 0) return
    let deadLetter: string | undefined
    if (this.#deadLetterDir) {
      try {
        mkdirSync(this.#deadLetterDir, { recursive: true })
        deadLetter = join(this.#deadLetterDir, `rejected-${sink}.ndjson`)
        appendFileSync(deadLetter, userEvents.map((e) => pipelineEventJson(e) + '\n').join(''))
      } catch {
        deadLetter = undefined
      }
    }
    this.report(40, 'log_error', `The ${sink} sink refused ${userEvents.length} event(s): ${err.message}`, {
      kind: 'rejected',
      sink,
      count: userEvents.length,
      error: err.message,
      event_ids: userEvents.slice(0, 100).map((e) => e.event_id),
      dead_letter_file: deadLetter ?? null,
    })
  }

  /** Add a consumer that sees every accepted event (synchronously; it must not block). */
  addConsumer(consumer: EventConsumer): void {
    this.#consumers.push(consumer)
  }

  /**
   * Accept an event. Synchronous and cheap: fans out to each sink's queue. Returns false when a
   * sink asks the caller to slow down (overflow policy `block`) or the pipeline is closed.
   */
  push(event: PipelineEvent): boolean {
    this.#accepted++
    let ok = true
    for (let i = 0; i < this.#deliveries.length; i++) if (!this.#deliveries[i].enqueue(event)) ok = false
    for (let i = 0; i < this.#consumers.length; i++) {
      try {
        this.#consumers[i].offer(event)
      } catch (err) {
        this.emit('error', err as Error, { stage: 'consumer' })
      }
    }
    if (this.listenerCount('event') > 0) this.emit('event', event)
    return ok && this.#closed === undefined
  }

  /**
   * True when every sink whose overflow policy is `block` has room in its memory queue (callers
   * that got `false` from `push` wait for this). Sinks that spool or drop are not waited for: a
   * store that is down must not stall the others.
   */
  hasCapacity(): boolean {
    return this.#deliveries.every((d) => !d.blocks || d.hasCapacity)
  }

  /** Log one of the pipeline's own events (reports of drops and refusals) through every sink. */
  report(level: EventLogLevel, type: EventType, message: string, details: Record<string, unknown>): void {
    if (this.#closed) return
    const event = new LoggedEvent(
      newUlid(),
      type,
      level,
      false,
      nowTimestamp(this.#timestampMode),
      this.#source,
      safeJsonStringify({ message, madsci_events: details }),
      null,
      null,
    )
    this.#internal.add(event)
    this.push(event)
  }

  /** Resolves when every event accepted before the call is delivered, refused or dropped, in every sink. */
  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    const all = Promise.all(this.#deliveries.map((d) => d.flush())).then(() => undefined)
    if (options.timeoutMs === undefined) return all
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`flush() did not finish within ${options.timeoutMs} ms; events are still queued or spooled`)), options.timeoutMs)
    })
    try {
      await Promise.race([all, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Wait until every event accepted before the call is delivered, `timeoutMs` passes, or a store
   * is known to be down (waiting longer would only wait for its retries). True when all delivered.
   */
  async settle(options: { timeoutMs: number }): Promise<boolean> {
    const deadline = Date.now() + options.timeoutMs
    const done = await Promise.all(this.#deliveries.map((d) => d.settle(deadline)))
    return done.every(Boolean)
  }

  /**
   * Stop accepting events, deliver within `timeoutMs` (default 10 s, inside pino's exit window),
   * then spool what is left. Idempotent.
   */
  close(options: { timeoutMs?: number } = {}): Promise<CloseReport> {
    if (!this.#closed) {
      const deadline = Date.now() + (options.timeoutMs ?? 10_000)
      this.#closed = Promise.all(this.#deliveries.map((d) => d.close(deadline))).then((results) => {
        const spooled = results.reduce((a, r) => a + r.spooled, 0)
        const lost = results.reduce((a, r) => a + r.lost, 0)
        const stats = this.#deliveries.map((d) => d.stats())
        const delivered = stats.reduce((a, s) => a + s.delivered, 0)
        const spoolPendingBytes = stats.reduce((a, s) => a + (s.spool?.pendingBytes ?? 0), 0)
        return { delivered, spooled, lost, timedOut: Date.now() >= deadline, spoolPendingBytes }
      })
    }
    return this.#closed
  }

  get closed(): boolean {
    return this.#closed !== undefined
  }

  /** Work an exit would lose or leave undone (events in memory, records to deliver while the store answers). */
  get exitPending(): boolean {
    return this.#closed === undefined && this.#deliveries.some((d) => d.exitPending)
  }

  /**
   * The program is ending without `close()`: deliver within `timeoutMs` (less for a store known to
   * be down), write what is left to the spool (or the file), let go of connections. The pipeline
   * stays open: events logged afterwards are handled as usual.
   */
  async drain(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) {
      await this.#closed
      return
    }
    const deadline = Date.now() + (options.timeoutMs ?? 5000)
    const results = await Promise.all(this.#deliveries.map((d) => d.drain(deadline)))
    this.#sayExit(results, false)
  }

  /** Synchronous last resort for `process.on('exit')`: what is still in memory goes to the file or the spool. */
  saveSync(): void {
    this.#sayExit(
      this.#deliveries.map((d) => d.saveSync()),
      true,
    )
  }

  /** One line on stderr when events were left for the next process, or lost. */
  #sayExit(results: SavedAtExit[], atExit: boolean): void {
    const spooled = results.reduce((a, r) => a + r.spooled, 0)
    const lost = results.reduce((a, r) => a + r.lost, 0)
    const when = atExit ? 'at exit' : 'before the program ended'
    if (lost > 0) {
      const why = this.#deadLetterDir ? 'the spool could not take them' : 'no spool is configured'
      process.stderr.write(`madsci-events: ${lost} event(s) not delivered ${when} and lost (${why}); call logger.close() before exiting, or set a writable spool directory\n`)
    }
    if (spooled > 0) {
      process.stderr.write(`madsci-events: ${spooled} event(s) saved to the spool ${when} (${this.#deadLetterDir}); the next process using the same spool directory delivers them\n`)
    }
  }

  stats(): PipelineStats {
    const sinks = this.#deliveries.map((d) => d.stats())
    const dropped: Record<string, number> = {}
    for (const s of sinks) for (const [k, v] of Object.entries(s.dropped)) dropped[k] = (dropped[k] ?? 0) + v
    const sum = (f: (s: DeliveryStats) => number): number => sinks.reduce((a, s) => a + f(s), 0)
    return {
      accepted: this.#accepted,
      delivered: sum((s) => s.delivered),
      retried: sum((s) => s.retried),
      failed: sum((s) => s.failed),
      spooled: sum((s) => s.spooled),
      replayed: sum((s) => s.replayed),
      dropped,
      queueDepth: sum((s) => s.queueDepth),
      inFlight: sum((s) => s.inFlight),
      sinks,
    }
  }
}
