import { setMaxListeners } from 'node:events'
import { withDefaults } from '../config/defaults.js'
import { StoreRejectedError, StoreUnavailableError, isMadsciError } from '../errors.js'
import { parseEvent } from '../event/validate.js'
import type { PipelineEvent, Sink, WriteResult } from '../stores/types.js'
import type { InstanceStats } from '../stores/instances.js'
import { type BackoffOptions, DEFAULT_BACKOFF, retryDelay } from './backoff.js'
import { ByteQueue } from './queue.js'
import { eventBytes, pipelineEventJson } from './record.js'
import { Spool, type SpoolBatch, type SpoolMark, markReached } from './spool.js'
import { LatencyWindow } from './latency.js'

/**
 * One sink's delivery: its own bounded queue, batcher, sends in flight, retries and spool, so a
 * slow sink never stalls another.
 *
 * Order is FIFO across memory and disk: once the queue overflows into the spool, every new event
 * goes to the spool behind it until the spool is read back to its end; then the memory queue is
 * used again. With `spool.mode: 'always'` every event goes through the spool (a write-ahead log).
 */

export type OverflowPolicy = 'spool' | 'drop-oldest' | 'drop-newest' | 'block'

export interface DeliveryOptions {
  /** Events held in memory per sink. 10 000: ~10 MB for typical events, seconds of buffering at high rates. */
  maxQueueEvents: number
  /** Bytes held in memory per sink. 16 MiB keeps RSS bounded however large events are. */
  maxQueueBytes: number
  /** Events per batch. 1000: MongoDB's insertMany sweet spot; HTTP batch bodies stay under ~1 MiB. */
  maxBatchEvents: number
  /** Bytes per batch. 4 MiB: well under MongoDB's 48 MB message and typical proxy body limits. */
  maxBatchBytes: number
  /** A partial batch is sent after this long. 100 ms: near-real-time for alerts and live views. */
  flushIntervalMs: number
  /** Batches being sent at once. 4: overlaps network latency without flooding the store. */
  maxInFlight: number
  /** What happens when the queue is full. Default `spool` with a spool, else `drop-oldest`. */
  overflow: OverflowPolicy
  /** Retries for errors that are not "store unavailable" (bugs, unexpected answers) before a batch is failed. 5. */
  maxRetries: number
  backoff: BackoffOptions
}

export const DELIVERY_DEFAULTS: DeliveryOptions = {
  maxQueueEvents: 10_000,
  maxQueueBytes: 16 * 1024 * 1024,
  maxBatchEvents: 1000,
  maxBatchBytes: 4 * 1024 * 1024,
  flushIntervalMs: 100,
  maxInFlight: 4,
  overflow: 'drop-oldest',
  maxRetries: 5,
  backoff: DEFAULT_BACKOFF,
}

/** `block` keeps accepting past the bound (the logger returns `false`) up to this multiple, then drops. */
export const BLOCK_HARD_LIMIT_FACTOR = 4

export interface DeliveryStats {
  sink: string
  target: string
  accepted: number
  delivered: number
  retried: number
  failed: number
  spooled: number
  replayed: number
  dropped: Record<string, number>
  queueDepth: number
  queueBytes: number
  inFlight: number
  spooling: boolean
  /** `unwritten`: events handed to the spool but not in its file yet (`spooled - unwritten` are on disk). */
  spool?: { pendingBytes: number; segments: number; torn: number; corrupt: number; unwritten: number; error?: string }
  batchLatencyMs: { last: number; p50: number; p99: number; max: number; count: number }
  /** A sink spreading over several servers (an Event Manager sink given several URLs): per server. */
  instances?: InstanceStats[]
}

/** Callbacks into the pipeline (events on its bus, reports as MADSci events). */
export interface DeliveryHooks {
  onBatch(info: { sink: string; size: number; latencyMs: number; attempts: number; fromSpool: boolean }): void
  onError(err: Error, info: { sink: string; stage: string }): void
  onDrop(info: { sink: string; reason: string; count: number }): void
  onSpool(info: { sink: string; count: number }): void
  onRejected(events: readonly PipelineEvent[], err: Error, sink: string): void
  /** Events now stored by this sink (duplicates of stored ids included). */
  onDelivered(events: readonly PipelineEvent[], sink: string): void
  /** Called after a successful batch with the drops counted since the last report. */
  onDropsRecovered(info: { sink: string; dropped: Record<string, number>; since: number }): void
  /** The store stopped answering (the first failed attempt of an outage). `fate`: what happens to events meanwhile. */
  onOutage(info: { sink: string; target: string; reason: string; fate: string }): void
  /** The store answered again after an outage. */
  onRecovered(info: { sink: string; target: string; downForMs: number }): void
}

