/**
 * Error-rate spikes against a rolling baseline. Errors (events at or above `level`) are counted per
 * `windowMs` window of the host clock; the baseline is the mean and standard deviation of the last
 * `baselineWindows` complete windows. A spike is a current window whose count reaches
 * `max(minErrors, mean + zScore × max(stddev, √max(mean, 1)))` — the square-root floor is the Poisson
 * noise of a count, so a perfectly quiet baseline does not make a single error an anomaly.
 * State: one ring of `baselineWindows` counts.
 */
import type { Event } from '../../event/index.js'
import { anomalyEvent, isAnomalyEvent, type Analyzer, type AnalyzerContext } from '../analyzer.js'
import { numberOption, reportingOptions } from './options.js'

export const ERROR_RATE_DEFAULTS = {
  /** ERROR (40) and CRITICAL (50): warnings are routine in a lab. */
  level: 40,
  /** One-minute windows: error bursts in instruments play out over seconds to minutes. */
  windowMs: 60_000,
  /** Thirty windows (half an hour) of history: a baseline that adapts to a new normal within the hour. */
  baselineWindows: 30,
  /** No verdicts before five windows of history: a fresh process has no baseline. */
  minBaselineWindows: 5,
  /** Four standard deviations: rare by chance (well under 1 in 10 000 windows for a Gaussian). */
  zScore: 4,
  /** A spike needs at least ten errors in a window, whatever the baseline. */
  minErrors: 10,
  /** One report per five minutes: a spike is one incident, not one message per error. */
  cooldownMs: 300_000,
  /** Spikes raise an alert (notifiers see `alert: true`). */
  alert: true,
  eventType: 'log_warning',
  logLevel: 30,
} as const

export interface ErrorRateResult {
  windowMs: number
  currentCount: number
  baseline: { mean: number; stddev: number; windows: number }
  threshold: number | null
  spikes: number
  lastSpike: Record<string, unknown> | null
}

export class ErrorRateDetector implements Analyzer {
  readonly name: string
  readonly #ctx: AnalyzerContext
  readonly #level: number
  readonly #windowMs: number
  readonly #ring: number[]
  readonly #minBaseline: number
  readonly #z: number
  readonly #minErrors: number
  readonly #cooldownMs: number
  readonly #report: { alert: boolean; eventType: string; logLevel: number }
  #filled = 0
  #pos = 0
  #window = -1
  #count = 0
  #cooldownUntil = -Infinity
  #spikes = 0
  #lastSpike: Record<string, unknown> | null = null

  constructor(options: Record<string, unknown>, context: AnalyzerContext) {
    const p = 'analyzers.error-rate.'
    this.name = typeof options.name === 'string' && options.name ? options.name : 'error-rate'
    this.#ctx = context
    this.#level = numberOption(options, 'level', ERROR_RATE_DEFAULTS.level, 0, p)
    this.#windowMs = numberOption(options, 'windowMs', ERROR_RATE_DEFAULTS.windowMs, 1, p)
    this.#ring = new Array(Math.max(1, Math.floor(numberOption(options, 'baselineWindows', ERROR_RATE_DEFAULTS.baselineWindows, 1, p)))).fill(0)
    this.#minBaseline = numberOption(options, 'minBaselineWindows', ERROR_RATE_DEFAULTS.minBaselineWindows, 0, p)
    this.#z = numberOption(options, 'zScore', ERROR_RATE_DEFAULTS.zScore, 0, p)
    this.#minErrors = numberOption(options, 'minErrors', ERROR_RATE_DEFAULTS.minErrors, 1, p)
    this.#cooldownMs = numberOption(options, 'cooldownMs', ERROR_RATE_DEFAULTS.cooldownMs, 0, p)
    this.#report = reportingOptions(options, ERROR_RATE_DEFAULTS, p)
  }

  #advance(now: number): void {
    const w = Math.floor(now / this.#windowMs)
    if (this.#window < 0) {
      this.#window = w
      return
    }
    if (w <= this.#window) return
    const closed = Math.min(w - this.#window, this.#ring.length + 1)
    for (let i = 0; i < closed; i++) {
      this.#ring[this.#pos] = i === 0 ? this.#count : 0
      this.#pos = (this.#pos + 1) % this.#ring.length
      this.#filled = Math.min(this.#filled + 1, this.#ring.length)
    }
    this.#window = w
    this.#count = 0
  }

  #baseline(): { mean: number; stddev: number; windows: number } {
    const n = this.#filled
    if (n === 0) return { mean: 0, stddev: 0, windows: 0 }
    let sum = 0
    for (let i = 0; i < n; i++) sum += this.#ring[(this.#pos - 1 - i + this.#ring.length) % this.#ring.length]
    const mean = sum / n
    let sq = 0
    for (let i = 0; i < n; i++) {
      const d = this.#ring[(this.#pos - 1 - i + this.#ring.length) % this.#ring.length] - mean
      sq += d * d
    }
    return { mean, stddev: Math.sqrt(sq / n), windows: n }
  }

  #threshold(b: { mean: number; stddev: number }): number {
    return Math.max(this.#minErrors, b.mean + this.#z * Math.max(b.stddev, Math.sqrt(Math.max(b.mean, 1))))
  }

  onEvent(event: Event): void {
    const now = this.#ctx.now()
    this.#advance(now)
    if (event.log_level < this.#level || isAnomalyEvent(event)) return
    this.#count++
    if (this.#filled < this.#minBaseline || now < this.#cooldownUntil) return
    const b = this.#baseline()
    const threshold = this.#threshold(b)
    if (this.#count < threshold) return
    this.#cooldownUntil = now + this.#cooldownMs
    this.#spikes++
    const anomaly = {
      kind: 'error_rate_spike',
      level: this.#level,
      window_ms: this.#windowMs,
      window_start: new Date(this.#window * this.#windowMs).toISOString(),
      count: this.#count,
      baseline_mean: b.mean,
      baseline_stddev: b.stddev,
      baseline_windows: b.windows,
      threshold,
    }
    this.#lastSpike = anomaly
    this.#ctx.log(
      anomalyEvent(
        this.name,
        `Error rate spike: ${this.#count} events at level >= ${this.#level} in ${this.#windowMs / 1000} s (baseline ${b.mean.toFixed(2)} ± ${b.stddev.toFixed(2)} per window)`,
        anomaly,
        this.#report,
      ),
    )
  }

  onTick(now: number): void {
    this.#advance(now)
  }

  result(): ErrorRateResult {
    const b = this.#baseline()
    return {
      windowMs: this.#windowMs,
      currentCount: this.#count,
      baseline: b,
      threshold: this.#filled >= this.#minBaseline ? this.#threshold(b) : null,
      spikes: this.#spikes,
      lastSpike: this.#lastSpike,
    }
  }
}

export function create(options: Record<string, unknown>, context: AnalyzerContext): ErrorRateDetector {
  return new ErrorRateDetector(options, context)
}
