import { safeJsonStringify } from '../event/json-safe.js'
import { OWNERSHIP_FIELDS, type Event } from '../event/model.js'
import { Bucket, Digest } from './digest.js'
import type { StormSettings } from './options.js'
import type { DigestAlert, EventAlert } from './types.js'

/**
 * Storm control for one notifier, which MADSci lacks. Per key (default: event type + source):
 *
 * 1. **Digest window.** The first alert of a key is sent at once and opens a window
 *    (`digestWindowMs`); alerts of that key inside it are folded into one digest sent when the
 *    window ends. While a storm goes on, each window ends in one digest.
 * 2. **De-duplication.** An alert identical (same key, level and message) to one reported within
 *    `dedupWindowMs` is not sent on its own: it is counted into a digest that is sent when the
 *    original's dedup window ends, so a repeating alert is reported at most once per window.
 * 3. **Rate limits.** A key sends at most `perKey.max` messages per `perKey.windowMs`, a notifier
 *    `total.max` per `total.windowMs` (token buckets). An alert over the key's limit waits in the
 *    key's digest until a token frees; an alert over the total limit goes into one digest across
 *    keys (`*`), sent when the total limit allows.
 *
 * Nothing is lost from the counts: every alert is sent on its own or counted in exactly one digest.
 * Memory is bounded: `maxKeys` keys (least recently used forgotten first, approximately), 64 fingerprints and `digestMaxListed` events per key.
 * All decisions take the caller's clock (`now`, ms), so tests can drive time exactly.
 */

const FINGERPRINTS_PER_KEY = 64
const MESSAGE_CHARS = 512
const DATA_CHARS = 2048

class KeyState {
  /** Alerts before this time fold into the digest (a window opened by a sent alert or digest). */
  windowEnd = Number.NEGATIVE_INFINITY
  digest: Digest | null = null
  /** Fingerprint → when an alert with it was last reported (sent or listed in a sent digest). */
  readonly reported = new Map<string, number>()
  /** Insertion count when this key last moved to the end of the LRU order. */
  moved = 0
  constructor(
    readonly key: string,
    readonly bucket: Bucket | null,
  ) {}
}

export interface StormCounters {
  suppressedRateLimit: number
  suppressedDedup: number
  digested: number
}

export const OVERFLOW_KEY = '*'

export class StormControl {
  readonly #s: StormSettings
  readonly #keyOf: (event: Event) => string
  readonly #keys = new Map<string, KeyState>()
  readonly #open = new Set<KeyState>()
  readonly #total: Bucket | null
  #overflow: Digest | null = null
  #insertions = 0
  readonly counters: StormCounters = { suppressedRateLimit: 0, suppressedDedup: 0, digested: 0 }

  constructor(settings: StormSettings, now: number) {
    this.#s = settings
    this.#keyOf = makeKeyFunction(settings)
    this.#total = settings.total ? new Bucket(settings.total, now) : null
  }

  get keys(): number {
    return this.#keys.size
  }

  get openDigests(): number {
    return this.#open.size + (this.#overflow ? 1 : 0)
  }

  /** Decide about one alert: the alert to send now, or `null` when it was folded into a digest. */
  offer(event: Event, now: number): EventAlert | null {
    const s = this.#s
    const key = this.#keyOf(event)
    const st = this.#state(key, now)
    const fp = this.#fingerprint(event)
    if (s.dedupWindowMs > 0) {
      const reportedAt = st.reported.get(fp)
      if (reportedAt !== undefined && now - reportedAt < s.dedupWindowMs) {
        this.counters.suppressedDedup++
        // Inside a burst's window the digest closes with the window; otherwise when the original's dedup window ends.
        const endsAt = now < st.windowEnd ? st.windowEnd : Math.max(now + s.digestWindowMs, reportedAt + s.dedupWindowMs)
        this.#fold(st, fp, event, true, endsAt, now)
        return null
      }
    }
    if (now < st.windowEnd) {
      this.#fold(st, fp, event, false, st.windowEnd, now)
      return null
    }
    const keyOk = st.bucket === null || st.bucket.available(now)
    const totalOk = this.#total === null || this.#total.available(now)
    if (keyOk && totalOk) {
      st.bucket?.consume()
      this.#total?.consume()
      this.#remember(st, fp, now)
      st.windowEnd = now + s.digestWindowMs
      if (st.digest && st.digest.endsAt > st.windowEnd) st.digest.endsAt = st.windowEnd
      return { kind: 'event', key, level: event.log_level, event }
    }
    this.counters.suppressedRateLimit++
    if (keyOk) {
      // The key may send but the notifier may not: one digest across keys.
      this.counters.digested++
      this.#overflowDigest(now).add(key, fp, event, false, s.digestMaxListed, now)
    } else {
      this.#fold(st, fp, event, false, now + s.digestWindowMs, now)
      st.digest!.heldByRateLimit = true
    }
    return null
  }

  /** Digests whose time has come and that the rate limits let go now. */
  due(now: number): DigestAlert[] {
    const out: DigestAlert[] = []
    const s = this.#s
    for (const st of this.#open) {
      const d = st.digest!
      if (d.endsAt > now) continue
      const keyOk = st.bucket === null || st.bucket.available(now)
      const totalOk = this.#total === null || this.#total.available(now)
      if (keyOk && totalOk) {
        st.bucket?.consume()
        this.#total?.consume()
        out.push(d.toAlert(now, d.heldByRateLimit ? 'rate-limit' : 'window', s.digestMaxListed))
        for (const it of d.items) this.#remember(st, it.fp, now)
        this.#close(st)
        // A storm still going on folds into the next window's digest instead of alerting again
        // (repeats of reported alerts need no window: de-duplication already holds them).
        if (d.count > d.duplicates) st.windowEnd = now + s.digestWindowMs
      } else if (!keyOk) {
        d.endsAt = now + st.bucket!.waitMs(now)
        d.heldByRateLimit = true
      } else {
        this.#overflowDigest(now).merge(d, s.digestMaxListed)
        this.#close(st)
      }
    }
    const o = this.#overflow
    if (o && o.endsAt <= now) {
      if (this.#total === null || this.#total.available(now)) {
        this.#total?.consume()
        out.push(o.toAlert(now, 'overflow', s.digestMaxListed))
        this.#overflow = null
      } else {
        o.endsAt = now + this.#total.waitMs(now)
      }
    }
    return out
  }

