/**
 * The 63 MADSci `EventType` values, in upstream declaration order (also the OpenAPI enum order),
 * each with a one-line description. Values are lowercase snake_case; input matches case-insensitively.
 */
export const EVENT_TYPE_DESCRIPTIONS = {
  unknown: 'Uncategorized event',
  log: 'Generic log message',
  log_debug: 'Debug-level log message',
  log_info: 'Info-level log message',
  log_warning: 'Warning-level log message',
  log_error: 'Error-level log message',
  log_critical: 'Critical-level log message',
  test: 'Event used in tests only',
  lab_create: 'A lab was created',
  lab_start: 'A lab started',
  lab_stop: 'A lab stopped',
  node_create: 'A node was created',
  node_start: 'A node started',
  node_stop: 'A node stopped',
  node_config_update: "A node's configuration changed",
  node_status_update: "A node's status changed",
  node_error: 'A node reported an error',
  workcell_create: 'A workcell was created',
  workcell_start: 'A workcell started',
  workcell_stop: 'A workcell stopped',
  workcell_config_update: "A workcell's configuration changed",
  workcell_status_update: "A workcell's status changed",
  workflow_create: 'A workflow was created',
  workflow_start: 'A workflow started',
  workflow_complete: 'A workflow completed',
  workflow_abort: 'A workflow was aborted',
  experiment_create: 'An experiment was created',
  experiment_start: 'An experiment run started',
  experiment_complete: 'An experiment run completed',
  experiment_failed: 'An experiment run failed',
  experiment_cancelled: 'An experiment run was cancelled',
  experiment_pause: 'An experiment run was paused',
  experiment_continued: 'A paused experiment run continued',
  campaign_create: 'A campaign was created',
  campaign_start: 'A campaign started',
  campaign_complete: 'A campaign completed',
  campaign_abort: 'A campaign was aborted',
  action_status_change: "An action's status changed (legacy aggregate type)",
  resource_create: 'A resource was created',
  resource_update: 'A resource was updated',
  resource_delete: 'A resource was deleted',
  resource_allocate: 'A resource was allocated',
  resource_release: 'A resource was released',
  location_create: 'A location was created',
  location_update: 'A location was updated',
  location_delete: 'A location was deleted',
  attachment_create: 'A resource was placed at a location',
  attachment_delete: 'A resource was removed from a location',
  data_store: 'Data was stored',
  data_query: 'Data was queried',
  data_export: 'Data was exported',
  manager_start: 'A manager process started',
  manager_stop: 'A manager process stopped',
  manager_error: 'A manager process reported an error',
  manager_health_check: 'A manager health check ran',
  workflow_step_start: 'A workflow step started',
  workflow_step_complete: 'A workflow step completed',
  workflow_step_failed: 'A workflow step failed',
  action_start: 'An action started',
  action_complete: 'An action completed',
  action_failed: 'An action failed',
  backup_create: 'A backup was created',
  backup_restore: 'A backup was restored',
} as const

export type EventType = keyof typeof EVENT_TYPE_DESCRIPTIONS

/** All 63 values in declaration order. */
export const EVENT_TYPES: readonly EventType[] = Object.freeze(Object.keys(EVENT_TYPE_DESCRIPTIONS) as EventType[])

const byLowercase = new Map<string, EventType>(EVENT_TYPES.map((t) => [t, t]))

/** The `EventType` for a string, case-insensitively (`'LOG_INFO'` → `'log_info'`), or `undefined`. */
export function parseEventType(value: string): EventType | undefined {
  return byLowercase.get(value) ?? byLowercase.get(value.toLowerCase())
}

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && byLowercase.has(value)
}
