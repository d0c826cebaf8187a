/**
 * The analyzer host: what the pipeline (or the pino transport's worker) feeds with every accepted
 * event. `offer()` only appends to a bounded queue (O(1), no I/O, never throws); the queue is
 * drained on the next turn of the event loop, in slices, into each analyzer's `onEvent`. A timer
 * (unref'd, so it never keeps the process alive) calls `onTick` for time-based detectors.
 * Failures of an analyzer are counted and reported as MADSci events, never thrown.
 */
import type { Event } from '../event/index.js'
import { serializeError } from '../event/index.js'
import { ConfigError } from '../errors.js'
import { isPluginSpec, loadPlugin, type PluginContext, type PluginSpec } from '../plugins.js'
import type { Analyzer, AnalyzerContext, AnalysisRange } from './analyzer.js'
import { BurstDetector } from './detectors/burst.js'
import { ErrorRateDetector } from './detectors/error-rate.js'
import { SilenceDetector } from './detectors/silence.js'
import { UtilizationAnalyzer } from './report-analyzer.js'
import type { ReportSource } from './source.js'

export const ANALYZER_HOST_DEFAULTS = {
  /** Events waiting for the analyzers; beyond this they are dropped and counted (analysis is best effort, logging is not). */
  queueSize: 10_000,
  /** Events per drain slice before yielding to the event loop. */
  sliceSize: 1_000,
  /** How often time-based detectors look at the clock. 5 s: silence is measured in minutes. 0 disables the timer. */
  tickMs: 5_000,
  /** At most one failure report per analyzer per minute (the count is in the report and in stats). */
  failureReportIntervalMs: 60_000,
} as const

/** The built-in analyzers, by the names usable as `{ module: 'builtin:<name>' }`. */
export const BUILTIN_ANALYZERS: Record<string, (options: Record<string, unknown>, context: AnalyzerContext) => Analyzer> = {
  'error-rate': (o, c) => new ErrorRateDetector(o, c),
  silence: (o, c) => new SilenceDetector(o, c),
  burst: (o, c) => new BurstDetector(o, c),
  utilization: (o, c) => new UtilizationAnalyzer(o, c),
}

export interface AnalyzerHostOptions {
  /** Clock in epoch milliseconds. Default `Date.now`. */
  now?: () => number
  queueSize?: number
  sliceSize?: number
  tickMs?: number
  failureReportIntervalMs?: number
}

export interface AnalyzerStats {
  events: number
  failures: number
  lastError: string | null
}

export interface AnalyzerHostStats {
  offered: number
  processed: number
  dropped: number
  pending: number
  emitted: number
  loadErrors: string[]
  analyzers: Record<string, AnalyzerStats>
}

export interface AnalyzerHost {
  /** Resolves when every spec is loaded (failed ones are left out and listed in `stats().loadErrors`). */
  readonly ready: Promise<void>
  /** Hand over one accepted event. O(1), synchronous, never throws. */
  offer(event: Event): void
  /** Run time-based checks now (the timer does this every `tickMs`). */
  tick(): void
  /** Each analyzer's current result, by name. */
  results(): Record<string, unknown>
  /** Run every analyzer that has `analyze()` over stored events; results by name (failures as `{ error }`). */
  analyze(source: ReportSource, range?: AnalysisRange): Promise<Record<string, unknown>>
  /** Process everything offered so far, tick, and flush the analyzers. */
  flush(): Promise<void>
  /** Flush, stop the timer, close the analyzers. Offers after close are dropped. */
  close(options?: { timeoutMs?: number }): Promise<void>
  stats(): AnalyzerHostStats
}

export type AnalyzerEntry = Analyzer | PluginSpec

function positive(value: number | undefined, fallback: number, option: string, min = 1): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new ConfigError(option, `expected a number ≥ ${min}, got ${JSON.stringify(value)}`)
  return value
}

