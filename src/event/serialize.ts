import { safeJsonStringify } from './json-safe.js'
import { escapeKeys, unescapeKeys } from './keys.js'
import type { Event } from './model.js'
import { formatDateNaiveUtc } from './timestamp.js'
import { parseEvent } from './validate.js'

/**
 * The three forms of an Event, as MADSci writes them:
 *
 * - **client/log form** (`idKey: 'event_id'`): what the Python client POSTs and writes to its log;
 * - **response form** (`idKey: '_id'`): what the Event Manager answers;
 * - **document form**: the MongoDB document (`_id` = the event id, `event_timestamp` a string,
 *   `event_data` keys escaped, see `keys.ts`).
 *
 * JSON is compact, keys in model order (`_id, event_type, log_level, alert, event_timestamp,
 * source, event_data, trace_id, span_id, archived, archived_at`), `source` without nulls, in field order.
 */

export type IdKey = 'event_id' | '_id'

/** Compact JSON of an event in model order. `dataJson` may pass `event_data` already serialized. */
export function eventToJson(event: Event, idKey: IdKey = 'event_id', dataJson?: string): string {
  return (
    `{"${idKey}":${JSON.stringify(event.event_id)}` +
    `,"event_type":"${event.event_type}"` +
    `,"log_level":${event.log_level}` +
    `,"alert":${event.alert}` +
    `,"event_timestamp":${JSON.stringify(event.event_timestamp)}` +
    `,"source":${JSON.stringify(event.source)}` +
    `,"event_data":${dataJson ?? safeJsonStringify(event.event_data)}` +
    `,"trace_id":${event.trace_id === null ? 'null' : JSON.stringify(event.trace_id)}` +
    `,"span_id":${event.span_id === null ? 'null' : JSON.stringify(event.span_id)}` +
    `,"archived":${event.archived}` +
    `,"archived_at":${event.archived_at === null ? 'null' : JSON.stringify(event.archived_at)}}`
  )
}

/** The event as a plain object in model order (for `res.json`-style APIs). */
export function eventToObject(event: Event, idKey: IdKey = 'event_id'): Record<string, unknown> {
  return {
    [idKey]: event.event_id,
    event_type: event.event_type,
    log_level: event.log_level,
    alert: event.alert,
    event_timestamp: event.event_timestamp,
    source: event.source,
    event_data: event.event_data,
    trace_id: event.trace_id,
    span_id: event.span_id,
    archived: event.archived,
    archived_at: event.archived_at,
  }
}

/** The MongoDB document for an event (what Python's `Event.to_mongo()` writes), keys escaped. */
export function eventToDocument(event: Event): Record<string, unknown> {
  return {
    _id: event.event_id,
    event_type: event.event_type,
    log_level: event.log_level,
    alert: event.alert,
    event_timestamp: event.event_timestamp,
    source: event.source,
    event_data: escapeKeys(event.event_data),
    trace_id: event.trace_id,
    span_id: event.span_id,
    archived: event.archived,
    archived_at: event.archived_at,
  }
}

/**
 * An Event from a stored document (ours or Python's). BSON Dates (e.g. `archived_at` set by an
 * archive pass) are rendered as pymongo returns them: naive UTC with microseconds.
 */
export function documentToEvent(doc: Record<string, unknown>): Event {
  const input: Record<string, unknown> = { ...doc }
  if (input.event_timestamp instanceof Date) input.event_timestamp = formatDateNaiveUtc(input.event_timestamp)
  if (input.archived_at instanceof Date) input.archived_at = formatDateNaiveUtc(input.archived_at)
  if (input._id !== undefined && typeof input._id === 'object' && input._id !== null) input._id = String(input._id)
  input.event_data = unescapeKeys(input.event_data)
  return parseEvent(input)
}

/** Parse one JSON text (either id form) into an Event. */
export function eventFromJson(text: string): Event {
  return parseEvent(JSON.parse(text))
}
