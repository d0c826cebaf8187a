/**
 * What the MADSci analyzers read out of one event (SPEC §5.1): experiment, node, action, status,
 * session and workflow fields, with upstream's precedence and Python truthiness. Non-object
 * `event_data` reads as `{}` (upstream raises on `.get` of a string and the report fails).
 */
import type { Event } from '../event/index.js'
import { EVENT_TYPES } from '../event/index.js'
import { dictGet, isDict, pyStr, pyTruthy } from './pynum.js'

function data(event: Event): Record<string, unknown> {
  return isDict(event.event_data) ? event.event_data : {}
}

function firstTruthy(...values: unknown[]): unknown {
  for (const v of values) if (pyTruthy(v)) return v
  return undefined
}

/** `source.experiment_id`, else `event_data.experiment_id`, else `event_data.experiment.{experiment_id,_id}`. */
export function experimentIdOf(event: Event): string | undefined {
  if (event.source.experiment_id) return event.source.experiment_id
  const d = data(event)
  if (pyTruthy(d.experiment_id)) return pyStr(d.experiment_id)
  const exp = d.experiment
  if (isDict(exp)) {
    const id = firstTruthy(exp.experiment_id, exp._id)
    if (id !== undefined) return pyStr(id)
  }
  return undefined
}

/** `source.node_id`, else `source.workcell_id`, else `event_data.node_id|node_name|node`. */
export function nodeIdOf(event: Event): string | undefined {
  if (event.source.node_id) return event.source.node_id
  if (event.source.workcell_id) return event.source.workcell_id
  const d = data(event)
  const id = firstTruthy(d.node_id, d.node_name, d.node)
  return id === undefined ? undefined : pyStr(id)
}

/** The first truthy of `event_data.action_id|action|task_id|_id|id`. */
export function actionIdOf(event: Event): string | undefined {
  const d = data(event)
  const id = firstTruthy(d.action_id, d.action, d.task_id, d._id, d.id)
  return id === undefined ? undefined : pyStr(id)
}

/** `str(event_data.get("status", "unknown"))`. */
export function statusOf(event: Event): string {
  const d = data(event)
  return Object.prototype.hasOwnProperty.call(d, 'status') ? pyStr(d.status) : 'unknown'
}

export const ACTION_STARTING = new Set(['running', 'started', 'in_progress'])
export const ACTION_ENDING = new Set(['completed', 'failed', 'cancelled', 'finished', 'succeeded'])

const ACTIVITY_PATTERNS = [
  'experiment_start',
  'experiment_complete',
  'experiment_failed',
  'experiment_cancelled',
  'workcell_start',
  'workcell_stop',
  'lab_start',
  'lab_stop',
  'node_start',
  'node_stop',
  'node_status_update',
  'action_status_change',
  'workflow_start',
  'workflow_complete',
]

/**
 * Types kept by upstream's activity filter (§5.3): no `log` in the name, and one of the activity
 * patterns as a substring. Computed from the 63 types with upstream's substring tests.
 */
export const ACTIVITY_TYPES: ReadonlySet<string> = new Set(
  EVENT_TYPES.filter((t) => !t.includes('log') && ACTIVITY_PATTERNS.some((p) => t.includes(p))),
)

export const EXPERIMENT_END_PATTERNS = ['experiment_complete', 'experiment_failed', 'experiment_cancelled']

/** Session start and stop types (§5.2). */
export const SESSION_START_TYPES: ReadonlySet<string> = new Set(['lab_start', 'workcell_start'])
export const SESSION_STOP_TYPES: ReadonlySet<string> = new Set(['workcell_stop', 'lab_stop'])
export const LIFECYCLE_TYPES = ['workcell_start', 'workcell_stop', 'lab_start', 'lab_stop']

/** `source.workcell_id || source.manager_id || event_data.workcell_id` (raw; may be undefined). */
export function sessionKeyOf(event: Event): string | undefined {
  if (event.source.workcell_id) return event.source.workcell_id
  if (event.source.manager_id) return event.source.manager_id
  const id = dictGet(event.event_data, 'workcell_id')
  return pyTruthy(id) ? pyStr(id) : undefined
}

/** Does a stop event name this session id in one of its three id places? */
export function stopMatches(event: Event, sessionId: string): boolean {
  return (
    event.source.workcell_id === sessionId ||
    event.source.manager_id === sessionId ||
    dictGet(event.event_data, 'workcell_id') === sessionId
  )
}

/** Session type from a start event's type: `lab`, `workcell` or `system`. */
export function sessionTypeOf(event: Event): 'lab' | 'workcell' | 'system' {
  if (event.event_type.includes('lab')) return 'lab'
  if (event.event_type.includes('workcell')) return 'workcell'
  return 'system'
}

/** `event_data.workcell_name || event_data.name || "Workcell <last8>"` (the session's own name). */
export function sessionNameOf(event: Event, sessionId: string): string {
  const d = data(event)
  const name = firstTruthy(d.workcell_name, d.name)
  return name === undefined ? `Workcell ${sessionId.slice(-8)}` : pyStr(name)
}

function nonBlank(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value.trim() : undefined
}

/**
 * The session name upstream *meant* to report (§5.4): `event_data.name`, then
 * `event_data.<type>_name`, from the session's start event; otherwise `"<Type> <last8>"`.
 */
