import type { EventLogLevel } from '../event/levels.js'
import type { Event } from '../event/model.js'
import type { RateLimit } from './options.js'
import type { DigestAlert } from './types.js'

/** The two building blocks of storm control (storm.ts): rate-limit buckets and digests. */

const MAX_EVENT_TYPES = 20
/** Distinct keys counted per digest; beyond, further keys' alerts are counted but the keys themselves are not. */
const MAX_KEY_COUNTS = 10_000
const EPSILON = 1e-9

/** A token bucket: `max` at once, refilled evenly over `windowMs`. */
export class Bucket {
  tokens: number
  at: number
  constructor(
    readonly limit: RateLimit,
    now: number,
  ) {
    this.tokens = limit.max
    this.at = now
  }

  #refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.limit.max, this.tokens + ((now - this.at) * this.limit.max) / this.limit.windowMs)
      this.at = now
    }
  }

  available(now: number): boolean {
    this.#refill(now)
    return this.tokens >= 1 - EPSILON
  }

  consume(): void {
    this.tokens = Math.max(0, this.tokens - 1)
  }

  /** Milliseconds until one token is available. */
  waitMs(now: number): number {
    this.#refill(now)
    return this.tokens >= 1 - EPSILON ? 0 : Math.ceil(((1 - this.tokens) * this.limit.windowMs) / this.limit.max)
  }
}

export interface Item {
  event: Event
  occurrences: number
  key: string
  fp: string
}

/** Alerts folded together: counts, the distinct ones listed, counts per key. */
export class Digest {
  count = 0
  duplicates = 0
  omitted = 0
  level: EventLogLevel = 0
  readonly items: Item[] = []
  readonly #listed = new Map<string, Item>()
  readonly keyCounts = new Map<string, number>()
  readonly types = new Set<string>()
  firstTimestamp = ''
  lastTimestamp = ''
  lastAt: number
  heldByRateLimit = false

  constructor(
    readonly key: string,
    public endsAt: number,
    public windowStart: number,
  ) {
    this.lastAt = windowStart
  }

  add(key: string, fp: string, event: Event, duplicate: boolean, maxListed: number, now: number): void {
    this.count++
    if (duplicate) this.duplicates++
    if (this.count === 1) this.firstTimestamp = event.event_timestamp
    this.lastTimestamp = event.event_timestamp
    this.lastAt = now
    if (event.log_level > this.level) this.level = event.log_level
    if (this.types.size < MAX_EVENT_TYPES) this.types.add(event.event_type)
    this.#countKey(key, 1)
    const id = key + '\u0000' + fp
    const item = this.#listed.get(id)
    if (item) item.occurrences++
    else if (this.items.length < maxListed) {
      const added: Item = { event, occurrences: 1, key, fp }
      this.items.push(added)
      this.#listed.set(id, added)
    } else this.omitted++
  }

  #countKey(key: string, n: number): void {
    const known = this.keyCounts.get(key)
    if (known !== undefined) this.keyCounts.set(key, known + n)
    else if (this.keyCounts.size < MAX_KEY_COUNTS) this.keyCounts.set(key, n)
  }

  /** Fold another digest into this one (the digest across keys absorbing a key's digest). */
  merge(other: Digest, maxListed: number): void {
    if (other.count === 0) return
    if (this.count === 0 || other.windowStart < this.windowStart) {
      this.firstTimestamp = other.firstTimestamp
      this.windowStart = other.windowStart
    }
    if (this.count === 0 || other.lastAt >= this.lastAt) {
      this.lastTimestamp = other.lastTimestamp
      this.lastAt = other.lastAt
    }
    this.count += other.count
    this.duplicates += other.duplicates
    this.omitted += other.omitted
    if (other.level > this.level) this.level = other.level
    for (const t of other.types) if (this.types.size < MAX_EVENT_TYPES) this.types.add(t)
    for (const [k, n] of other.keyCounts) this.#countKey(k, n)
    for (const it of other.items) {
      const id = it.key + '\u0000' + it.fp
      const mine = this.#listed.get(id)
      if (mine) mine.occurrences += it.occurrences
      else if (this.items.length < maxListed) {
        const added = { ...it }
        this.items.push(added)
        this.#listed.set(id, added)
      } else this.omitted += it.occurrences
    }
  }

  toAlert(now: number, reason: DigestAlert['reason'], maxListed: number): DigestAlert {
    const keys = [...this.keyCounts].sort((a, b) => b[1] - a[1]).slice(0, maxListed).map(([key, count]) => ({ key, count }))
    return {
      kind: 'digest',
      key: this.key,
      level: this.level,
      count: this.count,
      duplicates: this.duplicates,
      items: this.items.map((it) => ({ event: it.event, occurrences: it.occurrences })),
      omitted: this.omitted,
      keys,
      keysOmitted: this.keyCounts.size - keys.length,
      eventTypes: [...this.types],
      firstTimestamp: this.firstTimestamp,
      lastTimestamp: this.lastTimestamp,
      windowStart: this.windowStart,
      windowEnd: now,
      reason,
    }
  }
}
