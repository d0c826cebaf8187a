/**
 * Bursts of one event type (or of one value of another key). Events are counted per key in
 * tumbling `windowMs` windows; the count over the last `windowMs` is estimated from the current and
 * previous windows (the sliding-window approximation rate limiters use). The baseline is an
 * exponential moving average of complete windows with half-life `baselineHalfLifeMs`. A burst is
 * `count ≥ minEvents` and `count > factor × max(baseline, 1)`, once the key has been seen for
 * `warmupMs`. State: one small record per key, at most `maxKeys`.
 */
import type { Event } from '../../event/index.js'
import { OWNERSHIP_FIELDS } from '../../event/index.js'
import { ConfigError } from '../../errors.js'
import { anomalyEvent, isAnomalyEvent, type Analyzer, type AnalyzerContext } from '../analyzer.js'
import { numberOption, reportingOptions, stringOption } from './options.js'

export const BURST_DEFAULTS = {
  /** What a burst is "of": `event_type`, `log_level`, or `source.<field>`. */
  key: 'event_type',
  /** Ten-second windows: a burst is something that floods within seconds. */
  windowMs: 10_000,
  /** At least 100 events in a window: smaller flurries are normal lab chatter. */
  minEvents: 100,
  /** Ten times the usual count for that window. */
  factor: 10,
  /** The usual count forgets with a ten-minute half-life. */
  baselineHalfLifeMs: 600_000,
  /** A key needs a minute of history before it can burst (a new type's first events are not a burst). */
  warmupMs: 60_000,
  /** One report per key per minute. */
  cooldownMs: 60_000,
  /** Bound on tracked keys (63 event types; more only for source keys). */
  maxKeys: 1_000,
  /** Bursts are often benign (a batch import, a chatty debug run): recorded, not alerted. */
  alert: false,
  eventType: 'log_warning',
  logLevel: 30,
}

interface KeyState {
  windowStart: number
  count: number
  previous: number
  /** Exponential moving average of window counts, and the weight it has gathered (bias correction). */
  baseline: number
  weight: number
  firstSeen: number
  cooldownUntil: number
}

function keyReader(key: string): (event: Event) => string | undefined {
  if (key === 'event_type') return (e) => e.event_type
  if (key === 'log_level') return (e) => String(e.log_level)
  if (key.startsWith('source.')) {
    const field = key.slice(7)
    if (!(OWNERSHIP_FIELDS as readonly string[]).includes(field)) {
      throw new ConfigError('analyzers.burst.key', `${JSON.stringify(field)} is not a source field; use one of ${OWNERSHIP_FIELDS.join(', ')}`)
    }
    return (e) => e.source[field as keyof Event['source']]
  }
  throw new ConfigError('analyzers.burst.key', `expected event_type, log_level or source.<field>, got ${JSON.stringify(key)}`)
}

export class BurstDetector implements Analyzer {
  readonly name: string
  readonly #ctx: AnalyzerContext
  readonly #key: string
  readonly #read: (event: Event) => string | undefined
  readonly #windowMs: number
  readonly #minEvents: number
  readonly #factor: number
  readonly #decay: number
  readonly #warmupMs: number
  readonly #cooldownMs: number
  readonly #maxKeys: number
  readonly #report: { alert: boolean; eventType: string; logLevel: number }
  readonly #keys = new Map<string, KeyState>()
  #bursts = 0
  #lastBurst: Record<string, unknown> | null = null

