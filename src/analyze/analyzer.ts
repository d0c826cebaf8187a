/**
 * The analyzer plugin interface. An analyzer sees the live stream (`onEvent`, incremental), can
 * analyse a time range of stored events (`analyze`, batch, over a store `Reader` in constant
 * memory), and reports plain JSON (`result`). It may record MADSci events of its own, and raise
 * alerts, through `context.log({ ..., alert: true })`.
 *
 * A module named in a spec (`{ module, options }`) exports `create(options, context)` (or a default
 * function) returning an `Analyzer`; options are plain data so the spec also works inside the pino
 * transport's worker thread.
 */
import type { Event, EventInput } from '../event/index.js'
import type { PluginContext } from '../plugins.js'
import type { ReportSource } from './source.js'

/** What an analyzer gets besides its options: a way to log, and the host's clock. */
export interface AnalyzerContext extends PluginContext {
  /** Milliseconds since the epoch; injectable for tests (`createAnalyzerHost(..., { now })`). */
  now(): number
}

/** A time range of stored events, in the routes' string form (string comparison on `event_timestamp`). */
export interface AnalysisRange {
  startTime?: string
  endTime?: string
}

export interface Analyzer {
  /** Name under which results and stats appear. Unique within a host. */
  readonly name: string
  /** One live event. Called off the logging path, in arrival order; keep it cheap (no I/O). */
  onEvent?(event: Event): void
  /** Time passes without events (the host calls this every `tickMs`, and on `flush`). */
  onTick?(now: number): void
  /** Analyse stored events of a range (stream them; don't load them all). */
  analyze?(source: ReportSource, range: AnalysisRange): Promise<unknown>
  /** The current result, as plain JSON. */
  result(): unknown
  flush?(): Promise<void>
  close?(): Promise<void>
}

/** The factory a module exports. */
export type AnalyzerFactory = (options: Record<string, unknown>, context: AnalyzerContext) => Analyzer | Promise<Analyzer>

/** The shape of the anomaly events the built-in detectors record. */
export interface AnomalyEventData {
  message: string
  analyzer: string
  anomaly: Record<string, unknown> & { kind: string }
}

/** Is this event one an analyzer recorded about an anomaly? Detectors ignore those (no feedback loops). */
export function isAnomalyEvent(event: Event): boolean {
  const d = event.event_data
  return typeof d === 'object' && d !== null && !Array.isArray(d) && 'anomaly' in d && 'analyzer' in d
}

/** Build the MADSci event an anomaly is reported as. */
export function anomalyEvent(
  name: string,
  message: string,
  anomaly: AnomalyEventData['anomaly'],
  options: { eventType: string; logLevel: number; alert: boolean },
): EventInput {
  return {
    event_type: options.eventType,
    log_level: options.logLevel,
    alert: options.alert,
    event_data: { message, analyzer: name, anomaly } satisfies AnomalyEventData,
  }
}
