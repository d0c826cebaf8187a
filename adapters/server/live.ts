import type { Event } from '../../src/event/model.js'
import { parseLevel } from '../../src/event/levels.js'
import { parseEventType } from '../../src/event/types.js'
import { ulidLowerBound, ulidTime } from '../../src/event/ulid.js'
import type { Reader } from '../../src/stores/types.js'
import { MongoStore } from '../../src/stores/mongo.js'
import { documentToEvent } from '../../src/event/serialize.js'
import { makeWarning, type WarningListener } from '../../src/warnings.js'
import { validationError } from './http.js'

/**
 * The live stream behind `GET /events/stream` (SSE) and `/events/ws` (WebSocket).
 *
 * - Events this instance ingests arrive from the pipeline's bus at once.
 * - Events other instances ingest into the same MongoDB arrive through a change stream, or, where
 *   the server has none (FerretDB v1), by polling `_id` order with a look-back (5 s, or the ingest
 *   timeout + 2 s: what a client stores elsewhere after it gave up on an instance is that late; ids from other
 *   clocks may arrive slightly out of order); duplicates are dropped by id. Polls are skipped while
 *   no client listens; a resume from an id buffered before the last skipped poll also reads the store.
 * - Polling a store other writers share (a poll found events this instance did not ingest; from
 *   then on for the instance's life), the store is the only source while clients listen: every
 *   instance sends what its polls read, in rounds (one per poll) in id order, its own ingest
 *   included once stored. Sending its own events at once put them ahead of events their producers
 *   had stored earlier through another instance, so each instance had its own order, and a client
 *   resuming elsewhere by last id got events twice or missed some. Events created less than
 *   `orderWindowMs` before a poll wait for the next round, so events that reach the store within
 *   that time go out in the same (id) order everywhere.
 * - The last `capacity` events are kept in arrival order: a client reconnecting with
 *   `Last-Event-ID` gets everything after that id from memory, exactly, even if ids arrived out of
 *   order. An id older than the buffer is resumed from the store by id order instead.
 * - Every id published recently is remembered apart from the buffer (for as long as a poll can
 *   read it again, or a change stream can echo it), so an event is published once even when the
 *   buffer is small or the ingest rate high.
 */

export interface LiveFilter {
  minLevel: number
  types: Set<string> | undefined
  source: Record<string, string>
  alertsOnly: boolean
}

export function matches(f: LiveFilter, e: Event): boolean {
  if (e.log_level < f.minLevel) return false
  if (f.alertsOnly && !e.alert) return false
  if (f.types && !f.types.has(e.event_type)) return false
  for (const [k, v] of Object.entries(f.source)) if ((e.source as Record<string, string>)[k] !== v) return false
  return true
}

/** Filters from query parameters: `min_level`, `event_type` (comma list), `source.<field>`, `alerts_only`. */
export function filterFromQuery(q: URLSearchParams): LiveFilter {
  const issues = []
  let minLevel = 0
  const ml = q.get('min_level') ?? q.get('level')
  if (ml !== null) {
    const l = parseLevel(ml, { aliases: true }) ?? (/^\d+$/.test(ml) ? Number(ml) : undefined)
    if (l === undefined) issues.push({ type: 'enum', loc: ['query', 'min_level'], msg: 'Input should be a level number or name', input: ml })
    else minLevel = l
  }
  let types: Set<string> | undefined
  const t = q.getAll('event_type').flatMap((v) => v.split(',')).filter(Boolean)
  if (t.length) {
    types = new Set()
    for (const name of t) {
      const parsed = parseEventType(name.trim())
      if (!parsed) issues.push({ type: 'enum', loc: ['query', 'event_type'], msg: 'Input should be a MADSci event type', input: name })
      else types.add(parsed)
    }
  }
  const source: Record<string, string> = {}
  for (const [k, v] of q) if (k.startsWith('source.')) source[k.slice(7)] = v
  const ao = q.get('alerts_only')
  if (issues.length) throw validationError(issues)
  return { minLevel, types, source, alertsOnly: ao === 'true' || ao === '1' }
}