  constructor(options: Record<string, unknown>, context: AnalyzerContext) {
    const p = 'analyzers.burst.'
    this.name = typeof options.name === 'string' && options.name ? options.name : 'burst'
    this.#ctx = context
    this.#key = stringOption(options, 'key', BURST_DEFAULTS.key, p)
    this.#read = keyReader(this.#key)
    this.#windowMs = numberOption(options, 'windowMs', BURST_DEFAULTS.windowMs, 1, p)
    this.#minEvents = numberOption(options, 'minEvents', BURST_DEFAULTS.minEvents, 1, p)
    this.#factor = numberOption(options, 'factor', BURST_DEFAULTS.factor, 1, p)
    const halfLife = numberOption(options, 'baselineHalfLifeMs', BURST_DEFAULTS.baselineHalfLifeMs, 1, p)
    /** Weight kept by the old baseline per window. */
    this.#decay = Math.pow(2, -this.#windowMs / halfLife)
    this.#warmupMs = numberOption(options, 'warmupMs', BURST_DEFAULTS.warmupMs, 0, p)
    this.#cooldownMs = numberOption(options, 'cooldownMs', BURST_DEFAULTS.cooldownMs, 0, p)
    this.#maxKeys = numberOption(options, 'maxKeys', BURST_DEFAULTS.maxKeys, 1, p)
    this.#report = reportingOptions(options, BURST_DEFAULTS, p)
  }

  #roll(s: KeyState, now: number): void {
    if (now < s.windowStart + this.#windowMs) return
    const windows = Math.floor((now - s.windowStart) / this.#windowMs)
    // The window that just closed enters the baseline; empty ones in between count as zeros. The
    // average starts at 0, so it is divided by the weight gathered (like Adam's bias correction):
    // after one window the baseline is that window's count, not a tenth of it.
    s.baseline = this.#decay * s.baseline + (1 - this.#decay) * s.count
    s.weight = this.#decay * s.weight + (1 - this.#decay)
    if (windows > 1) {
      const f = Math.pow(this.#decay, windows - 1)
      s.baseline *= f
      s.weight = f * s.weight + (1 - f)
    }
    s.previous = windows === 1 ? s.count : 0
    s.count = 0
    s.windowStart += windows * this.#windowMs
  }

  onEvent(event: Event): void {
    if (isAnomalyEvent(event)) return
    const k = this.#read(event)
    if (k === undefined) return
    const now = this.#ctx.now()
    let s = this.#keys.get(k)
    if (!s) {
      if (this.#keys.size >= this.#maxKeys) return
      s = { windowStart: Math.floor(now / this.#windowMs) * this.#windowMs, count: 0, previous: 0, baseline: 0, weight: 0, firstSeen: now, cooldownUntil: -Infinity }
      this.#keys.set(k, s)
    }
    this.#roll(s, now)
    s.count++
    if (now - s.firstSeen < this.#warmupMs || now < s.cooldownUntil) return
    const elapsed = (now - s.windowStart) / this.#windowMs
    const estimate = s.count + s.previous * (1 - elapsed)
    const usual = s.weight > 0 ? s.baseline / s.weight : 0
    const expected = Math.max(usual, 1)
    if (estimate < this.#minEvents || estimate <= this.#factor * expected) return
    s.cooldownUntil = now + this.#cooldownMs
    this.#bursts++
    const anomaly = {
      kind: 'event_burst',
      key: this.#key,
      value: k,
      window_ms: this.#windowMs,
      count: Math.round(estimate),
      baseline_per_window: usual,
      factor: estimate / expected,
    }
    this.#lastBurst = anomaly
    this.#ctx.log(
      anomalyEvent(
        this.name,
        `Burst of ${this.#key}=${k}: about ${Math.round(estimate)} events in ${this.#windowMs / 1000} s, ${(estimate / expected).toFixed(1)}× the usual ${usual.toFixed(1)}`,
        anomaly,
        this.#report,
      ),
    )
  }

  onTick(now: number): void {
    for (const s of this.#keys.values()) this.#roll(s, now)
  }

  result(): { key: string; tracked: number; bursts: number; lastBurst: Record<string, unknown> | null; baselines: Record<string, number> } {
    const baselines: Record<string, number> = {}
    for (const [k, s] of this.#keys) baselines[k] = s.weight > 0 ? s.baseline / s.weight : 0
    return { key: this.#key, tracked: this.#keys.size, bursts: this.#bursts, lastBurst: this.#lastBurst, baselines }
  }
}

export function create(options: Record<string, unknown>, context: AnalyzerContext): BurstDetector {
  return new BurstDetector(options, context)
}
