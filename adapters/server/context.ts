import type { OwnershipInfo } from '../../src/event/model.js'
import type { LoggerCore } from '../../src/logger/logger.js'
import type { AlertDispatcher } from '../../src/notify/index.js'
import type { Pipeline } from '../../src/pipeline/pipeline.js'
import type { ManagedStore } from '../../src/stores/types.js'
import type { LiveHub } from './live.js'
import type { Metrics } from './metrics.js'
import type { Retention } from './retention.js'
import type { ServerSettings } from './settings.js'
import type { WriteOutcomes } from './write-outcomes.js'

/** What the route modules share. Built once by `createServer`. */
export interface ServerContext {
  settings: ServerSettings
  /** What the environment alone gives (no code overrides): the baseline of `/settings?include_defaults=false`. */
  settingsBaseline: ServerSettings
  store: ManagedStore
  core: LoggerCore
  pipeline: Pipeline
  live: LiveHub
  retention: Retention
  metrics: Metrics
  /** The server's own ownership (its `manager_id`), the default `source` of posted events. */
  ownership: OwnershipInfo
  version: string
  /** The alert dispatcher, when email_alerts or other notifiers are configured. */
  alerts?: AlertDispatcher
  /** Extra `/settings` redaction for plugin options (email). */
  redactEmail?: (cfg: Record<string, unknown>) => Record<string, unknown>
  /** Prometheus lines from plugins (alerts). */
  extraMetrics: Array<() => string>
  /** What the store's writes said of the ids POST /event waits for (already stored or not). */
  writeOutcomes: WriteOutcomes
}
