/**
 * Sources that go silent. A source is one value of a `source` field (`node_id`, `workcell_id`,
 * `manager_id` by default). Once it has spoken `minEvents` times, its usual gap between events is
 * tracked (an exponential moving average); it is silent when nothing came for
 * `gapFactor × usual gap`, but never sooner than `minSilenceMs` and always after `maxSilenceMs`.
 * Silence is checked on the host's tick; one report per silence, and (by default) one when the
 * source speaks again. State: one small record per source, at most `maxSources` (least recently
 * heard ones are forgotten first).
 */
import type { Event, OwnershipField } from '../../event/index.js'
import { OWNERSHIP_FIELDS } from '../../event/index.js'
import { ConfigError } from '../../errors.js'
import { anomalyEvent, isAnomalyEvent, type Analyzer, type AnalyzerContext } from '../analyzer.js'
import { booleanOption, numberOption, reportingOptions, stringListOption } from './options.js'

export const SILENCE_DEFAULTS = {
  /** Nodes, workcells and managers are the things that can die quietly. */
  keys: ['node_id', 'workcell_id', 'manager_id'] as const,
  /** Five events before a source's gap means anything. */
  minEvents: 5,
  /** Ten usual gaps of nothing: chatty sources are missed fast, quiet ones are not nagged. */
  gapFactor: 10,
  /** Never silent after less than a minute (bursty sources have tiny average gaps). */
  minSilenceMs: 60_000,
  /** Always silent after an hour of nothing. */
  maxSilenceMs: 3_600_000,
  /** Bound on tracked sources (≈100 bytes each). */
  maxSources: 10_000,
  /** Weight of the newest gap in the moving average. */
  gapSmoothing: 0.2,
  /** Record an info event when a silent source speaks again. */
  reportResume: true,
  alert: true,
  eventType: 'log_warning',
  logLevel: 30,
}

interface SourceState {
  field: OwnershipField
  id: string
  count: number
  last: number
  gap: number
  silentSince: number | null
}

export class SilenceDetector implements Analyzer {
  readonly name: string
  readonly #ctx: AnalyzerContext
  readonly #keys: OwnershipField[]
  readonly #minEvents: number
  readonly #gapFactor: number
  readonly #minSilence: number
  readonly #maxSilence: number
  readonly #maxSources: number
  readonly #alpha: number
  readonly #resume: boolean
  readonly #report: { alert: boolean; eventType: string; logLevel: number }
  /** Insertion order = least recently heard first (entries are re-inserted on every event). */
  readonly #sources = new Map<string, SourceState>()
  #silences = 0
  #resumes = 0

  constructor(options: Record<string, unknown>, context: AnalyzerContext) {
    const p = 'analyzers.silence.'
    this.name = typeof options.name === 'string' && options.name ? options.name : 'silence'
    this.#ctx = context
    const keys = stringListOption(options, 'keys', SILENCE_DEFAULTS.keys, p)
    for (const k of keys) {
      if (!(OWNERSHIP_FIELDS as readonly string[]).includes(k)) {
        throw new ConfigError(`${p}keys`, `${JSON.stringify(k)} is not a source field; use one of ${OWNERSHIP_FIELDS.join(', ')}`)
      }
    }
    this.#keys = keys as OwnershipField[]
    this.#minEvents = numberOption(options, 'minEvents', SILENCE_DEFAULTS.minEvents, 2, p)
    this.#gapFactor = numberOption(options, 'gapFactor', SILENCE_DEFAULTS.gapFactor, 1, p)
    this.#minSilence = numberOption(options, 'minSilenceMs', SILENCE_DEFAULTS.minSilenceMs, 0, p)
    this.#maxSilence = numberOption(options, 'maxSilenceMs', SILENCE_DEFAULTS.maxSilenceMs, this.#minSilence, p)
    this.#maxSources = numberOption(options, 'maxSources', SILENCE_DEFAULTS.maxSources, 1, p)
    this.#alpha = numberOption(options, 'gapSmoothing', SILENCE_DEFAULTS.gapSmoothing, 0, p)
    this.#resume = booleanOption(options, 'reportResume', SILENCE_DEFAULTS.reportResume, p)
    this.#report = reportingOptions(options, SILENCE_DEFAULTS, p)
  }

  onEvent(event: Event): void {
    if (isAnomalyEvent(event)) return
    const now = this.#ctx.now()
    for (const field of this.#keys) {
      const id = event.source[field]
      if (!id) continue
      const key = `${field}:${id}`
      let s = this.#sources.get(key)
      if (s) {
        this.#sources.delete(key)
        const gap = now - s.last
        s.gap = s.count === 1 ? gap : this.#alpha * gap + (1 - this.#alpha) * s.gap
        s.count++
        s.last = now
        if (s.silentSince !== null) {
          const silentFor = now - s.silentSince
          s.silentSince = null
          this.#resumes++
          if (this.#resume) {
            this.#ctx.log(
              anomalyEvent(
                this.name,
                `Source ${field}=${id} is speaking again after ${Math.round(silentFor / 1000)} s of silence`,
                { kind: 'source_resumed', field, id, silent_ms: silentFor },
                { alert: false, eventType: 'log_info', logLevel: 20 },
              ),
            )
          }
        }
      } else {
        s = { field, id, count: 1, last: now, gap: 0, silentSince: null }
        if (this.#sources.size >= this.#maxSources) {
          const oldest = this.#sources.keys().next().value
          if (oldest !== undefined) this.#sources.delete(oldest)
        }
      }
      this.#sources.set(key, s)
    }
  }

  /** How long a source may be quiet before it counts as silent. */
  #limit(s: SourceState): number {
    return Math.min(this.#maxSilence, Math.max(this.#minSilence, this.#gapFactor * s.gap))
  }

  onTick(now: number): void {
    for (const s of this.#sources.values()) {
      if (s.silentSince !== null || s.count < this.#minEvents) continue
      const quiet = now - s.last
      const limit = this.#limit(s)
      if (quiet < limit) continue
      s.silentSince = s.last
      this.#silences++
      this.#ctx.log(
        anomalyEvent(
          this.name,
          `Source ${s.field}=${s.id} has been silent for ${Math.round(quiet / 1000)} s (usually every ${(s.gap / 1000).toFixed(1)} s)`,
          {
            kind: 'source_silent',
            field: s.field,
            id: s.id,
            last_seen: new Date(s.last).toISOString(),
            silent_ms: quiet,
            usual_gap_ms: s.gap,
            limit_ms: limit,
            events_seen: s.count,
          },
          this.#report,
        ),
      )
    }
  }

  result(): { tracked: number; silent: Array<Record<string, unknown>>; silences: number; resumes: number } {
    const silent: Array<Record<string, unknown>> = []
    for (const s of this.#sources.values()) {
      if (s.silentSince !== null) silent.push({ field: s.field, id: s.id, last_seen: new Date(s.last).toISOString(), usual_gap_ms: s.gap })
    }
    return { tracked: this.#sources.size, silent, silences: this.#silences, resumes: this.#resumes }
  }
}

export function create(options: Record<string, unknown>, context: AnalyzerContext): SilenceDetector {
  return new SilenceDetector(options, context)
}
