import type { EventLogLevel } from './levels.js'
import type { EventType } from './types.js'

/** The ten MADSci ownership fields, in model order (the order they are serialized in). */
export const OWNERSHIP_FIELDS = [
  'user_id',
  'experiment_id',
  'campaign_id',
  'project_id',
  'node_id',
  'workcell_id',
  'lab_id',
  'step_id',
  'workflow_id',
  'manager_id',
] as const

export type OwnershipField = (typeof OWNERSHIP_FIELDS)[number]

/** `OwnershipInfo`: who emitted an event. Every value is a ULID; unset fields are omitted. */
export type OwnershipInfo = Partial<Record<OwnershipField, string>>

/**
 * A MADSci Event, as the Python model holds it. Field order is the model's order.
 *
 * - `event_timestamp` is a string in pydantic's datetime rendering (see `timestamp.ts`), never a `Date`.
 * - `archived_at` likewise (MongoDB stores it as a BSON Date; reads render it as Python does).
 */
export interface Event {
  event_id: string
  event_type: EventType
  log_level: EventLogLevel
  alert: boolean
  event_timestamp: string
  source: OwnershipInfo
  event_data: unknown
  trace_id: string | null
  span_id: string | null
  archived: boolean
  archived_at: string | null
}

/** What a caller may pass to build an Event: every field optional; `_id` accepted for `event_id`. */
export interface EventInput {
  _id?: string
  event_id?: string
  event_type?: EventType | Uppercase<EventType> | string
  log_level?: EventLogLevel | number | string
  alert?: boolean
  event_timestamp?: string | Date | number
  source?: OwnershipInfo | Record<string, string | null | undefined>
  event_data?: unknown
  trace_id?: string | null
  span_id?: string | null
  archived?: boolean
  archived_at?: string | Date | null
}

/** The Event's fields in model order, with the wire name of the id for each form. */
export const EVENT_FIELDS = [
  'event_id',
  'event_type',
  'log_level',
  'alert',
  'event_timestamp',
  'source',
  'event_data',
  'trace_id',
  'span_id',
  'archived',
  'archived_at',
] as const
