/**
 * Analyzers: MADSci's utilization reports over stored events (streamed, constant memory), live
 * analyzers with a plugin interface, anomaly detectors, and event counts for the aggregation route.
 *
 * Not exported on purpose: the per-session accumulators and bucket internals (their shapes follow
 * upstream's private helpers and may change); use the report functions.
 */

// Reports (GET /utilization/sessions, /utilization/periods, /utilization/user)
export { sessionUtilizationReport, newDiagnostics, type SessionReportOptions, type ReportOptions, type ReportJson, type ReportDiagnostics } from './session-report.js'
export { utilizationPeriodsReport, userSummaryFrom, type PeriodsReportOptions } from './periods-report.js'
export { userUtilizationReport, type UserReportOptions } from './user-report.js'
export type { LookupMode } from './lookups.js'

// Route parameters and error answers
export { parseTimeParam, parseBoolParam, presentTime, serverLocalZone, ERROR_ANSWERS, type TimeInput, type NaiveAs } from './params.js'
export { PyValueError, pyFromIsoformat, isoNaive, isoUtcAware } from './pytime.js'

// Sources
export { eventsReader, analysisPeriod, databaseRange, type ReportSource } from './source.js'

// Time zones and buckets
export { resolveTimeZone, localTimeZone, isKnownTimeZone, type TimeZone } from './zone.js'
export { createBuckets, bucketUnit, type TimeBucket, type PeriodInfo, type AnalysisType } from './buckets.js'

// Python number semantics (also used by the CSV exporter)
export { pyRound, pyFixed, pyFloatRepr } from './pynum.js'

// Live analyzers and the plugin interface
export {
  isAnomalyEvent,
  anomalyEvent,
  type Analyzer,
  type AnalyzerContext,
  type AnalyzerFactory,
  type AnalysisRange,
  type AnomalyEventData,
} from './analyzer.js'
export {
  createAnalyzerHost,
  ANALYZER_HOST_DEFAULTS,
  BUILTIN_ANALYZERS,
  type AnalyzerHost,
  type AnalyzerHostOptions,
  type AnalyzerHostStats,
  type AnalyzerStats,
} from './host.js'
export { ErrorRateDetector, ERROR_RATE_DEFAULTS, type ErrorRateResult } from './detectors/error-rate.js'
export { SilenceDetector, SILENCE_DEFAULTS } from './detectors/silence.js'
export { BurstDetector, BURST_DEFAULTS } from './detectors/burst.js'
export { UtilizationAnalyzer, UTILIZATION_ANALYZER_DEFAULTS } from './report-analyzer.js'

// Aggregation route
export {
  aggregateEvents,
  bucketOf,
  type AggregateOptions,
  type AggregateResult,
  type AggregateKey,
  type AggregateBucket,
  type AggregateBucketCounts,
} from './aggregate.js'