/** A replay fell more than the buffer size behind the live events: the client should reconnect and resume. */
export class LiveOverflowError extends Error {
  constructor(capacity: number) {
    super(`more than ${capacity} live events arrived while this client caught up; reconnect with its last event id to resume`)
    this.name = 'LiveOverflowError'
  }
}

export type LiveSend = (event: Event) => void
/** Writes one replayed event, waiting for the client to read if needed; false when the client is gone. */
export type LiveReplay = (event: Event) => boolean | Promise<boolean>

interface Subscriber {
  filter: LiveFilter
  send: LiveSend
  /** Resumed after this id: also gets history a catch-up poll finds after it (its replay may have been read before that history was stored). */
  after?: string
}

export interface LiveHubOptions {
  capacity: number
  pollIntervalMs: number
  /** Shared store, polling: events created less than this before a poll wait for the next round (see above). Default 0. */
  orderWindowMs?: number
  /**
   * How far before the newest id seen a poll reads again (default 5 s). An event stored later
   * than that after newer ones (its producer failed over after a timeout) is not seen by polls.
   */
  lookbackMs?: number
  onWarning?: WarningListener
  onError?: (err: Error) => void
}

/** Default look-back of a poll: events whose ids are up to this much older than the newest seen are still found. */
const LOOKBACK_MS = 5000
/** How long a published id is remembered when a change stream (not a poll) feeds the hub. */
const ECHO_WINDOW_MS = 60_000
/** Hard cap on remembered ids (a flood of ids from far-future clocks cannot grow memory forever). */
const MAX_REMEMBERED = 200_000

export class LiveHub {
  readonly #opts: LiveHubOptions
  readonly #reader: Reader
  #ring: Event[] = []
  #ringIds = new Map<string, number>()
  /** Recently published ids → when they were published (insertion order = publication order). */
  #recent = new Map<string, number>()
  #seq = 0
  #subs = new Set<Subscriber>()
  #observers = new Set<(event: Event) => void>()
  #timer: NodeJS.Timeout | undefined
  #pollAfter: string | undefined
  #maxSeenId: string | undefined
  #changeStream: { close(): Promise<void> } | undefined
  #polling: Promise<void> | undefined
  /** The first buffer sequence number after which the buffer holds other instances' events too (polls skipped before it). */
  #ringCompleteFrom = 0
  /** Set while the first poll after skipped ones has not finished: events with smaller ids are buffered silently. */
  #catchUpBefore: string | undefined
  #closed = false
  #published = 0
  #polls = 0
  /** A poll found events this instance did not ingest: other writers share the store, events go out in rounds. */
  #shared = false
  #startedAt = 0
  /** Events a poll read, waiting for their round (shared store), with when they were read. */
  #staged = new Map<string, { event: Event; readAt: number }>()
  /** When each buffered event was read from the store, or published, for resuming (see subscribe). */
  #arrived = new Map<string, number>()

  constructor(reader: Reader, options: LiveHubOptions) {
    this.#reader = reader
    this.#opts = options
  }

