/**
 * Session detection (SPEC §5.2) from the lifecycle events of a window: a session starts at each
 * `lab_start`/`workcell_start` and ends at the first matching stop after it, else at the next start
 * of the same id, else at the end of the window. Only lifecycle events are read for this (a
 * selector on the store), so the list in memory is as long as the number of sessions.
 */
import type { Event } from '../event/index.js'
import { SESSION_START_TYPES, SESSION_STOP_TYPES, LIFECYCLE_TYPES, sessionKeyOf, sessionNameOf, sessionTypeOf } from './extract.js'
import { dictGet } from './pynum.js'
import { seconds, unixSeconds } from './pytime.js'
import type { TimedEvent } from './source.js'

export type SessionType = 'lab' | 'workcell' | 'system' | 'default_analysis'

export interface Session {
  type: SessionType
  id: string
  /** The name upstream carries on the session object (`workcell_name`, `name`, or `Workcell <last8>`). */
  name: string
  start: number
  end: number
  durationSeconds: number
  /** The start event (absent for the default session). */
  startEvent?: Event
}

/** The selector for pass 1: lifecycle events only. */
export const LIFECYCLE_SELECTOR = { event_type: { $in: LIFECYCLE_TYPES } }

/** A collection of lifecycle events of a window, in time order, from which sessions are cut. */
export class LifecycleIndex {
  readonly starts: TimedEvent[] = []
  /** Stop times per id named by a stop event (any of its three id places). */
  readonly #stops = new Map<string, number[]>()

  add(item: TimedEvent): void {
    const type = item.event.event_type
    if (SESSION_START_TYPES.has(type)) this.starts.push(item)
    else if (SESSION_STOP_TYPES.has(type)) {
      const { source } = item.event
      const ids = new Set<string>()
      if (source.workcell_id) ids.add(source.workcell_id)
      if (source.manager_id) ids.add(source.manager_id)
      const wc = dictGet(item.event.event_data, 'workcell_id')
      if (typeof wc === 'string') ids.add(wc)
      for (const id of ids) {
        let list = this.#stops.get(id)
        if (!list) this.#stops.set(id, (list = []))
        list.push(item.t)
      }
    }
  }

  /** Sort once everything is added (the stream is time-ordered already; this makes ties stable). */
  seal(): void {
    this.starts.sort((a, b) => a.t - b.t)
    for (const list of this.#stops.values()) list.sort((a, b) => a - b)
  }

  /**
   * Sessions starting in [from, to], each ending at its first stop in (start, to], else the next
   * start of the same id in [from, to], else `to`.
   */
  sessions(from: number, to: number): Session[] {
    const starts = this.starts.filter((s) => s.t >= from && s.t <= to)
    const out: Session[] = []
    for (let i = 0; i < starts.length; i++) {
      const { event, t } = starts[i]
      const key = sessionKeyOf(event)
      const id = key ?? `system_${unixSeconds(t)}`
      let end: number | undefined
      const stops = this.#stops.get(id)
      if (stops) end = stops.find((s) => s > t && s <= to)
      if (end === undefined && key !== undefined) {
        for (let j = 0; j < starts.length; j++) {
          const other = starts[j]
          if (other.t > t && sessionKeyOf(other.event) === key && (end === undefined || other.t < end)) end = other.t
        }
      }
      end ??= to
      out.push({ type: sessionTypeOf(event), id, name: sessionNameOf(event, id), start: t, end, durationSeconds: seconds(t, end), startEvent: event })
    }
    return out
  }
}

/** The default session of a window without sessions (§5.2). */
export function defaultSession(start: number, end: number): Session {
  return {
    type: 'default_analysis',
    id: `analysis_${unixSeconds(start)}`,
    name: 'Complete Database Analysis',
    start,
    end,
    durationSeconds: seconds(start, end),
  }
}