/** What a synchronous save (at exit) did with the events still in memory. */
export interface SavedAtExit {
  /** Written to the sink itself (a file sink). */
  written: number
  /** Written to the spool. */
  spooled: number
  /** Neither. */
  lost: number
}

interface Waiter {
  seq: number
  mark: SpoolMark | undefined
  resolve: () => void
}

interface InFlight {
  minSeq: number
  controller: AbortController
  /** The events while only memory holds them (not for a batch read from the spool, nor once written). */
  memory: PipelineEvent[] | undefined
}

/** A batch read from a spool: this delivery's own, or one left by an earlier process. */
interface FromSpool {
  spool: Spool
  batch: SpoolBatch
}

/**
 * A spool whose directory could not be opened (unwritable, not a directory, read-only file system).
 * The delivery works without it, counts what the spool would have taken as dropped (`spool_error`)
 * and opens it again when it needs it, at most once per `SPOOL_REOPEN_MS`.
 */
export interface DeferredSpool {
  error: Error
  open: () => Spool
}

/** How often a spool that could not be opened is tried again (when an event needs it). */
const SPOOL_REOPEN_MS = 1000

/**
 * An idle sink lets go of its connections after this long (`releaseWhenIdle`): a MongoDB client
 * keeps a finished program alive, so a script that logged and ended would never exit. One second
 * keeps a steady logger connected and ends a finished script soon after its last delivery.
 */
export const IDLE_RELEASE_MS = 1000

export interface DeliveryExtras {
  /** Spool slots left by earlier processes, adopted to be replayed (and closed once empty). */
  orphans?: Spool[]
  /** Let go of the sink's connections when idle (see IDLE_RELEASE_MS). */
  releaseWhenIdle?: boolean
}

export class Delivery {
  readonly sink: Sink
  readonly #opts: DeliveryOptions
  readonly #hooks: DeliveryHooks
  #spool: Spool | undefined
  #deferredSpool: DeferredSpool | undefined
  #spoolReopenAt = 0
  readonly #spoolMode: 'overflow' | 'always'
  #spoolAlways: boolean
  #queue = new ByteQueue<PipelineEvent>()
  #seqs: number[] = []
  #seqHead = 0
  #seq = 0
  #spooling: boolean
  #inFlight = new Set<InFlight>()
  #spoolReading = false
  #timer: NodeJS.Timeout | undefined
  #opened: Promise<void> | undefined
  #closing = false
  #closed = false
  #waiters: Waiter[] = []
  #pendingDrops: Record<string, number> = {}
  #pendingDropsSince = 0
  #latency = new LatencyWindow()
  #counts = { accepted: 0, delivered: 0, retried: 0, failed: 0, spooled: 0, replayed: 0 }
  #dropped: Record<string, number> = {}
  #immediate: NodeJS.Immediate | undefined
  #retryTimers = new Set<NodeJS.Timeout>()
  #spoolDamageSeen = 0
  /** Spool slots of earlier processes being replayed (oldest data first; closed once delivered). */
  #orphans: Spool[]
  /** The read in progress, if any (a drain waits for it before rewinding). */
  #spoolRead: Promise<void> | undefined
  /** The store is not answering: since when, and why (one notice per outage). */
  #outage: { since: number; reason: string } | undefined
  #outageWaiters: Array<() => void> = []
  #orphanWaiters: Array<() => void> = []
  /** Drained for exit: no background sends or replays until something new comes (an event, a flush). */
  #parked = false
  readonly #releaseWhenIdle: boolean
  #releaseTimer: NodeJS.Timeout | undefined

  constructor(
    sink: Sink,
    options: Partial<DeliveryOptions>,
    hooks: DeliveryHooks,
    spool?: Spool | DeferredSpool,
    spoolMode: 'overflow' | 'always' = 'overflow',
    extras: DeliveryExtras = {},
  ) {
    this.sink = sink
    this.#opts = withDefaults(DELIVERY_DEFAULTS, options)
    this.#hooks = hooks
    this.#spoolMode = spoolMode
    if (spool instanceof Spool) this.#spool = spool
    else if (spool) {
      this.#deferredSpool = spool
      this.#spoolReopenAt = Date.now() + SPOOL_REOPEN_MS
    }
    this.#orphans = extras.orphans ?? []
    this.#releaseWhenIdle = extras.releaseWhenIdle === true
    this.#spoolAlways = this.#spool !== undefined && spoolMode === 'always'
    // Records left by a previous process are delivered first.
    this.#spooling = this.#spoolAlways || (this.#spool !== undefined && !this.#spool.empty)
  }

