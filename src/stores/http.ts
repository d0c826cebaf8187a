import { Pool } from 'undici'
import { withDefaults } from '../config/defaults.js'
import { StoreRejectedError, StoreUnavailableError } from '../errors.js'
import type { Event } from '../event/model.js'
import { parseEvent } from '../event/validate.js'
import { parseRetryAfter } from '../pipeline/backoff.js'
import { pipelineEventJson } from '../pipeline/record.js'
import { makeWarning, type WarningListener } from '../warnings.js'
import { redactUrl } from '../config/env.js'
import { validateSelector } from './selector.js'
import { HttpSpread, parseEventManagerUrls } from './http-spread.js'
import type { InstanceStats } from './instances.js'
import type { GetEventsOptions, PipelineEvent, QueryOptions, Reader, Sink, StreamOptions, WriteResult } from './types.js'

/**
 * A MADSci Event Manager over HTTP (the Python one, or our server adapter), with an undici
 * keep-alive `Pool`.
 *
 * - Writing: our server has `POST /events/batch` (discovered once at open from the
 *   `x-madsci-events` header of `GET /health`, or forced with `mode`); the Python server has only
 *   `POST /event`, so events go one POST each with at most `concurrency` at once. 429 and 503 are
 *   retried after `Retry-After` (or `X-RateLimit-Reset`); other 5xx and network errors are retried
 *   with backoff; 400/422 refuse the event for good. A retried batch skips the events already
 *   accepted, and the server treats a repeated id as a duplicate, so nothing is stored twice.
 * - Reading: `GET /event/{id}`, `GET /events`, and `POST /events/query` **with the selector as the
 *   JSON body** (MADSci's client sends it as query parameters and gets 422 — SPEC D2).
 * - The base URL works with or without a trailing slash, with or without a path (SPEC D12).
 * - Several URLs (an array, or a comma-separated list as MongoDB lists hosts): the store spreads
 *   batches over the healthy instances and fails over on errors (see http-spread.ts); `instances()`
 *   gives each one's health and counts.
 */

export interface HttpStoreOptions {
  /** `auto` (default): batch route if the server has one. `batch` or `single` to force. */
  mode?: 'auto' | 'batch' | 'single'
  /** Requests at once in single mode. 8: fast on loopback, gentle on the Python server's rate limiter. */
  concurrency?: number
  /** Per request. 10 s, MADSci's `timeout_default`. */
  timeoutMs?: number
  /** Bearer token for a server with auth on (ours). */
  token?: string
  /** Extra request headers. */
  headers?: Record<string, string>
  /** Connections in the pool. Default `concurrency`. */
  connections?: number
  onWarning?: WarningListener
}

type HttpStoreResolved = Required<Omit<HttpStoreOptions, 'token' | 'headers' | 'onWarning' | 'connections'>> & HttpStoreOptions

export const HTTP_STORE_DEFAULTS = { mode: 'auto' as const, concurrency: 8, timeoutMs: 10_000 }

/** Normalize a base URL so relative paths append to it (`http://h:1/em` → `http://h:1/em/`). */
export function normalizeBaseUrl(url: string): URL {
  const u = new URL(url)
  if (!u.pathname.endsWith('/')) u.pathname += '/'
  return u
}

interface BatchItemResult {
  event_id?: string
  status?: string
  error?: unknown
}

export class HttpStore implements Sink, Reader {
  readonly kind = 'http'
  readonly base: URL
  readonly #opts: HttpStoreResolved
  #poolInstance: Pool | undefined
  readonly #headers: Record<string, string>
  /** With several URLs: one HttpStore per URL, and this store only dispatches to them. */
  readonly #spread: HttpSpread | undefined
  #batch: boolean | undefined
  #opened: Promise<void> | undefined
  // Events already accepted within a batch being retried (the pipeline retries the same objects).
  readonly #accepted = new WeakSet<PipelineEvent>()