  /**
   * Everything pending, at once (closing): a key's digest is sent on its own when the rate limits
   * allow, the rest go into one digest across keys, which is always sent.
   */
  drain(now: number): DigestAlert[] {
    const out: DigestAlert[] = []
    const s = this.#s
    for (const st of this.#open) {
      const d = st.digest!
      const keyOk = st.bucket === null || st.bucket.available(now)
      const totalOk = this.#total === null || this.#total.available(now)
      if (keyOk && totalOk) {
        st.bucket?.consume()
        this.#total?.consume()
        out.push(d.toAlert(now, 'close', s.digestMaxListed))
      } else {
        this.#overflowDigest(now).merge(d, s.digestMaxListed)
      }
      this.#close(st)
    }
    if (this.#overflow) {
      out.push(this.#overflow.toAlert(now, 'close', s.digestMaxListed))
      this.#overflow = null
    }
    return out
  }

  #close(st: KeyState): void {
    st.digest = null
    this.#open.delete(st)
  }

  #overflowDigest(now: number): Digest {
    if (!this.#overflow) this.#overflow = new Digest(OVERFLOW_KEY, now + this.#s.digestWindowMs, now)
    return this.#overflow
  }

  #fold(st: KeyState, fp: string, event: Event, duplicate: boolean, endsAtIfNew: number, now: number): void {
    this.counters.digested++
    if (!st.digest) {
      st.digest = new Digest(st.key, endsAtIfNew, now)
      this.#open.add(st)
    }
    st.digest.add(st.key, fp, event, duplicate, this.#s.digestMaxListed, now)
  }

  #remember(st: KeyState, fp: string, now: number): void {
    if (this.#s.dedupWindowMs <= 0) return
    st.reported.delete(fp)
    st.reported.set(fp, now)
    if (st.reported.size > FINGERPRINTS_PER_KEY) st.reported.delete(st.reported.keys().next().value as string)
  }

  #state(key: string, now: number): KeyState {
    let st = this.#keys.get(key)
    if (st) {
      // Approximate LRU (Map iteration order is insertion order): a key is moved to the end only
      // when more than maxKeys/2 keys were added since it last moved, so a hot key costs one lookup.
      if (this.#insertions - st.moved > this.#s.maxKeys / 2) {
        this.#keys.delete(key)
        this.#keys.set(key, st)
        st.moved = ++this.#insertions
      }
      return st
    }
    st = new KeyState(key, this.#s.perKey ? new Bucket(this.#s.perKey, now) : null)
    st.moved = ++this.#insertions
    this.#keys.set(key, st)
    if (this.#keys.size > this.#s.maxKeys) {
      const oldest = this.#keys.values().next().value as KeyState
      this.#keys.delete(oldest.key)
      if (oldest.digest) {
        this.#overflowDigest(now).merge(oldest.digest, this.#s.digestMaxListed)
        this.#close(oldest)
      }
    }
    return st
  }

  #fingerprint(event: Event): string {
    if (this.#s.dedupBy === 'data') return event.log_level + '\u0000' + dataText(event).slice(0, DATA_CHARS)
    return event.log_level + '\u0000' + messageOf(event).slice(0, MESSAGE_CHARS)
  }
}

function dataText(event: Event): string {
  const json = (event as { dataJson?: unknown }).dataJson
  return typeof json === 'string' ? json : safeJsonStringify(event.event_data)
}

/** The message of an event: `event_data` when a string, else its `message` (or pino's `msg`), else the data's JSON. */
export function messageOf(event: Event): string {
  const data = event.event_data
  if (typeof data === 'string') return data
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const m = (data as Record<string, unknown>).message ?? (data as Record<string, unknown>).msg
    if (typeof m === 'string') return m
  }
  return dataText(event)
}

/** The key function for the settings: `key` when given (a throwing key function falls back to `keyBy`). */
export function makeKeyFunction(s: Pick<StormSettings, 'keyBy' | 'key'>): (event: Event) => string {
  const parts = s.keyBy.map((f): ((e: Event) => string) => {
    if (f === 'event_type') return (e) => e.event_type
    if (f === 'log_level') return (e) => String(e.log_level)
    if (f === 'source') {
      return (e) => {
        let out = ''
        const src = e.source as Record<string, string | null | undefined> | undefined
        if (!src) return out
        for (const name of OWNERSHIP_FIELDS) {
          const v = src[name]
          if (v !== undefined && v !== null) out += (out ? ',' : '') + name + '=' + v
        }
        return out
      }
    }
    return (e) => `${f}=${(e.source as Record<string, string | undefined> | undefined)?.[f] ?? ''}`
  })
  const byFields = (e: Event): string => {
    let out = parts[0](e)
    for (let i = 1; i < parts.length; i++) out += '|' + parts[i](e)
    return out
  }
  const custom = s.key
  if (!custom) return byFields
  return (e) => {
    try {
      return String(custom(e))
    } catch {
      return byFields(e)
    }
  }
}
