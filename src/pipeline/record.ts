import type { EventLogLevel } from '../event/levels.js'
import type { Event, OwnershipInfo } from '../event/model.js'
import { eventToJson } from '../event/serialize.js'
import type { EventType } from '../event/types.js'
import type { PipelineEvent } from '../stores/types.js'

/**
 * The event the logger hands to the pipeline. `event_data` is kept as the JSON text made at call
 * time (a snapshot: later mutation of the caller's object changes nothing) and parsed only when
 * someone reads `event_data` (a MongoDB write, a live-stream listener). JSON sinks use `dataJson`.
 */
export class LoggedEvent implements PipelineEvent {
  readonly event_id: string
  readonly event_type: EventType
  readonly log_level: EventLogLevel
  readonly alert: boolean
  readonly event_timestamp: string
  readonly source: OwnershipInfo
  readonly dataJson: string
  readonly trace_id: string | null
  readonly span_id: string | null
  readonly archived = false
  readonly archived_at = null
  #data: unknown = undefined
  #parsed = false

  constructor(
    id: string,
    type: EventType,
    level: EventLogLevel,
    alert: boolean,
    timestamp: string,
    source: OwnershipInfo,
    dataJson: string,
    traceId: string | null,
    spanId: string | null,
  ) {
    this.event_id = id
    this.event_type = type
    this.log_level = level
    this.alert = alert
    this.event_timestamp = timestamp
    this.source = source
    this.dataJson = dataJson
    this.trace_id = traceId
    this.span_id = spanId
  }

  get event_data(): unknown {
    if (!this.#parsed) {
      this.#data = JSON.parse(this.dataJson)
      this.#parsed = true
    }
    return this.#data
  }

  toJSON(): Record<string, unknown> {
    return JSON.parse(eventToJson(this, 'event_id', this.dataJson))
  }
}

/** Approximate memory/wire size of an event, for byte-bounded queues and batches. */
export function eventBytes(event: PipelineEvent): number {
  // ~300 bytes for the fixed fields and object overhead, plus the data.
  return 300 + (event.dataJson !== undefined ? event.dataJson.length : 200)
}

/** The client/log-form JSON of any pipeline event, reusing its `dataJson` when it has one. */
export function pipelineEventJson(event: PipelineEvent, idKey: 'event_id' | '_id' = 'event_id'): string {
  return eventToJson(event as Event, idKey, event.dataJson)
}