/**
 * Create a host for analyzers given as objects or as module specs (`{ module, options }`;
 * `builtin:error-rate`, `builtin:silence`, `builtin:burst` name the built-in detectors,
 * `builtin:utilization` MADSci's reports as a batch analyzer).
 */
export function createAnalyzerHost(entries: readonly AnalyzerEntry[], context: PluginContext, options: AnalyzerHostOptions = {}): AnalyzerHost {
  const now = options.now ?? Date.now
  const queueSize = positive(options.queueSize, ANALYZER_HOST_DEFAULTS.queueSize, 'analyzers.queueSize')
  const sliceSize = positive(options.sliceSize, ANALYZER_HOST_DEFAULTS.sliceSize, 'analyzers.sliceSize')
  const tickMs = positive(options.tickMs, ANALYZER_HOST_DEFAULTS.tickMs, 'analyzers.tickMs', 0)
  const reportEvery = positive(options.failureReportIntervalMs, ANALYZER_HOST_DEFAULTS.failureReportIntervalMs, 'analyzers.failureReportIntervalMs', 0)

  const analyzers: Analyzer[] = []
  const perAnalyzer = new Map<Analyzer, AnalyzerStats & { lastReport: number; unreported: number }>()
  const loadErrors: string[] = []
  let emitted = 0
  const safeLog: AnalyzerContext['log'] = (event) => {
    emitted++
    try {
      context.log(event)
    } catch {
      // The context belongs to the pipeline; a failure there is its to report.
    }
  }
  const actx: AnalyzerContext = { log: safeLog, now }

  // Ring buffer queue.
  const queue: Array<Event | undefined> = new Array(queueSize)
  let head = 0
  let size = 0
  let offered = 0
  let processed = 0
  let dropped = 0
  let scheduled = false
  let closed = false
  let loading = true

  const add = (a: Analyzer): void => {
    if (analyzers.some((x) => x.name === a.name)) {
      loadErrors.push(`two analyzers are named ${JSON.stringify(a.name)}; give one a different \`name\` option`)
      return
    }
    analyzers.push(a)
    perAnalyzer.set(a, { events: 0, failures: 0, lastError: null, lastReport: -Infinity, unreported: 0 })
  }

  const failed = (a: Analyzer, phase: string, err: unknown): void => {
    const s = perAnalyzer.get(a)
    if (!s) return
    s.failures++
    s.unreported++
    s.lastError = err instanceof Error ? err.message : String(err)
    const t = now()
    if (t - s.lastReport < reportEvery) return
    s.lastReport = t
    const count = s.unreported
    s.unreported = 0
    safeLog({
      event_type: 'log_error',
      log_level: 40,
      event_data: {
        message: `Analyzer ${a.name} failed in ${phase} (${count} failure${count === 1 ? '' : 's'} since the last report): ${s.lastError}`,
        analyzer: a.name,
        phase,
        failures: count,
        error: err instanceof Error ? serializeError(err) : String(err),
      },
    })
  }

  const drain = (): void => {
    scheduled = false
    if (loading) return
    let n = 0
    while (size > 0 && n < sliceSize) {
      const event = queue[head] as Event
      queue[head] = undefined
      head = (head + 1) % queueSize
      size--
      n++
      processed++
      for (const a of analyzers) {
        if (!a.onEvent) continue
        const s = perAnalyzer.get(a) as AnalyzerStats
        s.events++
        try {
          a.onEvent(event)
        } catch (err) {
          failed(a, 'onEvent', err)
        }
      }
    }
    if (size > 0) schedule()
  }

  function schedule(): void {
    if (scheduled) return
    scheduled = true
    setImmediate(drain)
  }

  const tick = (): void => {
    const t = now()
    for (const a of analyzers) {
      if (!a.onTick) continue
      try {
        a.onTick(t)
      } catch (err) {
        failed(a, 'onTick', err)
      }
    }
  }

  const ready = (async () => {
    for (const entry of entries) {
      try {
        if (isPluginSpec(entry)) {
          const builtin = entry.module.startsWith('builtin:') ? BUILTIN_ANALYZERS[entry.module.slice(8)] : undefined
          if (entry.module.startsWith('builtin:') && !builtin) {
            throw new ConfigError('analyzers', `unknown built-in analyzer ${JSON.stringify(entry.module)}; built-ins are ${Object.keys(BUILTIN_ANALYZERS).map((n) => `builtin:${n}`).join(', ')}`)
          }
          const a = builtin ? builtin({ ...(entry.options ?? {}) }, actx) : await loadPlugin<Analyzer>(entry, actx, 'analyzers')
          if (!a || typeof a.result !== 'function' || typeof a.name !== 'string') {
            throw new ConfigError('analyzers', `the module ${JSON.stringify(entry.module)} did not return an analyzer (an object with \`name\` and \`result()\`)`)
          }
          add(a)
        } else add(entry)
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err)
        loadErrors.push(message)
        safeLog({ event_type: 'log_error', log_level: 40, event_data: { message: `Analyzer not loaded: ${message}`, error: err instanceof Error ? serializeError(err) : message } })
      }
    }
    loading = false
    if (size > 0) schedule()
  })()

  const timer = tickMs > 0 ? setInterval(tick, tickMs) : undefined
  timer?.unref?.()

  const flushAll = async (): Promise<void> => {
    await ready
    while (size > 0) drain()
    tick()
    for (const a of analyzers) {
      if (!a.flush) continue
      try {
        await a.flush()
      } catch (err) {
        failed(a, 'flush', err)
      }
    }
  }

  return {
    ready,
    offer(event: Event): void {
      if (closed) {
        dropped++
        return
      }
      offered++
      if (size >= queueSize) {
        dropped++
        return
      }
      queue[(head + size) % queueSize] = event
      size++
      if (!loading) schedule()
    },
    tick,
    results(): Record<string, unknown> {
      const out: Record<string, unknown> = {}
      for (const a of analyzers) {
        try {
          out[a.name] = a.result()
        } catch (err) {
          failed(a, 'result', err)
          out[a.name] = { error: err instanceof Error ? err.message : String(err) }
        }
      }
      return out
    },
    async analyze(source: ReportSource, range: AnalysisRange = {}): Promise<Record<string, unknown>> {
      await ready
      const out: Record<string, unknown> = {}
      for (const a of analyzers) {
        if (!a.analyze) continue
        try {
          out[a.name] = await a.analyze(source, range)
        } catch (err) {
          failed(a, 'analyze', err)
          out[a.name] = { error: err instanceof Error ? err.message : String(err) }
        }
      }
      return out
    },
    flush: flushAll,
    async close(opts: { timeoutMs?: number } = {}): Promise<void> {
      if (closed) return
      await flushAll()
      closed = true
      if (timer) clearInterval(timer)
      const timeoutMs = opts.timeoutMs ?? 5_000
      await Promise.all(
        analyzers.map(async (a) => {
          if (!a.close) return
          let t: NodeJS.Timeout | undefined
          try {
            await Promise.race([
              a.close(),
              new Promise((_, reject) => {
                t = setTimeout(() => reject(new Error(`did not close within ${timeoutMs} ms`)), timeoutMs)
                t.unref?.()
              }),
            ])
          } catch (err) {
            failed(a, 'close', err)
          } finally {
            if (t) clearTimeout(t)
          }
        }),
      )
    },
    stats(): AnalyzerHostStats {
      const per: Record<string, AnalyzerStats> = {}
      for (const [a, s] of perAnalyzer) per[a.name] = { events: s.events, failures: s.failures, lastError: s.lastError }
      return { offered, processed, dropped, pending: size, emitted, loadErrors: [...loadErrors], analyzers: per }
    },
  }
}
