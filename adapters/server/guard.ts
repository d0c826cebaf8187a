import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { detail, HttpError } from './http.js'
import type { ServerSettings } from './settings.js'

/**
 * Request guards: bearer-token auth (constant-time), MADSci's rate limiter (same limits, same
 * 429 body and `Retry-After` / `X-RateLimit-*` headers) and CORS.
 */

// ------------------------------------------------------------------ auth

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

/** Routes anyone may call: health probes, the docs, the viewer page (it asks for the token itself). */
export const PUBLIC_PATHS = new Set(['/health', '/docs', '/openapi.json', '/', '/ui', '/ui/', '/ui/app.js', '/ui/app.css', '/favicon.ico'])

export class TokenAuth {
  readonly #expected: Buffer | undefined
  constructor(token: string | null) {
    this.#expected = token ? digest(token) : undefined
  }

  get enabled(): boolean {
    return this.#expected !== undefined
  }

  /**
   * Throw 401 unless the request carries the token: `Authorization: Bearer <token>`, or
   * `?access_token=` for the live stream (browsers' EventSource and WebSocket cannot set headers).
   */
  check(req: IncomingMessage, path: string, query: URLSearchParams): void {
    if (!this.#expected || PUBLIC_PATHS.has(path) || req.method === 'OPTIONS') return
    const header = req.headers.authorization
    let given: string | undefined
    if (typeof header === 'string' && /^bearer /i.test(header)) given = header.slice(7).trim()
    else if (path.startsWith('/events/stream') || path.startsWith('/events/ws')) given = query.get('access_token') ?? undefined
    // Hash both sides: equal lengths for timingSafeEqual, and no early exit on a length mismatch.
    if (given === undefined || !timingSafeEqual(digest(given), this.#expected)) {
      throw detail(401, given === undefined ? 'Not authenticated' : 'Invalid token', { 'www-authenticate': 'Bearer' })
    }
  }
}

// ------------------------------------------------------------------ rate limiting

interface Window {
  hits: number[]
}

/** Sliding windows per client IP, as MADSci's middleware: long (300/60 s) and burst (50/1 s). */
export class RateLimiter {
  readonly #s: ServerSettings
  readonly #long = new Map<string, Window>()
  readonly #short = new Map<string, Window>()
  readonly #exempt: Set<string>
  #lastCleanup = Date.now()

  constructor(settings: ServerSettings) {
    this.#s = settings
    this.#exempt = new Set(settings.rate_limit_exempt_ips ?? ['127.0.0.1', '::1', '::ffff:127.0.0.1'])
  }

  #count(map: Map<string, Window>, ip: string, now: number, windowMs: number): Window {
    let w = map.get(ip)
    if (!w) {
      w = { hits: [] }
      map.set(ip, w)
    }
    const cutoff = now - windowMs
    let i = 0
    while (i < w.hits.length && w.hits[i] <= cutoff) i++
    if (i) w.hits.splice(0, i)
    return w
  }

  /** Record a request; throws 429 when over a limit, else returns the headers to add. */
  hit(ip: string): Record<string, string> {
    const s = this.#s
    if (!s.rate_limit_enabled || this.#exempt.has(ip)) return {}
    const now = Date.now()
    if (now - this.#lastCleanup > s.rate_limit_cleanup_interval * 1000) this.#cleanup(now)
    const longMs = s.rate_limit_window * 1000
    const long = this.#count(this.#long, ip, now, longMs)
    const headers: Record<string, string> = {}
    const reset = (w: Window, ms: number): string => String(Math.ceil(((w.hits[0] ?? now) + ms) / 1000))
    if (s.rate_limit_short_requests && s.rate_limit_short_window) {
      const shortMs = s.rate_limit_short_window * 1000
      const short = this.#count(this.#short, ip, now, shortMs)
      if (short.hits.length >= s.rate_limit_short_requests) {
        const retry = Math.max(1, Math.ceil((short.hits[0] + shortMs - now) / 1000))
        throw new HttpError(
          429,
          { detail: `Rate limit exceeded: ${s.rate_limit_short_requests} requests per ${s.rate_limit_short_window} seconds (burst limit)` },
          {
            'retry-after': String(retry),
            'x-ratelimit-limit': String(s.rate_limit_requests),
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': reset(short, shortMs),
            'x-ratelimit-burst-limit': String(s.rate_limit_short_requests),
            'x-ratelimit-burst-remaining': '0',
          },
        )
      }
      short.hits.push(now)
      headers['x-ratelimit-burst-limit'] = String(s.rate_limit_short_requests)
      headers['x-ratelimit-burst-remaining'] = String(s.rate_limit_short_requests - short.hits.length)
    }
    if (long.hits.length >= s.rate_limit_requests) {
      const retry = Math.max(1, Math.ceil((long.hits[0] + longMs - now) / 1000))
      throw new HttpError(
        429,
        { detail: `Rate limit exceeded: ${s.rate_limit_requests} requests per ${s.rate_limit_window} seconds` },
        { 'retry-after': String(retry), 'x-ratelimit-limit': String(s.rate_limit_requests), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset(long, longMs) },
      )
    }
    long.hits.push(now)
    headers['x-ratelimit-limit'] = String(s.rate_limit_requests)
    headers['x-ratelimit-remaining'] = String(s.rate_limit_requests - long.hits.length)
    headers['x-ratelimit-reset'] = reset(long, longMs)
    return headers
  }

  #cleanup(now: number): void {
    this.#lastCleanup = now
    for (const [map, ms] of [
      [this.#long, this.#s.rate_limit_window * 1000],
      [this.#short, (this.#s.rate_limit_short_window ?? 1) * 1000],
    ] as const) {
      for (const [ip, w] of map) if (!w.hits.length || w.hits[w.hits.length - 1] <= now - ms) map.delete(ip)
    }
  }
}

// ------------------------------------------------------------------ CORS

/** CORS headers for a request: every origin by default (as MADSci), or the configured list. */
export function corsHeaders(origins: string[], req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin
  if (!origin) return {}
  const allowed = origins.includes('*') ? '*' : origins.includes(origin) ? origin : undefined
  if (!allowed) return {}
  const h: Record<string, string> = { 'access-control-allow-origin': allowed }
  if (allowed !== '*') h.vary = 'Origin'
  if (req.method === 'OPTIONS') {
    h['access-control-allow-methods'] = 'GET, POST, DELETE, OPTIONS'
    h['access-control-allow-headers'] = String(req.headers['access-control-request-headers'] ?? 'authorization, content-type, x-request-id')
    h['access-control-max-age'] = '600'
  }
  h['access-control-expose-headers'] = 'x-request-id, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset'
  return h
}