  constructor(url: string | readonly string[], options: HttpStoreOptions = {}) {
    const urls = typeof url === 'string' && !url.includes(',') ? [url] : parseEventManagerUrls(url)
    this.base = normalizeBaseUrl(urls[0])
    this.#opts = withDefaults<HttpStoreOptions>(HTTP_STORE_DEFAULTS, options) as HttpStoreResolved
    this.#spread = urls.length > 1 ? new HttpSpread(urls.map((u) => new HttpStore(u, options))) : undefined
    this.#headers = { 'content-type': 'application/json', accept: 'application/json', ...options.headers }
    if (options.token) this.#headers.authorization = `Bearer ${options.token}`
    if (this.#opts.mode !== 'auto') this.#batch = this.#opts.mode === 'batch'
  }

  get target(): string {
    if (this.#spread) return this.#spread.target
    return redactUrl(this.base.toString())
  }

  /** True when writes use the batch route (known after `open()`; with several URLs, the first instance's). */
  get batchMode(): boolean | undefined {
    if (this.#spread) return (this.#spread.members[0] as HttpStore).batchMode
    return this.#batch
  }

  /** With several URLs, each instance's health and counts; undefined for one URL. */
  instances(): InstanceStats[] | undefined {
    return this.#spread?.instances()
  }

  /** Created at the first request, so a store spreading over several URLs holds no pool of its own. */
  get #pool(): Pool {
    this.#poolInstance ??= new Pool(this.base.origin, {
      connections: this.#opts.connections ?? this.#opts.concurrency,
      headersTimeout: this.#opts.timeoutMs,
      bodyTimeout: this.#opts.timeoutMs,
      keepAliveTimeout: 30_000,
    })
    return this.#poolInstance
  }