  /**
   * The spool; if its directory could not be opened, try again now (at most once per
   * SPOOL_REOPEN_MS unless `force`). Once open it works as if it had opened at the start: what a
   * previous process left in it is replayed, and `always` mode takes every new event.
   */
  #openSpool(force = false): Spool | undefined {
    const deferred = this.#deferredSpool
    if (this.#spool || !deferred) return this.#spool
    const now = Date.now()
    if (!force && now < this.#spoolReopenAt) return undefined
    this.#spoolReopenAt = now + SPOOL_REOPEN_MS
    try {
      const spool = deferred.open()
      this.#spool = spool
      this.#deferredSpool = undefined
      this.#spoolAlways = this.#spoolMode === 'always'
      if (this.#spoolAlways || !spool.empty) this.#spooling = true
      if (!this.#closing) this.#schedule()
      return spool
    } catch (err) {
      deferred.error = err as Error
      this.#hooks.onError(err as Error, { sink: this.sink.kind, stage: 'spool-open' })
      return undefined
    }
  }

  get name(): string {
    return this.sink.kind
  }

  /** Hand an event to this sink. Synchronous; returns false when the caller should slow down. */
  enqueue(event: PipelineEvent): boolean {
    this.#counts.accepted++
    if (this.#closing) {
      this.#drop('closed', 1)
      return false
    }
    this.#parked = false
    const seq = ++this.#seq
    if (this.#spooling && this.#spool) {
      this.#toSpool([event])
      this.#schedule()
      return true
    }
    const size = eventBytes(event)
    const o = this.#opts
    if (this.#queue.length >= o.maxQueueEvents || this.#queue.bytes + size > o.maxQueueBytes) {
      switch (o.overflow) {
        case 'spool':
          if (this.#spool ?? this.#openSpool()) {
            this.#spooling = true
            this.#toSpool([event])
            this.#schedule()
            return true
          }
          // No spool: a directory that could not be opened counts as a spool that refused the write.
          this.#drop(this.#deferredSpool ? 'spool_error' : 'overflow', 1)
          return false
        case 'drop-newest':
          this.#drop('overflow', 1)
          return false
        case 'drop-oldest':
          this.#queue.shift()
          this.#seqHead++
          this.#drop('overflow', 1)
          break
        case 'block':
          if (this.#queue.length >= o.maxQueueEvents * BLOCK_HARD_LIMIT_FACTOR) {
            this.#drop('overflow', 1)
            return false
          }
          this.#push(event, size, seq)
          this.#schedule()
          return false
      }
    }
    this.#push(event, size, seq)
    if (this.#queue.length >= o.maxBatchEvents || this.#queue.bytes >= o.maxBatchBytes) this.#schedule()
    else if (!this.#timer) {
      this.#timer = setTimeout(this.#onTimer, o.flushIntervalMs)
      this.#timer.unref()
    }
    return true
  }

  #push(event: PipelineEvent, size: number, seq: number): void {
    this.#queue.push(event, size)
    this.#seqs.push(seq)
  }

  #onTimer = (): void => {
    this.#timer = undefined
    this.#pump(true)
  }

  /** True when the memory queue has room (for `block` backpressure). */
  get hasCapacity(): boolean {
    return this.#queue.length < this.#opts.maxQueueEvents && this.#queue.bytes < this.#opts.maxQueueBytes
  }

  /** True when this sink's overflow policy is `block` (callers wait for its capacity). */
  get blocks(): boolean {
    return this.#opts.overflow === 'block'
  }

  /** Wake the sender (the spool calls this when records reach the disk). */
  poke(): void {
    if (!this.#closing || this.#waiters.length) this.#schedule()
  }

  #schedule(): void {
    if (this.#immediate) return
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined
      this.#pump(false)
    })
  }

  #toSpool(events: readonly PipelineEvent[]): void {
    const spool = this.#spool as Spool
    try {
      spool.append(events.map((e) => pipelineEventJson(e)))
      this.#counts.spooled += events.length
      this.#hooks.onSpool({ sink: this.sink.kind, count: events.length })
    } catch (err) {
      this.#hooks.onError(err as Error, { sink: this.sink.kind, stage: 'spool' })
      this.#drop((err as Error).message.includes('full') ? 'spool_full' : 'spool_error', events.length)
    }
  }