  get #lookback(): number {
    return this.#opts.lookbackMs ?? LOOKBACK_MS
  }

  get subscribers(): number {
    return this.#subs.size
  }

  get published(): number {
    return this.#published
  }

  /** Store polls done (no change streams: FerretDB); each reads what other instances wrote. Polls are skipped while no client listens. */
  get polls(): number {
    return this.#polls
  }

  /** Start watching the store for events other instances write. */
  async start(): Promise<void> {
    this.#startedAt = Date.now()
    // Everything already stored is history, not live.
    this.#pollAfter = ulidLowerBound(Date.now() - this.#lookback)
    if (this.#reader instanceof MongoStore) {
      try {
        await this.#reader.open()
        const coll = this.#reader.client.db(this.#reader.databaseName).collection(this.#reader.collectionName)
        const stream = coll.watch([{ $match: { operationType: 'insert' } }])
        await new Promise<void>((resolve, reject) => {
          stream.once('error', reject)
          // A first getMore proves the server supports change streams.
          ;(stream as unknown as { tryNext(): Promise<unknown> }).tryNext().then(() => resolve(), reject)
        })
        stream.on('change', (c: { fullDocument?: Record<string, unknown> }) => {
          if (c.fullDocument) {
            try {
              this.publish(documentToEvent(c.fullDocument))
            } catch (err) {
              this.#opts.onError?.(err as Error)
            }
          }
        })
        stream.on('error', (err: Error) => this.#opts.onError?.(err))
        this.#changeStream = stream
        return
      } catch {
        this.#opts.onWarning?.(makeWarning('MADSCI_WARN_NO_CHANGE_STREAMS', 'server'))
      }
    }
    this.#schedulePoll()
  }

  #schedulePoll(): void {
    if (this.#closed) return
    this.#timer = setTimeout(() => {
      this.#polling = this.#poll().finally(() => {
        this.#polling = undefined
        this.#schedulePoll()
      })
    }, this.#opts.pollIntervalMs)
    this.#timer.unref()
  }

  async #poll(): Promise<void> {
    if (this.#subs.size === 0) {
      // Nobody is listening: reading the store would only fill the buffer (a poll re-reads the
      // whole look-back, which under load costs the database more than the inserts do). Move the
      // lower bound on instead; what other instances store meanwhile is history, and a client
      // resuming from an id buffered before now is also resumed from the store, by id.
      const bound = ulidLowerBound(Date.now() - this.#lookback)
      if (!this.#pollAfter || bound > this.#pollAfter) this.#pollAfter = bound
      this.#ringCompleteFrom = this.#seq + 1
      this.#release(Number.POSITIVE_INFINITY)
      return
    }
    const catchUpBefore = this.#catchUpBefore
    const readStart = Date.now()
    let resultsAt: number | undefined
    try {
      let latest: string | undefined
      for await (const e of this.#reader.streamEvents({ afterId: this.#pollAfter, orderBy: 'event_id', batchSize: 1000 })) {
        if (this.#closed) return
        if (!latest || e.event_id > latest) latest = e.event_id
        if (this.#known(e.event_id)) continue
        // Not ingested here: another writer shares the store (or this one's previous life did, just
        // before a restart: then its own events until the first foreign one would go out of order).
        this.#shared = true
        const history = catchUpBefore !== undefined && e.event_id < catchUpBefore
        if (history) this.#emit(e, true)
        // Read after the database took its snapshot, so after the event was stored (see subscribe).
        else this.#staged.set(e.event_id, { event: e, readAt: (resultsAt ??= Date.now()) })
      }
      this.#release(readStart)
      const top = latest && (!this.#maxSeenId || latest > this.#maxSeenId) ? latest : this.#maxSeenId
      if (top) {
        const t = ulidTime(top)
        if (t !== undefined) {
          // Ids are chosen by clients: one dated in the future (7ZZZ… is year 10889) must not move
          // the bound past every id made from now on, or the polls would skip them all.
          const bound = ulidLowerBound(Math.min(t, Date.now()) - this.#lookback)
          if (!this.#pollAfter || bound > this.#pollAfter) this.#pollAfter = bound
        }
      }
      if (this.#catchUpBefore === catchUpBefore) this.#catchUpBefore = undefined
    } catch (err) {
      // A poll cut off by close() (the store closing under it) is not an error.
      if (!this.#closed) this.#opts.onError?.(err as Error)
    }
    this.#polls++
  }

  #known(id: string): boolean {
    return this.#ringIds.has(id) || this.#recent.has(id) || this.#staged.has(id)
  }

  /** Send, in id order, the staged events created more than the order window before `readStart` (Infinity: all). */
  #release(readStart: number): void {
    if (this.#staged.size === 0) return
    const window = this.#opts.orderWindowMs ?? 0
    const bound = Number.isFinite(readStart) ? ulidLowerBound(readStart - window) : undefined
    // An id's own time decides, but no later than the window after it was read: ids are chosen by
    // clients, and one dated in the future (7ZZZ… is year 10889) would otherwise wait forever.
    const due = (id: string, readAt: number): boolean => bound === undefined || id < bound || readAt < readStart - window
    const ready = [...this.#staged].filter(([id, s]) => due(id, s.readAt)).map(([id]) => id).sort()
    for (const id of ready) {
      const s = this.#staged.get(id) as { event: Event; readAt: number }
      this.#staged.delete(id)
      this.#emit(s.event, false, s.readAt)
    }
  }

  /**
   * A new event (ingested here, or seen in the store): buffer it and send it to matching
   * subscribers (unless `silent`: history found by a catch-up poll, only buffered). On a shared
   * store, while clients listen, an event ingested here is left to the polls (see above).
   */
  publish(event: Event, silent = false): void {
    if (this.#known(event.event_id)) return
    if (!silent && this.#shared && this.#subs.size > 0 && this.#changeStream === undefined) return
    this.#emit(event, silent)
  }

  #emit(event: Event, silent: boolean, arrivedAt?: number): void {
    const now = Date.now()
    this.#recent.set(event.event_id, now)
    this.#forget(now)
    this.#published++
    const seq = ++this.#seq
    this.#ring.push(event)
    this.#ringIds.set(event.event_id, seq)
    this.#arrived.set(event.event_id, arrivedAt ?? now)
    if (!this.#maxSeenId || event.event_id > this.#maxSeenId) this.#maxSeenId = event.event_id
    if (this.#ring.length > this.#opts.capacity) {
      const old = this.#ring.shift() as Event
      this.#ringIds.delete(old.event_id)
      this.#arrived.delete(old.event_id)
    }
    if (silent) {
      for (const s of this.#subs) if (s.after !== undefined && event.event_id > s.after && matches(s.filter, event)) s.send(event)
      return
    }
    for (const s of this.#subs) {
      if (matches(s.filter, event)) s.send(event)
    }
    for (const o of this.#observers) o(event)
  }

  /**
   * Watch every event published, for the server's own bookkeeping (the viewer's live cursor). An
   * observer is not a client: it does not keep the store polls going. Returns a function that stops it.
   */
  observe(fn: (event: Event) => void): () => void {
    this.#observers.add(fn)
    return () => {
      this.#observers.delete(fn)
    }
  }

  /**
   * Forget ids that can no longer come back: with polling, those at or below the poll's lower
   * bound (a poll only reads ids above it); with a change stream, those published more than a
   * minute ago. Oldest first, so this is amortized O(1) per publish.
   */
  #forget(now: number): void {
    for (const [id, at] of this.#recent) {
      const polling = this.#timer !== undefined && this.#pollAfter !== undefined
      const gone = polling ? id <= (this.#pollAfter as string) && at < now - this.#lookback : at < now - ECHO_WINDOW_MS
      if (!gone && this.#recent.size <= MAX_REMEMBERED) break
      this.#recent.delete(id)
    }
  }

  /**
   * Subscribe. With `lastEventId`, first replays what the client missed, through `replay` (which
   * may wait for the client to read, and returns false when the client is gone): from memory when
   * the id is still buffered, else from the store (events with a greater id). Events published
   * meanwhile are queued and replayed after, then `send` gets live events. A replay never counts as
   * a slow client: it goes at the client's pace. Returns an unsubscribe function.
   */
  async subscribe(filter: LiveFilter, send: LiveSend, lastEventId?: string, replay?: LiveReplay): Promise<() => void> {
    const sub: Subscriber = { filter, send }
    // The first client after polls were skipped: the buffer lacks what other instances stored
    // meanwhile, and the next poll reads the whole look-back again. What it finds from before now is
    // history to every client listening (a resuming one gets it from the store): it is buffered, not sent.
    if (this.#subs.size === 0 && this.#timer !== undefined) {
      this.#ringCompleteFrom = this.#seq + 1
      this.#catchUpBefore = ulidLowerBound(Date.now())
    }
    if (lastEventId) {
      const put: LiveReplay = replay ?? ((e) => (send(e), true))
      const sent = new Set<string>()
      const pending: Event[] = []
      // Bounded: a client whose catch-up falls this far behind the live events is disconnected; it
      // resumes from its last id when it reconnects.
      let overflow = false
      sub.after = lastEventId
      const collect: Subscriber = {
        filter,
        after: lastEventId,
        send: (e) => {
          if (pending.length >= this.#opts.capacity) overflow = true
          else pending.push(e)
        },
      }
      this.#subs.add(collect)
      let open = true
      const give = async (e: Event): Promise<void> => {
        if (!open || sent.has(e.event_id)) return
        sent.add(e.event_id)
        open = await put(e)
      }
      try {
        // From the store, by id, after that id. When polling, events newer than the order window that
        // have not gone out yet are left to the rounds (sent now, they could come before older ones
        // still on their way). `lookBack`: also those of the look-back before that id, for a client
        // this instance cannot have served (it resumes from another instance, or from before a
        // restart): one that reached the store late may have been due after that id there. Sending
        // one the client has is a duplicate its id check drops; skipping one it has not is a gap.
        const fromStore = async (lookBack: boolean): Promise<void> => {
          const from = lookBack ? ulidLowerBound((ulidTime(lastEventId) ?? 0) - this.#lookback) : lastEventId
          // What a catch-up poll finds from that far back is not history to this client either.
          if (from < lastEventId) collect.after = sub.after = from
          const upTo = this.#timer !== undefined ? ulidLowerBound(Date.now() - (this.#opts.orderWindowMs ?? 0)) : undefined
          for await (const e of this.#reader.streamEvents({ afterId: from < lastEventId ? from : lastEventId, orderBy: 'event_id' })) {
            if (!open) break
            if (upTo !== undefined && e.event_id >= upTo && !this.#ringIds.has(e.event_id) && !this.#recent.has(e.event_id)) continue
            if (e.event_id !== lastEventId && matches(filter, e)) await give(e)
          }
        }
        const seq = this.#ringIds.get(lastEventId)
        if (seq !== undefined) {
          // A copy: the ring moves on while the replay waits for the client.
          const ring = [...this.#ring]
          const oldest = ring.length ? (this.#ringIds.get(ring[0].event_id) as number) : this.#seq + 1
          const at = seq - oldest
          // Buffered before that id but newer by id: a client resuming here after another instance (or
          // after a restart whose first poll re-read recent events) has not seen these. Nor perhaps
          // older ones stored more than the order window after that id was made (a batch retried
          // after a failure): another instance may have sent that id in a round before they were
          // stored, and them after it; they were read here after that moment. Sending one it has
          // seen is a duplicate its id check drops; skipping one it has not is a gap.
          const lateAfter = (ulidTime(lastEventId) ?? 0) + (this.#opts.orderWindowMs ?? 0)
          const unseen = (e: Event): boolean => e.event_id > lastEventId || (this.#arrived.get(e.event_id) ?? 0) >= lateAfter
          for (let i = 0; i < at && open; i++) if (unseen(ring[i]) && matches(filter, ring[i])) await give(ring[i])
          for (let i = at + 1; i < ring.length && open; i++) if (matches(filter, ring[i])) await give(ring[i])
          // Polls were skipped since that id was buffered: what other instances stored meanwhile is
          // not in the buffer; the store has it (what the buffer gave already is not sent again).
          if (seq < this.#ringCompleteFrom) await fromStore(false)
        } else {
          // Older than the buffer (or from before a restart): catch up from the store.
          await fromStore(this.#shared || (ulidTime(lastEventId) ?? 0) < this.#startedAt + this.#lookback)
        }
        // What arrived during the replay; more may arrive while these are written.
        while (open && !overflow && pending.length) await give(pending.shift() as Event)
        if (overflow) throw new LiveOverflowError(this.#opts.capacity)
      } finally {
        this.#subs.delete(collect)
      }
      if (!open) return () => undefined
      // A poll may still read (and publish) replayed events it has not seen: those with ids above its
      // lower bound. Skip them until the bound passes them.
      if (this.#timer !== undefined && this.#pollAfter !== undefined) {
        const after = this.#pollAfter
        const again = new Set([...sent].filter((id) => id > after))
        if (again.size) {
          let top = ''
          for (const id of again) if (id > top) top = id
          sub.send = (e) => {
            if (again.size && (this.#pollAfter as string) > top) again.clear()
            if (!again.delete(e.event_id)) send(e)
          }
        }
      }
    }
    this.#subs.add(sub)
    return () => {
      this.#subs.delete(sub)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    await this.#changeStream?.close().catch(() => undefined)
    // Let a poll under way stop at its next event before the store closes under it.
    await this.#polling
    this.#subs.clear()
    this.#staged.clear()
    this.#arrived.clear()
  }
}