  #path(rel: string, query?: Record<string, string | number | boolean | undefined>): string {
    const u = new URL(rel, this.base)
    if (query) for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v))
    return u.pathname + u.search
  }

  async #request(
    method: 'GET' | 'POST' | 'DELETE',
    rel: string,
    options: { body?: string; query?: Record<string, string | number | boolean | undefined>; signal?: AbortSignal } = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    try {
      const res = await this.#pool.request({
        method,
        path: this.#path(rel, options.query),
        headers: this.#headers,
        body: options.body,
        signal: options.signal,
      })
      const text = await res.body.text()
      return { status: res.statusCode, headers: res.headers, text }
    } catch (err) {
      if (options.signal?.aborted) throw err
      throw new StoreUnavailableError(`Event Manager ${this.target}`, (err as Error).message, { cause: err })
    }
  }

  #unavailable(res: { status: number; headers: Record<string, string | string[] | undefined>; text: string }, what: string): StoreUnavailableError {
    const h = (name: string): string | undefined => {
      const v = res.headers[name]
      return Array.isArray(v) ? v[0] : v
    }
    const retryAfterMs = res.status === 429 || res.status === 503 ? parseRetryAfter(h('retry-after'), h('x-ratelimit-reset')) : undefined
    return new StoreUnavailableError(`Event Manager ${this.target}`, `${what} answered ${res.status}: ${res.text.slice(0, 300)}`, { retryAfterMs })
  }

  open(): Promise<void> {
    if (this.#spread) return this.#spread.open()
    if (!this.#opened) {
      this.#opened = (async () => {
        if (this.#batch !== undefined) return
        // Discovery must not hang a writer forever on a stalled server.
        const res = await this.#request('GET', 'health', { signal: AbortSignal.timeout(this.#opts.timeoutMs) }).catch((err: Error) => {
          throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError(`Event Manager ${this.target}`, `GET /health: ${err.message}`, { cause: err })
        })
        if (res.status >= 500 && res.status !== 501) throw this.#unavailable(res, 'GET /health')
        const marker = res.headers['x-madsci-events']
        this.#batch = typeof marker === 'string' && marker.includes('batch')
        if (!this.#batch) this.#opts.onWarning?.(makeWarning('MADSCI_WARN_SINGLE_POST', 'http', this.target))
      })().catch((err) => {
        this.#opened = undefined
        throw err
      })
    }
    return this.#opened
  }

  async write(batch: readonly PipelineEvent[], signal?: AbortSignal): Promise<WriteResult> {
    if (this.#spread) return this.#spread.write(batch, signal)
    await this.open()
    const todo = batch.filter((e) => !this.#accepted.has(e))
    const already = batch.length - todo.length
    const result = this.#batch ? await this.#writeBatch(todo, signal) : await this.#writeSingle(todo, signal)
    return { delivered: result.delivered + already, rejected: result.rejected }
  }

  async #writeBatch(events: readonly PipelineEvent[], signal?: AbortSignal): Promise<WriteResult> {
    if (events.length === 0) return { delivered: 0, rejected: [] }
    const body = `[${events.map((e) => pipelineEventJson(e)).join(',')}]`
    const res = await this.#request('POST', 'events/batch', { body, signal })
    if (res.status === 413 && events.length > 1) {
      // Too large for the server's body limit: halve until it fits.
      const mid = Math.ceil(events.length / 2)
      const a = await this.#writeBatch(events.slice(0, mid), signal)
      const b = await this.#writeBatch(events.slice(mid), signal)
      return { delivered: a.delivered + b.delivered, rejected: [...a.rejected, ...b.rejected] }
    }
    if (res.status === 413 || res.status === 400) {
      const err = new StoreRejectedError(`Event Manager ${this.target}`, `POST /events/batch answered ${res.status}: ${res.text.slice(0, 300)}`, { status: res.status })
      return { delivered: 0, rejected: events.map((event) => ({ event, error: err })) }
    }
    if (res.status < 200 || res.status >= 300) throw this.#unavailable(res, 'POST /events/batch')
    let items: BatchItemResult[] = []
    try {
      const parsed = JSON.parse(res.text)
      items = Array.isArray(parsed) ? parsed : Array.isArray(parsed?.results) ? parsed.results : []
    } catch {
      throw new StoreUnavailableError(`Event Manager ${this.target}`, 'POST /events/batch answered with a body that is not JSON')
    }
    const rejected: WriteResult['rejected'] = []
    let delivered = 0
    events.forEach((event, i) => {
      const item = items[i]
      if (item && item.status === 'rejected') {
        rejected.push({ event, error: new StoreRejectedError(`Event Manager ${this.target}`, `event ${event.event_id}: ${JSON.stringify(item.error)}`, { status: 422 }) })
      } else {
        delivered++
        this.#accepted.add(event)
      }
    })
    return { delivered, rejected }
  }

  async #writeSingle(events: readonly PipelineEvent[], signal?: AbortSignal): Promise<WriteResult> {
    const rejected: WriteResult['rejected'] = []
    let delivered = 0
    let failure: Error | undefined
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < events.length && !failure) {
        const event = events[next++]
        const res = await this.#request('POST', 'event', { body: pipelineEventJson(event), signal }).catch((err: Error) => {
          failure ??= err
          return undefined
        })
        if (!res) return
        if (res.status >= 200 && res.status < 300) {
          delivered++
          this.#accepted.add(event)
        } else if (res.status === 422 || res.status === 400 || res.status === 413) {
          rejected.push({ event, error: new StoreRejectedError(`Event Manager ${this.target}`, `event ${event.event_id}: POST /event answered ${res.status}: ${res.text.slice(0, 300)}`, { status: res.status }) })
        } else {
          failure ??= this.#unavailable(res, 'POST /event')
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#opts.concurrency, events.length) }, worker))
    // Accepted events are remembered: the retry of this batch sends only the rest.
    if (failure) throw failure
    return { delivered, rejected }
  }

  // ------------------------------------------------------------------ reading

  async #json(method: 'GET' | 'POST', rel: string, options: { body?: string; query?: Record<string, string | number | boolean | undefined> } = {}): Promise<unknown> {
    const res = await this.#request(method, rel, options)
    if (res.status < 200 || res.status >= 300) {
      if (res.status >= 500 || res.status === 429) throw this.#unavailable(res, `${method} /${rel}`)
      throw new StoreRejectedError(`Event Manager ${this.target}`, `${method} /${rel} answered ${res.status}: ${res.text.slice(0, 300)}`, { status: res.status })
    }
    return JSON.parse(res.text)
  }

  #eventMap(body: unknown): Event[] {
    if (!body || typeof body !== 'object') return []
    const list = Array.isArray(body) ? body : Object.values(body as Record<string, unknown>)
    return list.map((e) => parseEvent(e))
  }

  async getEvent(id: string): Promise<Event | null> {
    if (this.#spread) return this.#spread.getEvent(id)
    const res = await this.#request('GET', `event/${encodeURIComponent(id)}`)
    if (res.status === 404) return null
    if (res.status < 200 || res.status >= 300) {
      if (res.status >= 500 || res.status === 429) throw this.#unavailable(res, 'GET /event')
      throw new StoreRejectedError(`Event Manager ${this.target}`, `GET /event answered ${res.status}: ${res.text.slice(0, 300)}`, { status: res.status })
    }
    return parseEvent(JSON.parse(res.text))
  }

  async getEvents(options: GetEventsOptions = {}): Promise<Event[]> {
    if (this.#spread) return this.#spread.getEvents(options)
    return this.#eventMap(
      await this.#json('GET', 'events', {
        query: {
          number: options.number ?? 100,
          offset: options.offset,
          level: options.level ?? 0,
          start_time: options.startTime,
          end_time: options.endTime,
          include_archived: options.includeArchived,
        },
      }),
    )
  }

  async queryEvents(selector: Record<string, unknown>, options: QueryOptions = {}): Promise<Event[]> {
    if (this.#spread) return this.#spread.queryEvents(selector, options)
    let list = this.#eventMap(await this.#json('POST', 'events/query', { body: JSON.stringify(validateSelector(selector)) }))
    if (options.sort) {
      const [[field, dir]] = Object.entries(options.sort)
      const key = (e: Event): unknown => (field === '_id' ? e.event_id : (e as unknown as Record<string, unknown>)[field])
      list = list.sort((a, b) => {
        const av = key(a) as string
        const bv = key(b) as string
        return av < bv ? -dir : av > bv ? dir : 0
      })
    }
    const skip = options.skip ?? 0
    return options.limit ? list.slice(skip, skip + options.limit) : list.slice(skip)
  }

  /**
   * Stored events in a range, oldest first. The Event Manager API has no sorted range scan, so
   * the range is read in time windows through `POST /events/query`, each sorted in memory; a
   * window returning more than `batchSize × 10` events is split, keeping memory bounded.
   */
  async *streamEvents(options: StreamOptions = {}): AsyncIterable<Event> {
    if (this.#spread) return yield* this.#spread.streamEvents(options)
    const cap = (options.batchSize ?? 1000) * 10
    const extra = options.selector ? validateSelector(options.selector) : undefined
    const build = (lo?: string, hi?: string, hiExclusive = false): Record<string, unknown> => {
      const and: Record<string, unknown>[] = []
      if (extra) and.push(extra)
      const ts: Record<string, string> = {}
      if (lo !== undefined) ts.$gte = lo
      if (hi !== undefined) ts[hiExclusive ? '$lt' : '$lte'] = hi
      if (Object.keys(ts).length) and.push({ event_timestamp: ts })
      if (options.includeArchived === false) and.push({ archived: { $ne: true } })
      if (options.afterId !== undefined) and.push({ _id: { $gt: options.afterId } })
      return and.length === 0 ? {} : and.length === 1 ? and[0] : { $and: and }
    }
    const sortKey = options.orderBy === 'event_id' ? (e: Event) => e.event_id : (e: Event) => `${e.event_timestamp}\u0000${e.event_id}`
    const emit = async function* (this: HttpStore, lo: string | undefined, hi: string | undefined, hiExclusive: boolean, depth: number): AsyncGenerator<Event> {
      const events = await this.queryEvents(build(lo, hi, hiExclusive))
      if (events.length > cap && depth < 40 && lo !== undefined && hi !== undefined) {
        const mid = midpointTimestamp(lo, hi)
        if (mid !== undefined && mid > lo && mid < hi) {
          yield* emit.call(this, lo, mid, true, depth + 1)
          yield* emit.call(this, mid, hi, hiExclusive, depth + 1)
          return
        }
      }
      events.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0))
      yield* events
    }
    yield* emit.call(this, options.startTime, options.endTime, false, 0)
  }

  async close(options: { force?: boolean } = {}): Promise<void> {
    if (this.#spread) return this.#spread.close(options)
    if (options.force) await this.#poolInstance?.destroy()
    else await this.#poolInstance?.close()
  }
}

/** A timestamp string halfway between two (naive ISO, compared as strings), or undefined. */
function midpointTimestamp(lo: string, hi: string): string | undefined {
  const a = Date.parse(lo.endsWith('Z') || /[+-]\d\d:\d\d$/.test(lo) ? lo : lo + 'Z')
  const b = Date.parse(hi.endsWith('Z') || /[+-]\d\d:\d\d$/.test(hi) ? hi : hi + 'Z')
  if (!Number.isFinite(a) || !Number.isFinite(b) || b - a < 2) return undefined
  const mid = new Date(Math.floor((a + b) / 2)).toISOString()
  // Keep the naive form when the bounds are naive, so string comparison stays meaningful.
  return lo.endsWith('Z') ? mid : mid.slice(0, -1)
}
