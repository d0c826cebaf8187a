/**
 * Retry timing, in one place: exponential backoff with full jitter
 * (delay = random(0, min(max, base × 2^attempt))); when the store said how long to wait
 * (`Retry-After` on 429/503) we wait at least that long (up to 5 minutes, even past `maxMs`).
 */
export interface BackoffOptions {
  /** First retry ceiling. 100 ms: a restarted server is often back within a fraction of a second. */
  baseMs: number
  /** Longest wait. 30 s: long enough not to hammer a struggling store, short enough to notice it is back. */
  maxMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 30_000 }

export function retryDelay(attempt: number, options: BackoffOptions, retryAfterMs?: number, random = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30))
  const jitter = Math.floor(random() * ceiling)
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    // Wait at least as long as asked (never less: a `Retry-After: 0` storm must not become a hot loop).
    return Math.min(Math.max(retryAfterMs, jitter), Math.max(options.maxMs, Math.min(retryAfterMs, 5 * 60_000)))
  }
  return jitter
}

/**
 * Milliseconds to wait from an HTTP `Retry-After` value (delta-seconds or an HTTP date), or from
 * `X-RateLimit-Reset` (epoch seconds) when that is all there is. `undefined` when neither parses.
 */
export function parseRetryAfter(retryAfter: string | undefined | null, rateLimitReset?: string | null, now = Date.now()): number | undefined {
  if (retryAfter) {
    const trimmed = retryAfter.trim()
    if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000)
    const date = Date.parse(trimmed)
    if (!Number.isNaN(date)) return Math.max(0, date - now)
  }
  if (rateLimitReset) {
    const reset = Number(rateLimitReset)
    if (Number.isFinite(reset)) {
      // Epoch seconds (MADSci) or, if small, seconds from now.
      return reset > 1e9 ? Math.max(0, reset * 1000 - now) : Math.round(reset * 1000)
    }
  }
  return undefined
}
