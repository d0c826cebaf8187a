import { ConfigError, StoreUnavailableError } from '../errors.js'
import type { Event } from '../event/model.js'
import { InstanceSet, type InstanceSetOptions, type InstanceStats } from './instances.js'
import type { GetEventsOptions, PipelineEvent, QueryOptions, Reader, Sink, StreamOptions, WriteResult } from './types.js'

/**
 * Several Event Manager instances behind one sink (`HttpStore` given several URLs): each batch
 * goes to one healthy instance (fewest in flight, round-robin), and on an error that says "not
 * now" (network error, timeout, 5xx, 429) straight to the next one, so a dead instance delays a
 * batch by one failed request, not a retry backoff. Only when every instance has failed or is
 * backing off does the write fail (with the wait until the first comes back), and the pipeline
 * retries and spools as for one server. A batch sent again to another instance is safe: event
 * ids are idempotent, and a server keeps one copy of a repeated id.
 */

/** One instance: an `HttpStore` for one URL. */
export type SpreadMember = Sink & Reader

/**
 * The URLs of `eventManager` / `EVENT_SERVER_URL`: one URL, an array of them, or a comma-separated
 * list, either of full URLs (`http://a:8001,http://b:8001`) or as MongoDB connection strings list
 * hosts (`http://a:8001,b:8001,c:8001/prefix`: the scheme of the first, the path after the last
 * host for every host without its own scheme). Throws ConfigError naming the bad entry.
 */
export function parseEventManagerUrls(spec: string | readonly string[], option = 'eventManager'): string[] {
  const parts = typeof spec === 'string' ? spec.split(',') : spec.flatMap((s) => (typeof s === 'string' ? s.split(',') : [s]))
  const trimmed = parts.map((p) => (typeof p === 'string' ? p.trim() : p))
  if (trimmed.length === 0 || trimmed.some((p) => typeof p !== 'string' || p === '')) {
    throw new ConfigError(option, `${JSON.stringify(spec)} is not a list of http(s) URLs; use e.g. http://a:8001,http://b:8001 or ["http://a:8001", "http://b:8001"]`)
  }
  const list = trimmed as string[]
  const hasScheme = (p: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(p)
  const scheme = hasScheme(list[0]) ? list[0].slice(0, list[0].indexOf('://')) : undefined
  // MongoDB style: the path after the last host (if it has no scheme) is every such host's path,
  // and the first host's when it has none of its own.
  let sharedPath = ''
  const last = list.length - 1
  if (last > 0 && !hasScheme(list[last]) && list[last].includes('/')) {
    sharedPath = list[last].slice(list[last].indexOf('/'))
    list[last] = list[last].slice(0, list[last].indexOf('/'))
    if (scheme && !list[0].slice(scheme.length + 3).includes('/')) list[0] += sharedPath
  }
  const urls = list.map((p) => {
    const full = !hasScheme(p) && scheme ? `${scheme}://${p}${sharedPath}` : p
    let u: URL | undefined
    try {
      u = new URL(full)
    } catch {}
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new ConfigError(option, `${JSON.stringify(p)} is not an http(s) URL; use e.g. http://localhost:8001`)
    return full
  })
  const seen = new Set<string>()
  for (const u of urls) {
    const key = new URL(u).toString().replace(/\/?$/, '/')
    if (seen.has(key)) throw new ConfigError(option, `${u} is listed twice`)
    seen.add(key)
  }
  return urls
}

export class HttpSpread {
  readonly #members: SpreadMember[]
  readonly #set: InstanceSet

  constructor(members: SpreadMember[], options: InstanceSetOptions = {}) {
    this.#members = members
    this.#set = new InstanceSet(
      members.map((m) => m.target),
      options,
    )
  }

  get target(): string {
    return this.#members.map((m) => m.target).join(',')
  }

  get members(): readonly SpreadMember[] {
    return this.#members
  }

  instances(): InstanceStats[] {
    return this.#set.stats()
  }

  /** Resolves once one instance answers discovery; those that fail are backed off (and opened again by their next write). */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      let failed = 0
      const errors: string[] = []
      this.#members.forEach((m, i) => {
        m.open().then(resolve, (err: Error) => {
          this.#set.markDown(i, err, (err as StoreUnavailableError).retryAfterMs)
          errors.push(err.message)
          if (++failed === this.#members.length) reject(this.#allFailed(errors))
        })
      })
    })
  }

  #allFailed(errors: string[]): StoreUnavailableError {
    const why = errors.length ? `no instance answered: ${errors.join('; ')}` : `all ${this.#members.length} instances are backing off after errors`
    return new StoreUnavailableError(`Event Managers ${this.target}`, why, { retryAfterMs: this.#set.waitMs() })
  }

  async write(batch: readonly PipelineEvent[], signal?: AbortSignal): Promise<WriteResult> {
    const tried = new Set<number>()
    const errors: string[] = []
    for (let i = this.#set.pick(tried); i !== undefined; i = this.#set.pick(tried)) {
      tried.add(i)
      this.#set.begin(i)
      const started = performance.now()
      try {
        const result = await this.#members[i].write(batch, signal)
        this.#set.succeeded(i, batch.length, performance.now() - started)
        return result
      } catch (err) {
        if (signal?.aborted || !(err instanceof StoreUnavailableError)) {
          this.#set.abandoned(i)
          throw err
        }
        this.#set.failed(i, err, err.retryAfterMs)
        errors.push(err.message)
      }
    }
    throw this.#allFailed(errors)
  }

  /** A read from one healthy instance, the next on "unavailable". */
  async #read<T>(fn: (m: SpreadMember) => Promise<T>): Promise<T> {
    const tried = new Set<number>()
    const errors: string[] = []
    for (let i = this.#set.pick(tried); i !== undefined; i = this.#set.pick(tried)) {
      tried.add(i)
      try {
        return await fn(this.#members[i])
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err
        this.#set.markDown(i, err, err.retryAfterMs)
        errors.push(err.message)
      }
    }
    throw this.#allFailed(errors)
  }

  getEvent(id: string): Promise<Event | null> {
    return this.#read((m) => m.getEvent(id))
  }

  getEvents(options?: GetEventsOptions): Promise<Event[]> {
    return this.#read((m) => m.getEvents(options))
  }

  queryEvents(selector: Record<string, unknown>, options?: QueryOptions): Promise<Event[]> {
    return this.#read((m) => m.queryEvents(selector, options))
  }

  /** From one instance; another is tried if the first fails before its first event (after that the error is the caller's). */
  async *streamEvents(options?: StreamOptions): AsyncIterable<Event> {
    const tried = new Set<number>()
    const errors: string[] = []
    for (let i = this.#set.pick(tried); i !== undefined; i = this.#set.pick(tried)) {
      tried.add(i)
      let started = false
      try {
        for await (const e of this.#members[i].streamEvents(options)) {
          started = true
          yield e
        }
        return
      } catch (err) {
        if (started || !(err instanceof StoreUnavailableError)) throw err
        this.#set.markDown(i, err, err.retryAfterMs)
        errors.push(err.message)
      }
    }
    throw this.#allFailed(errors)
  }

  async close(options?: { force?: boolean }): Promise<void> {
    await Promise.all(this.#members.map((m) => m.close(options)))
  }
}