export function resolvedSessionName(start: Event | undefined, sessionType: string, sessionId: string): string {
  if (start && (sessionType === 'lab' || sessionType === 'workcell')) {
    const d = data(start)
    const name = nonBlank(d.name) ?? nonBlank(d[`${sessionType}_name`])
    if (name) return name
  }
  return `${sessionType.charAt(0).toUpperCase()}${sessionType.slice(1).toLowerCase()} ${sessionId.slice(-8)}`
}

/** Node name candidate from a `node_start` event (`event_data.node_name`, trimmed), if any. */
export function nodeNameFrom(event: Event): string | undefined {
  const n = dictGet(event.event_data, 'node_name')
  return pyTruthy(n) ? (typeof n === 'string' ? n.trim() : pyStr(n)) : undefined
}

/** Does a `node_start` event name this node (`event_data.node_id`, `source.node_id`, `source.workcell_id`)? */
export function nodeStartMatches(event: Event, nodeId: string): boolean {
  return dictGet(event.event_data, 'node_id') === nodeId || event.source.node_id === nodeId || event.source.workcell_id === nodeId
}

/** Experiment name candidates of an `experiment_start` event, in upstream's order (§5.1). */
export function experimentNameFrom(event: Event): string | undefined {
  const d = data(event)
  const exp = isDict(d.experiment) ? d.experiment : undefined
  const design = exp && isDict(exp.experiment_design) ? exp.experiment_design : undefined
  return (
    nonBlank(d.experiment_name) ??
    nonBlank(d.name) ??
    nonBlank(exp?.name) ??
    nonBlank(design?.experiment_name) ??
    nonBlank(exp?.run_name)
  )
}

/** Does an `experiment_start` event carry this id in one of the four id places? */
export function experimentStartMatches(event: Event, id: string): boolean {
  const d = data(event)
  const exp = isDict(d.experiment) ? d.experiment : undefined
  return event.source.experiment_id === id || d.experiment_id === id || exp?._id === id || exp?.experiment_id === id
}

/**
 * The periods report's experiment name (§5.6.4): `event_data.experiment.experiment_design.experiment_name`
 * (any value, as upstream copies it), else `"Unknown Experiment"`.
 */
export function periodsExperimentName(event: Event): unknown {
  const exp = dictGet(event.event_data, 'experiment')
  if (!isDict(exp)) return 'Unknown Experiment'
  const design = Object.prototype.hasOwnProperty.call(exp, 'experiment_design') ? exp.experiment_design : {}
  if (!isDict(design)) return 'Unknown Experiment'
  return Object.prototype.hasOwnProperty.call(design, 'experiment_name') ? design.experiment_name : 'Unknown Experiment'
}

/** Workcell display-name candidates of a `workcell_start`/`lab_start` event (§5.6.4). */
export function workcellNameFrom(event: Event): string | undefined {
  const d = data(event)
  for (const v of [d.name, d.workcell_name, d.lab_name, d.display_name]) {
    if (typeof v === 'string' && v.trim() && !v.startsWith('Workcell ')) return v.trim()
  }
  return undefined
}

/** Is this event one that marks `id` as a workcell (§5.1 workcell test)? */
export function marksWorkcell(event: Event, id: string): boolean {
  if (event.source.workcell_id === id || event.source.manager_id === id) return true
  return LIFECYCLE_TYPES.includes(event.event_type) && dictGet(event.event_data, 'workcell_id') === id
}

/** The ids an event marks as workcells. */
export function workcellIdsMarkedBy(event: Event): string[] {
  const ids: string[] = []
  if (event.source.workcell_id) ids.push(event.source.workcell_id)
  if (event.source.manager_id) ids.push(event.source.manager_id)
  if (LIFECYCLE_TYPES.includes(event.event_type)) {
    const id = dictGet(event.event_data, 'workcell_id')
    if (typeof id === 'string' && id) ids.push(id)
  }
  return ids
}

// ------------------------------------------------------------------ workflows (§5.5)

/** Author: the first non-blank trimmed string of `author`, `definition_metadata.author`, `workflow_definition_metadata.author`. */
export function authorOf(eventData: unknown): string | undefined {
  const d = isDict(eventData) ? eventData : {}
  const flat = nonBlank(d.author)
  if (flat) return flat
  for (const key of ['definition_metadata', 'workflow_definition_metadata']) {
    const meta = d[key]
    if (isDict(meta)) {
      const a = nonBlank(meta.author)
      if (a) return a
    }
  }
  return undefined
}

/** Workflow name: `name`, else `workflow_name` (non-empty strings), else `"Unknown"`. */
export function workflowNameOf(eventData: unknown): string {
  const d = isDict(eventData) ? eventData : {}
  for (const key of ['name', 'workflow_name']) {
    const v = d[key]
    if (typeof v === 'string' && v) return v
  }
  return 'Unknown'
}

/** Completion status of a `workflow_complete` event (§5.5). */
export function completionStatusOf(eventData: unknown): string {
  const d = isDict(eventData) ? eventData : {}
  const status = d.status
  if (typeof status === 'string') return status
  if (isDict(status)) {
    for (const flag of ['completed', 'failed', 'cancelled', 'running']) if (pyTruthy(status[flag])) return flag
    const description = typeof status.description === 'string' ? status.description.toLowerCase() : ''
    for (const flag of ['completed', 'failed', 'cancelled', 'running']) if (description.includes(flag)) return flag
  }
  return 'completed'
}

/** Python `float(x)` for a duration: numbers, and strings that parse as one; otherwise undefined. */
export function floatOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value.trim()))) return Number(value.trim())
  return undefined
}
