/**
 * madsci-events: MADSci Events for Node.js.
 *
 * Exported here: the logger (`createEventLogger`, `withOwnership`, `handleShutdown`), the event
 * model (types, levels, validation, serialization), the stores (as sinks and readers), the pipeline
 * (for custom sinks), errors and warnings. Deliberately not exported: the pipeline's internal
 * queue, spool and delivery classes (their behaviour is configured through options), and anything
 * of the server adapter (`madsci-events/server`) or the pino transport (`madsci-events/transport`).
 */
// No side effect at import: the exit and signal handling of pipeline/exit.ts is installed by the
// first logger created (or by importing `madsci-events/transport` in the main thread).
export { createEventLogger, type EventLoggerOptions, type MongoSinkOptions, type EventManagerSinkOptions, type FileSinkOptions } from './logger/create.js'
export { EventLogger, type LogFields, type ChildBindings } from './logger/logger.js'
export { withOwnership, currentOwnership } from './logger/ownership.js'
export { handleShutdown, type ShutdownOptions } from './pipeline/shutdown.js'
export type { CloseReport, PipelineStats, PipelineEventMap, SpoolConfig, EventConsumer } from './pipeline/pipeline.js'
export type { DeliveryStats, OverflowPolicy } from './pipeline/delivery.js'
export type { FsyncPolicy } from './pipeline/spool.js'

export * from './event/index.js'

export { MongoStore, MADSCI_SCHEMA_VERSION, type MongoStoreOptions } from './stores/mongo.js'
export { HttpStore, normalizeBaseUrl, type HttpStoreOptions } from './stores/http.js'
export { FileStore, type FileStoreOptions } from './stores/file.js'
export { validateSelector, FORBIDDEN_OPERATORS, SELECTOR_LIMITS } from './stores/selector.js'
export type {
  Sink,
  Reader,
  ManagedStore,
  PipelineEvent,
  WriteResult,
  GetEventsOptions,
  QueryOptions,
  StreamOptions,
  ArchiveOptions,
  StoreHealth,
} from './stores/types.js'

export {
  MadsciError,
  isMadsciError,
  EventValidationError,
  ConfigError,
  QueryRefusedError,
  StoreUnavailableError,
  StoreRejectedError,
  ClosedError,
  SpoolError,
  TimeoutError,
  NotFoundError,
  PathNotAllowedError,
  type ValidationIssue,
} from './errors.js'
export { WARNINGS, type MadsciWarning, type WarningCode } from './warnings.js'
export {
  createAlertDispatcher,
  alertOptionsFromEnv,
  redactAlertOptions,
  EmailNotifier,
  WebhookNotifier,
  ConsoleNotifier,
  NotifierError,
  verifyWebhookSignature,
  type AlertOptions,
  type AlertDispatcher,
  type NotifierSpec,
  type Notifier,
  type Alert,
} from './notify/index.js'
export { loadPlugin, type PluginContext, type PluginSpec } from './plugins.js'
export {
  sessionUtilizationReport,
  utilizationPeriodsReport,
  userUtilizationReport,
  aggregateEvents,
  createAnalyzerHost,
  eventsReader,
  ErrorRateDetector,
  SilenceDetector,
  BurstDetector,
  UtilizationAnalyzer,
  BUILTIN_ANALYZERS,
  isAnomalyEvent,
  type Analyzer,
  type AnalyzerContext,
  type AnalyzerHost,
  type AnalyzerHostOptions,
  type AggregateOptions,
  type AggregateResult,
  type SessionReportOptions,
  type PeriodsReportOptions,
  type UserReportOptions,
  type ReportJson,
} from './analyze/index.js'
export type { AnalyzerEntry } from './analyze/host.js'
export {
  exportEventsCsv,
  exportEventsNdjson,
  EVENT_CSV_COLUMNS,
  reportToCsv,
  periodsChartSvg,
  nodeUtilizationChartSvg,
  neutralizeFormula,
  ProgressBar,
  type ExportOptions,
  type EventCsvOptions,
  type ExportResult,
  type ReportKind,
} from './export/index.js'
export { resolveMadsciDir } from './config/madsci-dir.js'
