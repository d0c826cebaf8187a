import { setMaxListeners } from 'node:events'
import { withDefaults } from '../config/defaults.js'
import { StoreRejectedError, StoreUnavailableError, isMadsciError } from '../errors.js'
import { parseEvent } from '../event/validate.js'
import type { PipelineEvent, Sink } from '../stores/types.js'
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
}

interface Waiter {
  seq: number
  mark: SpoolMark | undefined
  resolve: () => void
}

interface InFlight {
  minSeq: number
  controller: AbortController
  memory: PipelineEvent[] | undefined
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
  #waiters: Waiter[] = []
  #pendingDrops: Record<string, number> = {}
  #pendingDropsSince = 0
  #latency = new LatencyWindow()
  #counts = { accepted: 0, delivered: 0, retried: 0, failed: 0, spooled: 0, replayed: 0 }
  #dropped: Record<string, number> = {}
  #immediate: NodeJS.Immediate | undefined
  #retryTimers = new Set<NodeJS.Timeout>()
  #spoolDamageSeen = 0

  constructor(sink: Sink, options: Partial<DeliveryOptions>, hooks: DeliveryHooks, spool?: Spool | DeferredSpool, spoolMode: 'overflow' | 'always' = 'overflow') {
    this.sink = sink
    this.#opts = withDefaults(DELIVERY_DEFAULTS, options)
    this.#hooks = hooks
    this.#spoolMode = spoolMode
    if (spool instanceof Spool) this.#spool = spool
    else if (spool) {
      this.#deferredSpool = spool
      this.#spoolReopenAt = Date.now() + SPOOL_REOPEN_MS
    }
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
      if (this.#spool && this.#spooling) {
        if (this.#spool.drained) {
          if (!this.#spoolAlways && this.#queue.length === 0) this.#spooling = false
          break
        }
        if (!this.#spoolReading) this.#readSpool()
        break
      }
      break
    }
    if (this.#queue.length > 0 && !this.#timer) {
      this.#timer = setTimeout(this.#onTimer, o.flushIntervalMs)
      this.#timer.unref()
    }
  }

  #readSpool(): void {
    const spool = this.#spool as Spool
    this.#spoolReading = true
    spool
      .read(this.#opts.maxBatchEvents, this.#opts.maxBatchBytes)
      .then((batch) => {
        this.#spoolReading = false
        const st = spool.stats
        const damaged = st.torn + st.corrupt
        if (damaged > this.#spoolDamageSeen) {
          this.#drop('spool_damaged', damaged - this.#spoolDamageSeen)
          this.#spoolDamageSeen = damaged
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
          this.#send(events, batch, Number.POSITIVE_INFINITY)
          this.#pump(true)
        }
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

  #send(events: PipelineEvent[], fromSpool: SpoolBatch | undefined, minSeq: number): void {
    const controller = new AbortController()
    // One signal serves every request of the batch (single-POST mode sends many at once).
    setMaxListeners(0, controller.signal)
    const entry: InFlight = { minSeq, controller, memory: fromSpool ? undefined : events }
    this.#inFlight.add(entry)
    const started = performance.now()
    this.#deliver(events, entry)
      .then(({ attempts, delivered }) => {
        if (entry.controller.signal.aborted) return
        if (fromSpool) (this.#spool as Spool).ack(fromSpool)
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
        await this.#open()
        const result = await this.sink.write(events, signal)
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
        if (!unavailable) {
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
    const waiter: Waiter = { seq: this.#seq, mark: this.#spool && !this.#spool.empty ? this.#spool.writeMark : undefined, resolve: () => {} }
    if (this.#isDone(waiter)) return Promise.resolve()
    const p = new Promise<void>((resolve) => {
      waiter.resolve = resolve
    })
    this.#waiters.push(waiter)
    this.#pump(true)
    return p
  }

  /**
   * Stop accepting, deliver what can be delivered within `deadline` (epoch ms), then spool the
   * rest (or count it as lost when there is no spool). Returns how many were spooled and lost.
   */
  async close(deadline: number): Promise<{ spooled: number; lost: number }> {
    this.#closing = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    const remaining = deadline - Date.now()
    let timedOut = false
    if (remaining > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        this.flush(),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            timedOut = true
            resolve()
          }, remaining)
        }),
      ])
      clearTimeout(timer)
    } else timedOut = true
    let spooled = 0
    let lost = 0
    if (timedOut) {
      // Abort sends in flight; their events and the queue go to the spool.
      const leftovers: PipelineEvent[] = []
      for (const f of this.#inFlight) {
        f.controller.abort(new Error('closed before delivery finished'))
        if (f.memory) leftovers.push(...f.memory)
        f.memory = undefined
      }
      leftovers.push(...this.#queue.drain())
      this.#seqs = []
      this.#seqHead = 0
      if (leftovers.length) {
        if (this.#spool ?? this.#openSpool(true)) {
          const before = this.#counts.spooled
          this.#toSpool(leftovers)
          spooled = this.#counts.spooled - before
          lost = leftovers.length - spooled
        } else {
          lost = leftovers.length
          this.#drop(this.#deferredSpool ? 'spool_error' : 'shutdown', lost)
        }
      }
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
    try {
      // After a timeout, requests may still hang (a stalled server): don't wait for them.
      await this.sink.close({ force: timedOut })
    } catch (err) {
      this.#hooks.onError(err as Error, { sink: this.sink.kind, stage: 'close' })
    }
    for (const w of this.#waiters) w.resolve()
    this.#waiters = []
    return { spooled, lost }
  }

  /**
   * Synchronous last resort for `process.on('exit')`: write everything still in memory to the
   * spool. Returns how many events were saved and how many are lost (no spool).
   */
  saveSync(): { saved: number; lost: number } {
    const leftovers: PipelineEvent[] = []
    for (const f of this.#inFlight) if (f.memory) leftovers.push(...f.memory)
    leftovers.push(...this.#queue.drain())
    if (leftovers.length === 0) return { saved: 0, lost: 0 }
    const spool = this.#spool ?? this.#openSpool(true)
    if (!spool) return { saved: 0, lost: leftovers.length }
    const saved = spool.appendSync(leftovers.map((e) => pipelineEventJson(e)))
    return { saved, lost: leftovers.length - saved }
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
      out.spool = { pendingBytes: s.pendingBytes, segments: s.segments, torn: s.torn, corrupt: s.corrupt, unwritten: s.unwritten }
      if (this.#spool?.error) out.spool.error = this.#spool.error.message
    } else if (this.#deferredSpool) {
      out.spool = { pendingBytes: 0, segments: 0, torn: 0, corrupt: 0, unwritten: 0, error: this.#deferredSpool.error.message }
    }
    return out
  }
}