  #drop(reason: string, count: number): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + count
    if (Object.keys(this.#pendingDrops).length === 0) this.#pendingDropsSince = Date.now()
    this.#pendingDrops[reason] = (this.#pendingDrops[reason] ?? 0) + count
    this.#hooks.onDrop({ sink: this.sink.kind, reason, count })
    this.#checkWaiters()
  }

  #pump(partial: boolean): void {
    const o = this.#opts
    if (this.#parked) return
    while (this.#inFlight.size < o.maxInFlight) {
      const q = this.#queue
      if (q.length > 0) {
        const full = q.length >= o.maxBatchEvents || q.bytes >= o.maxBatchBytes
        if (!full && !partial && !this.#closing && this.#waiters.length === 0) break
        const batch = q.take(o.maxBatchEvents, o.maxBatchBytes)
        const minSeq = this.#seqs[this.#seqHead]
        this.#seqHead += batch.length
        if (this.#seqHead > 4096 && this.#seqHead * 2 > this.#seqs.length) {
          this.#seqs = this.#seqs.slice(this.#seqHead)
          this.#seqHead = 0
        }
        this.#send(batch, undefined, minSeq)
        continue
      }
      const source = this.#replaySource()
      if (source) {
        if (!this.#spoolReading) this.#readSpool(source)
        break
      }
      if (this.#spool && this.#spooling) {
        if (this.#spool.drained) {
          if (!this.#spoolAlways && this.#queue.length === 0) this.#spooling = false
          break
        }
        if (!this.#spoolReading) this.#readSpool(this.#spool)
        break
      }
      break
    }
    if (this.#queue.length > 0 && !this.#timer) {
      this.#timer = setTimeout(this.#onTimer, o.flushIntervalMs)
      this.#timer.unref()
    }
    this.#maybeRelease()
  }

  /** An earlier process's spool slot with records still to read; one fully delivered is closed (its files go). */
  #replaySource(): Spool | undefined {
    while (this.#orphans.length) {
      const orphan = this.#orphans[0]
      if (!orphan.drained) return orphan
      if (!orphan.empty) return undefined // the last batches are being delivered
      this.#orphans.shift()
      void orphan.close()
    }
    for (const w of this.#orphanWaiters.splice(0)) w()
    return undefined
  }

  /** Resolves when the spools of earlier processes are delivered (at once when there are none). */
  #orphansDone(): Promise<void> {
    if (this.#orphans.length === 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.#orphanWaiters.push(resolve)
      this.#pump(true)
    })
  }

  #readSpool(spool: Spool): void {
    this.#spoolReading = true
    // Damage is counted per spool; the own spool's running total is tracked (orphans count once each).
    const damagedBefore = spool === this.#spool ? this.#spoolDamageSeen : spool.stats.torn + spool.stats.corrupt
    this.#spoolRead = spool
      .read(this.#opts.maxBatchEvents, this.#opts.maxBatchBytes)
      .then((batch) => {
        this.#spoolReading = false
        const st = spool.stats
        const damaged = st.torn + st.corrupt
        if (damaged > damagedBefore) {
          this.#drop('spool_damaged', damaged - damagedBefore)
          if (spool === this.#spool) this.#spoolDamageSeen = damaged
        }
        if (batch) {
          const events: PipelineEvent[] = []
          for (const record of batch.records) {
            try {
              events.push(parseEvent(JSON.parse(record)))
            } catch (err) {
              this.#hooks.onError(err as Error, { sink: this.sink.kind, stage: 'spool-replay' })
              this.#drop('spool_corrupt', 1)
            }
          }
          this.#counts.replayed += batch.records.length
          this.#send(events, { spool, batch }, Number.POSITIVE_INFINITY)
          this.#pump(true)
        } else if (spool !== this.#spool) this.#pump(true) // an orphan read to its end: the next source
        // Nothing readable yet (still in the write buffer): the spool pokes us when it lands.
      })
      .catch((err) => {
        this.#spoolReading = false
        this.#hooks.onError(err as Error, { sink: this.sink.kind, stage: 'spool-read' })
        const t = setTimeout(() => {
          this.#retryTimers.delete(t)
          this.#pump(true)
        }, 1000)
        t.unref()
        this.#retryTimers.add(t)
      })
      .finally(() => {
        this.#spoolRead = undefined
      })
  }

  #open(): Promise<void> {
    if (!this.#opened) {
      this.#opened = this.sink.open().catch((err) => {
        this.#opened = undefined
        throw err
      })
    }
    return this.#opened
  }

  #send(events: PipelineEvent[], fromSpool: FromSpool | undefined, minSeq: number): void {
    const controller = new AbortController()
    // One signal serves every request of the batch (single-POST mode sends many at once).
    setMaxListeners(0, controller.signal)
    const entry: InFlight = { minSeq, controller, memory: fromSpool ? undefined : events }
    this.#inFlight.add(entry)
    const started = performance.now()
    this.#deliver(events, entry)
      .then(({ attempts, delivered }) => {
        if (entry.controller.signal.aborted) return
        if (fromSpool) fromSpool.spool.ack(fromSpool.batch)
        this.#latency.add(performance.now() - started)
        this.#hooks.onBatch({ sink: this.sink.kind, size: events.length, latencyMs: performance.now() - started, attempts, fromSpool: !!fromSpool })
        if (delivered > 0 && Object.keys(this.#pendingDrops).length > 0) {
          const dropped = this.#pendingDrops
          const since = this.#pendingDropsSince
          this.#pendingDrops = {}
          this.#hooks.onDropsRecovered({ sink: this.sink.kind, dropped, since })
          // The report is logged synchronously through this sink too. If this sink dropped it (its
          // spool still refuses writes), keep the counts for the next report instead of losing them.
          if (Object.keys(this.#pendingDrops).length > 0) {
            for (const [reason, n] of Object.entries(dropped)) this.#pendingDrops[reason] = (this.#pendingDrops[reason] ?? 0) + n
            this.#pendingDropsSince = since
          }
        }
      })
      .catch((err) => {
        // Aborted by close(): the events are spooled (or counted) by close itself.
        if (!entry.controller.signal.aborted) this.#hooks.onError(err as Error, { sink: this.sink.kind, stage: 'deliver' })
      })
      .finally(() => {
        this.#inFlight.delete(entry)
        this.#checkWaiters()
        if (!entry.controller.signal.aborted) this.#pump(true)
      })
  }

  /** Write a batch until it is stored, refused for good, or the delivery is aborted. */
  async #deliver(events: PipelineEvent[], entry: InFlight): Promise<{ attempts: number; delivered: number }> {
    const signal = entry.controller.signal
    let attempt = 0
    let otherFailures = 0
    for (;;) {
      if (signal.aborted) throw signal.reason ?? new Error('aborted')
      attempt++
      try {
        let result: WriteResult
        if (this.sink.writeSync) {
          result = this.sink.writeSync(events)
          // On disk now: an exit from here on must not write them again.
          entry.memory = undefined
        } else {
          await this.#open()
          result = await this.sink.write(events, signal)
        }
        this.#up()
        this.#counts.delivered += result.delivered
        if (result.rejected.length === 0) this.#hooks.onDelivered(events, this.sink.kind)
        else {
          const refused = new Set(result.rejected.map((r) => r.event))
          this.#hooks.onDelivered(events.filter((e) => !refused.has(e)), this.sink.kind)
        }
        if (result.rejected.length) {
          this.#counts.failed += result.rejected.length
          const byError = new Map<Error, PipelineEvent[]>()
          for (const r of result.rejected) {
            const list = byError.get(r.error) ?? []
            list.push(r.event)
            byError.set(r.error, list)
          }
          for (const [err, list] of byError) this.#hooks.onRejected(list, err, this.sink.kind)
        }
        return { attempts: attempt, delivered: result.delivered }
      } catch (err) {
        if (signal.aborted) throw err
        if (err instanceof StoreRejectedError) {
          this.#counts.failed += events.length
          this.#hooks.onRejected(events, err, this.sink.kind)
          return { attempts: attempt, delivered: 0 }
        }
        const unavailable = err instanceof StoreUnavailableError
        if (unavailable) this.#down(err)
        else {
          otherFailures++
          if (otherFailures > this.#opts.maxRetries) {
            this.#counts.failed += events.length
            this.#hooks.onRejected(events, err as Error, this.sink.kind)
            return { attempts: attempt, delivered: 0 }
          }
        }
        if (attempt === 1 || attempt % 10 === 0 || !isMadsciError(err)) {
          this.#hooks.onError(err as Error, { sink: this.sink.kind, stage: 'write' })
        }
        this.#counts.retried++
        const delay = retryDelay(attempt - 1, this.#opts.backoff, unavailable ? (err as StoreUnavailableError).retryAfterMs : undefined)
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            this.#retryTimers.delete(t)
            signal.removeEventListener('abort', onAbort)
            resolve()
          }, delay)
          // A retry never keeps the process alive: a program that ends while the store is down
          // exits, and its exit path spools what is left.
          t.unref()
          this.#retryTimers.add(t)
          const onAbort = (): void => {
            clearTimeout(t)
            this.#retryTimers.delete(t)
            resolve()
          }
          signal.addEventListener('abort', onAbort, { once: true })
        })
      }
    }
  }

  #isDone(w: Waiter): boolean {
    if (this.#queue.length > 0 && this.#seqs[this.#seqHead] <= w.seq) return false
    for (const f of this.#inFlight) if (f.minSeq <= w.seq) return false
    if (w.mark && this.#spool && !markReached(this.#spool.ackMark, w.mark)) return false
    return true
  }

  #checkWaiters(): void {
    if (this.#waiters.length === 0) return
    const still: Waiter[] = []
    for (const w of this.#waiters) {
      if (this.#isDone(w)) w.resolve()
      else still.push(w)
    }
    this.#waiters = still
  }

  /** Resolves when every event enqueued before the call is delivered, refused or dropped. */
  flush(): Promise<void> {
    this.#parked = false
    const waiter: Waiter = { seq: this.#seq, mark: this.#spool && !this.#spool.empty ? this.#spool.writeMark : undefined, resolve: () => {} }
    if (this.#isDone(waiter)) return Promise.resolve()
    const p = new Promise<void>((resolve) => {
      waiter.resolve = resolve
    })
    this.#waiters.push(waiter)
    this.#pump(true)
    return p
  }

  // ------------------------------------------------------------------ outages

  #down(err: Error): void {
    if (this.#outage) return
    this.#outage = { since: Date.now(), reason: err.message }
    this.#hooks.onOutage({ sink: this.sink.kind, target: this.sink.target, reason: err.message, fate: this.#fate() })
    for (const w of this.#outageWaiters.splice(0)) w()
  }

  #up(): void {
    if (!this.#outage) return
    const downForMs = Date.now() - this.#outage.since
    this.#outage = undefined
    this.#hooks.onRecovered({ sink: this.sink.kind, target: this.sink.target, downForMs })
  }

  /** Resolves when the store is known to be down (at once if it is already). */
  #whenDown(): Promise<void> {
    if (this.#outage) return Promise.resolve()
    return new Promise((resolve) => this.#outageWaiters.push(resolve))
  }

  /** What happens to events while the store does not answer, in words, for the outage notice. */
  #fate(): string {
    const o = this.#opts
    const spool = this.#spool
    const where = spool ? spool.dir : this.#deferredSpool ? 'the spool (its directory cannot be opened now)' : undefined
    if (spool && this.#spoolAlways) return `events go to the spool ${where} and are delivered when it is back`
    const held = `events are kept in memory (up to ${o.maxQueueEvents.toLocaleString('en')})`
    if (where && o.overflow === 'spool') return `${held}, then written to the spool ${where}; it is retried, and what is not delivered at exit is spooled for the next run`
    const beyond = o.overflow === 'block' ? 'the caller is asked to slow down, then events are dropped' : o.overflow === 'drop-newest' ? 'new events are dropped' : 'the oldest are dropped'
    const atExit = where ? `what is not delivered at exit is written to the spool ${where}` : 'what is not delivered at exit is lost (no spool is configured)'
    return `${held} and retried; beyond that ${beyond}; ${atExit}`
  }

  /**
   * Wait until everything enqueued so far is delivered, the deadline (epoch ms) passes, or the
   * store is known to be down. True when everything was delivered.
   */
  settle(deadline: number): Promise<boolean> {
    return this.#settle(deadline)
  }

  async #settle(deadline: number): Promise<boolean> {
    let delivered = false
    const remaining = deadline - Date.now()
    if (remaining > 0 && !this.#outage) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.all([this.flush(), this.#orphansDone()]).then(() => {
          delivered = true
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, remaining)
        }),
        this.#whenDown(),
      ])
      clearTimeout(timer)
    }
    return delivered || this.#idleNow()
  }

  /** Nothing in memory, in flight or unread in the spools. */
  #idleNow(): boolean {
    return (
      this.#queue.length === 0 &&
      this.#inFlight.size === 0 &&
      !this.#spoolReading &&
      (!this.#spool || this.#spool.empty) &&
      this.#orphans.every((o) => o.empty)
    )
  }

  /**
   * Give up on what is being sent: abort the sends in flight; the events only memory holds (the
   * queue, and batches in flight that came from it) are returned, in order. Batches read from a
   * spool stay there (they are read again: the spools are rewound).
   */
  async #abandon(): Promise<PipelineEvent[]> {
    if (this.#spoolRead) await this.#spoolRead.catch(() => undefined)
    const leftovers: PipelineEvent[] = []
    for (const f of this.#inFlight) {
      f.controller.abort(new Error('closed before delivery finished'))
      if (f.memory) leftovers.push(...f.memory)
      f.memory = undefined
    }
    this.#inFlight.clear()
    leftovers.push(...this.#queue.drain())
    this.#seqs = []
    this.#seqHead = 0
    for (const t of this.#retryTimers) clearTimeout(t)
    this.#retryTimers.clear()
    this.#spool?.rewind()
    for (const o of this.#orphans) o.rewind()
    this.#checkWaiters()
    return leftovers
  }

  /**
   * Put events only memory holds somewhere that survives the process, synchronously: the sink
   * itself when it can write synchronously (a file), else the spool; what neither takes is
   * counted as lost.
   */
  #saveEvents(events: PipelineEvent[], reason: string, atExit: boolean): SavedAtExit {
    const out: SavedAtExit = { written: 0, spooled: 0, lost: 0 }
    if (events.length === 0) return out
    if (this.sink.writeSync) {
      try {
        const result = this.sink.writeSync(events)
        this.#counts.delivered += result.delivered
        this.#hooks.onDelivered(events, this.sink.kind)
        out.written = events.length
        return out
      } catch (err) {
        this.#hooks.onError(err as Error, { sink: this.sink.kind, stage: 'write' })
      }
    }
    const spool = this.#spool ?? this.#openSpool(true)
    if (spool && atExit) {
      const saved = spool.appendSync(events.map((e) => pipelineEventJson(e)))
      this.#counts.spooled += saved
      out.spooled = saved
      out.lost = events.length - saved
      if (out.lost > 0) this.#drop('spool_error', out.lost)
    } else if (spool) {
      // Appended as any spooled event (refusals counted as drops); what the disk then refuses to
      // the end is counted when the spool closes (`unwritten`).
      const before = this.#counts.spooled
      this.#toSpool(events)
      out.spooled = this.#counts.spooled - before
      out.lost = events.length - out.spooled
    } else {
      out.lost = events.length
      this.#drop(this.#deferredSpool ? 'spool_error' : reason, out.lost)
    }
    return out
  }

  /** Write what the spools hold to a sink that writes synchronously; stops at the first refusal. Returns how many. */
  #replaySync(): number {
    let written = 0
    for (const spool of [...this.#orphans, this.#spool]) {
      if (!spool) continue
      // From the cursor: a batch read but not yet written (its write was to come) is read again.
      spool.rewind()
      for (;;) {
        const batch = spool.readSync(this.#opts.maxBatchEvents, this.#opts.maxBatchBytes)
        if (!batch) break
        const events: PipelineEvent[] = []
        for (const record of batch.records) {
          try {
            events.push(parseEvent(JSON.parse(record)))
          } catch {
            this.#drop('spool_corrupt', 1)
          }
        }
        try {
          const result = (this.sink.writeSync as NonNullable<Sink['writeSync']>)(events)
          this.#counts.delivered += result.delivered
          this.#counts.replayed += batch.records.length
        } catch {
          return written // left in the spool for the next process
        }
        spool.ack(batch)
        written += events.length
      }
    }
    return written
  }

  /** Records this process handed to its spool that are not in the file yet are written now. */
  #flushSpoolSync(): number {
    const spool = this.#spool
    if (!spool) return 0
    const buffered = spool.buffered
    spool.appendSync([])
    return buffered - spool.buffered
  }

  /**
   * Work an exit would lose or leave undone: events in memory, or records in a spool to deliver
   * while the store answers. False once drained for exit, until something new comes.
   */
  get exitPending(): boolean {
    if (this.#closing) return false
    if (this.#queue.length > 0 || (this.#spool?.buffered ?? 0) > 0) return true
    for (const f of this.#inFlight) if (f.memory) return true
    if (this.#parked || this.#outage) return false
    return this.#inFlight.size > 0 || this.#spoolReading || (this.#spool !== undefined && !this.#spool.empty) || this.#orphans.some((o) => !o.empty)
  }

  /**
   * The program is ending (its event loop ran dry, or a signal): deliver until `deadline` (epoch
   * ms), or less if the store is known to be down; write what only memory holds to the spool (or
   * the file); stop background sends and replays (the next process replays the spool), and let go
   * of the connections so the process can end. The delivery stays usable: a new event wakes it.
   */
  async drain(deadline: number): Promise<SavedAtExit> {
    if (this.#closing) return { written: 0, spooled: 0, lost: 0 }
    this.#parked = false
    let saved: SavedAtExit = { written: 0, spooled: 0, lost: 0 }
    if (!(await this.#settle(deadline))) saved = this.#saveEvents(await this.#abandon(), 'shutdown', false)
    this.#flushSpoolSync()
    this.#parked = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#release()
    return saved
  }

  /** Release the sink's connections now (when it has a way to), cancelling a pending idle release. */
  async #release(): Promise<void> {
    if (this.#releaseTimer) clearTimeout(this.#releaseTimer)
    this.#releaseTimer = undefined
    try {
      await this.sink.release?.()
    } catch (err) {
      this.#hooks.onError(err as Error, { sink: this.sink.kind, stage: 'release' })
    }
  }

  /** When idle (and allowed to), let go of the connections after IDLE_RELEASE_MS of idleness. */
  #maybeRelease(): void {
    if (!this.#releaseWhenIdle || !this.sink.release || this.#releaseTimer || this.#closing || !this.#idleNow()) return
    this.#releaseTimer = setTimeout(() => {
      this.#releaseTimer = undefined
      if (this.#idleNow() && !this.#closing) void this.#release()
    }, IDLE_RELEASE_MS)
    this.#releaseTimer.unref()
  }

  /**
   * Stop accepting, deliver what can be delivered within `deadline` (epoch ms) — not waiting at
   * all while the store is known to be down — then spool the rest (or count it as lost when there
   * is no spool). Returns how many were spooled and lost.
   */
  async close(deadline: number): Promise<{ spooled: number; lost: number }> {
    if (this.#closing) throw new Error('Delivery.close() called twice')
    this.#closing = true
    this.#parked = false
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#releaseTimer) clearTimeout(this.#releaseTimer)
    this.#releaseTimer = undefined
    const done = await this.#settle(deadline)
    let spooled = 0
    let lost = 0
    if (!done) {
      const saved = this.#saveEvents(await this.#abandon(), 'shutdown', false)
      spooled = saved.spooled
      lost = saved.lost
    }
    for (const t of this.#retryTimers) clearTimeout(t)
    this.#retryTimers.clear()
    if (this.#immediate) clearImmediate(this.#immediate)
    if (this.#spool) {
      await this.#spool.close()
      // Records the disk refused to the end (full, or over a file-size limit) are lost: say so.
      const unwritten = this.#spool.stats.unwritten
      if (unwritten > 0) {
        lost += unwritten
        spooled = Math.max(0, spooled - unwritten)
        this.#drop('spool_error', unwritten)
      }
    }
    for (const o of this.#orphans) await o.close()
    try {
      // After a timeout, requests may still hang (a stalled server): don't wait for them.
      await this.sink.close({ force: !done })
    } catch (err) {
      this.#hooks.onError(err as Error, { sink: this.sink.kind, stage: 'close' })
    }
    for (const w of this.#waiters) w.resolve()
    this.#waiters = []
    this.#closed = true
    return { spooled, lost }
  }

  /**
   * Synchronous last resort for `process.on('exit')`: write everything still in memory to the
   * file sink or the spool, and what the spool holds in its buffer to its file.
   */
  saveSync(): SavedAtExit {
    // While closing (close() not awaited before process.exit), what it has not saved yet is saved here.
    if (this.#closed) return { written: 0, spooled: 0, lost: 0 }
    const leftovers: PipelineEvent[] = []
    for (const f of this.#inFlight) if (f.memory) leftovers.push(...f.memory)
    leftovers.push(...this.#queue.drain())
    const buffered = this.#flushSpoolSync()
    const saved = this.#saveEvents(leftovers, 'shutdown', true)
    saved.spooled += buffered
    // A sink that writes synchronously (the file) takes what the spools hold now, not next run.
    if (this.sink.writeSync) {
      const replayed = this.#replaySync()
      saved.written += replayed
      saved.spooled = Math.max(0, saved.spooled - replayed)
    }
    // The process ends: the cursor is saved and the lock released (an empty spool leaves no files).
    this.#spool?.closeSync()
    for (const o of this.#orphans) o.closeSync()
    return saved
  }

  stats(): DeliveryStats {
    const s = this.#spool?.stats
    const out: DeliveryStats = {
      sink: this.sink.kind,
      target: this.sink.target,
      ...this.#counts,
      dropped: { ...this.#dropped },
      queueDepth: this.#queue.length,
      queueBytes: this.#queue.bytes,
      inFlight: this.#inFlight.size,
      spooling: this.#spooling,
      batchLatencyMs: this.#latency.summary(),
    }
    const instances = this.sink.instances?.()
    if (instances) out.instances = instances
    if (s) {
      // What earlier processes left in slots of their own counts as pending too (it is replayed).
      let pendingBytes = s.pendingBytes
      for (const o of this.#orphans) pendingBytes += o.stats.pendingBytes
      out.spool = { pendingBytes, segments: s.segments, torn: s.torn, corrupt: s.corrupt, unwritten: s.unwritten }
      if (this.#spool?.error) out.spool.error = this.#spool.error.message
    } else if (this.#deferredSpool) {
      out.spool = { pendingBytes: 0, segments: 0, torn: 0, corrupt: 0, unwritten: 0, error: this.#deferredSpool.error.message }
    }
    return out
  }
}
