import { LatencyWindow } from '../pipeline/latency.js'

/**
 * Which of several equivalent servers gets the next request, and which to avoid for a while.
 *
 * - A request goes to a healthy instance with the fewest requests in flight; ties go round-robin
 *   (from a random first instance), so batches spread evenly when every instance answers as fast.
 * - A failure takes the instance out for a backoff: exponential with full jitter from `baseMs`
 *   to `maxMs`, at least what the server asked for (`Retry-After`). When it ends, the instance
 *   gets one request at a time (a probe) until one succeeds, so a server that is still down costs
 *   one request per backoff, not a whole wave of them.
 * - Per instance: requests, events, failures, the last error, latency percentiles.
 */

export interface InstanceStats {
  /** The instance (a URL without credentials). */
  name: string
  /** Taking requests (false while backing off after a failure). */
  healthy: boolean
  inFlight: number
  /** Requests that succeeded, and the events they carried. */
  requests: number
  events: number
  /** Requests that failed (and were sent elsewhere, or retried). */
  failures: number
  /** Failures since the last success. */
  consecutiveFailures: number
  /** When it is tried again (epoch ms), while backing off. */
  retryAt?: number
  lastError?: string
  latencyMs: { p50: number; p99: number; max: number; count: number }
}

export interface InstanceSetOptions {
  /** First backoff ceiling. Default 250 ms. */
  baseMs?: number
  /** Longest backoff. Default 30 s. */
  maxMs?: number
  /** Clock and randomness (tests). */
  now?: () => number
  random?: () => number
}

interface Instance {
  name: string
  inFlight: number
  requests: number
  events: number
  failures: number
  consecutiveFailures: number
  retryAt: number
  lastError: string | undefined
  latency: LatencyWindow
}

export class InstanceSet {
  readonly #all: Instance[]
  readonly #baseMs: number
  readonly #maxMs: number
  readonly #now: () => number
  readonly #random: () => number
  #cursor = 0

  constructor(names: readonly string[], options: InstanceSetOptions = {}) {
    if (names.length === 0) throw new RangeError('InstanceSet needs at least one instance')
    this.#all = names.map((name) => ({ name, inFlight: 0, requests: 0, events: 0, failures: 0, consecutiveFailures: 0, retryAt: 0, lastError: undefined, latency: new LatencyWindow(256) }))
    this.#baseMs = options.baseMs ?? 250
    this.#maxMs = options.maxMs ?? 30_000
    this.#now = options.now ?? Date.now
    this.#random = options.random ?? Math.random
    // Many clients started together do not all begin with the first instance.
    this.#cursor = Math.floor(this.#random() * names.length) % names.length
  }

  get size(): number {
    return this.#all.length
  }

  /**
   * The instance for the next request (its index), skipping `exclude` (those already tried for
   * this request); undefined when every other one is backing off or probing.
   */
  pick(exclude: ReadonlySet<number> = new Set()): number | undefined {
    const now = this.#now()
    let best: number | undefined
    const n = this.#all.length
    for (let k = 0; k < n; k++) {
      const i = (this.#cursor + k) % n
      const inst = this.#all[i]
      if (exclude.has(i) || inst.retryAt > now) continue
      // Recovering: one request at a time until one succeeds.
      if (inst.consecutiveFailures > 0 && inst.inFlight > 0) continue
      if (best === undefined || inst.inFlight < this.#all[best].inFlight) best = i
    }
    if (best !== undefined) this.#cursor = (best + 1) % n
    return best
  }

  /** Milliseconds until the first instance that is backing off may be tried (0 if one may now). */
  waitMs(): number {
    const now = this.#now()
    let soonest = Number.POSITIVE_INFINITY
    for (const inst of this.#all) soonest = Math.min(soonest, Math.max(0, inst.retryAt - now))
    return soonest
  }

  /** A request to instance `i` starts; call `succeeded` or `failed` when it ends. */
  begin(i: number): void {
    this.#all[i].inFlight++
  }

  succeeded(i: number, events: number, latencyMs: number): void {
    const inst = this.#all[i]
    inst.inFlight--
    inst.requests++
    inst.events += events
    inst.consecutiveFailures = 0
    inst.retryAt = 0
    inst.latency.add(latencyMs)
  }

  /** The request failed: back off this instance (at least `retryAfterMs` when the server said so). */
  failed(i: number, err: Error, retryAfterMs?: number): void {
    const inst = this.#all[i]
    inst.inFlight--
    this.#backOff(inst, err, retryAfterMs)
  }

  /** A failure outside a request (discovery at open). */
  markDown(i: number, err: Error, retryAfterMs?: number): void {
    this.#backOff(this.#all[i], err, retryAfterMs)
  }

  /** A request that ended neither way (aborted by the caller): no verdict on the instance. */
  abandoned(i: number): void {
    this.#all[i].inFlight--
  }

  #backOff(inst: Instance, err: Error, retryAfterMs?: number): void {
    inst.failures++
    inst.consecutiveFailures++
    inst.lastError = err.message
    const ceiling = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(inst.consecutiveFailures - 1, 30))
    // Full jitter, but never under half the ceiling: instances that failed together come back apart, not at once.
    const wait = Math.max(ceiling / 2 + this.#random() * (ceiling / 2), retryAfterMs ?? 0)
    inst.retryAt = Math.max(inst.retryAt, this.#now() + wait)
  }

  stats(): InstanceStats[] {
    const now = this.#now()
    return this.#all.map((inst) => {
      const s: InstanceStats = {
        name: inst.name,
        healthy: inst.retryAt <= now,
        inFlight: inst.inFlight,
        requests: inst.requests,
        events: inst.events,
        failures: inst.failures,
        consecutiveFailures: inst.consecutiveFailures,
        latencyMs: (({ p50, p99, max, count }) => ({ p50, p99, max, count }))(inst.latency.summary()),
      }
      if (inst.retryAt > now) s.retryAt = inst.retryAt
      if (inst.lastError !== undefined) s.lastError = inst.lastError
      return s
    })
  }
}
