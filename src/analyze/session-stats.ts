/**
 * Utilization inside one session (SPEC §5.3), computed incrementally: events are fed once, in time
 * order, and the state kept is per experiment and per node (merged period totals, open periods,
 * running actions), never per event.
 */
import type { Event } from '../event/index.js'
import { ACTION_ENDING, ACTION_STARTING, EXPERIMENT_END_PATTERNS, actionIdOf, experimentIdOf, nodeIdOf, statusOf } from './extract.js'
import { pyFixed, pyRound } from './pynum.js'
import { isoNaive, seconds } from './pytime.js'
import type { Session } from './sessions.js'

/** Sum of merged periods, fed in order of non-decreasing start (upstream sorts, then merges). */
class MergedTotal {
  total = 0
  count = 0
  #start = 0
  #end = 0
  #open = false

  add(start: number, end: number): void {
    this.count++
    if (this.#open && start <= this.#end) {
      if (end > this.#end) this.#end = end
      return
    }
    if (this.#open) this.total += seconds(this.#start, this.#end)
    this.#start = start
    this.#end = end
    this.#open = true
  }

  /** The total with the last period closed. */
  result(): number {
    return this.#open ? this.total + seconds(this.#start, this.#end) : this.total
  }
}

class NodeTracker {
  activeStart: number | null = null
  busyStart: number | null = null
  readonly actions = new Set<string>()
  readonly active = new MergedTotal()
  readonly busy = new MergedTotal()

  onEvent(event: Event, t: number): void {
    switch (event.event_type) {
      case 'node_start':
        if (this.activeStart === null) this.activeStart = t
        break
      case 'node_stop':
        if (this.activeStart !== null) {
          this.active.add(this.activeStart, t)
          this.activeStart = null
        }
        if (this.busyStart !== null) {
          this.busy.add(this.busyStart, t)
          this.busyStart = null
        }
        this.actions.clear()
        break
      case 'action_status_change': {
        const action = actionIdOf(event)
        if (action === undefined) return
        const status = statusOf(event)
        if (ACTION_STARTING.has(status)) {
          if (!this.actions.has(action)) {
            this.actions.add(action)
            if (this.busyStart === null) this.busyStart = t
          }
        } else if (ACTION_ENDING.has(status)) {
          if (this.actions.delete(action) && this.actions.size === 0 && this.busyStart !== null) {
            this.busy.add(this.busyStart, t)
            this.busyStart = null
          }
        }
        break
      }
    }
  }
}

/** Numbers of one node in one session, before names and rounding. */
export interface NodeNumbers {
  totalSeconds: number
  activeSeconds: number
  busySeconds: number
  idleSeconds: number
  utilization: number
  state: 'busy' | 'idle'
}

/** Numbers of one session, before names and rounding. */
export interface SessionNumbers {
  session: Session
  activeSeconds: number
  utilization: number
  /** Experiment ids started in the session, in first-start order. */
  experiments: string[]
  /** Per node id (workcell ids not yet removed), in order of first activity. */
  nodes: Map<string, NodeNumbers>
}

/** Accumulates the activity events of one session; `finish()` gives its numbers. */
export class SessionAccumulator {
  readonly session: Session
  readonly #expStarts = new Map<string, number>()
  readonly #expActive = new Set<string>()
  readonly #expPeriods: Array<[number, number]> = []
  readonly #nodes = new Map<string, NodeTracker>()

  constructor(session: Session) {
    this.session = session
  }

  /** Feed an activity event (§5.3 filter already applied) with its time; calls come in time order. */
  add(event: Event, t: number): void {
    const type = event.event_type
    const exp = experimentIdOf(event)
    if (exp !== undefined) {
      if (type.includes('experiment_start')) {
        this.#expActive.add(exp)
        this.#expStarts.set(exp, t)
      } else if (EXPERIMENT_END_PATTERNS.some((p) => type.includes(p))) {
        const start = this.#expStarts.get(exp)
        if (start !== undefined) {
          this.#expPeriods.push([start, t])
          this.#expActive.delete(exp)
        }
      }
    }
    const node = nodeIdOf(event)
    if (node !== undefined) {
      let tracker = this.#nodes.get(node)
      if (!tracker) this.#nodes.set(node, (tracker = new NodeTracker()))
      tracker.onEvent(event, t)
    }
  }

  /**
   * Entries held (experiments, experiment periods, nodes, running actions): what memory grows
   * with. It depends on the session's experiments and nodes, never on its number of events.
   */
  get stateSize(): number {
    let actions = 0
    for (const n of this.#nodes.values()) actions += n.actions.size
    return this.#expStarts.size + this.#expPeriods.length + this.#nodes.size + actions
  }

  finish(): SessionNumbers {
    const { start, end } = this.session
    const periods = [...this.#expPeriods]
    for (const [id, s] of this.#expStarts) if (this.#expActive.has(id)) periods.push([s, end])
    periods.sort((a, b) => a[0] - b[0])
    const merged = new MergedTotal()
    for (const [s, e] of periods) merged.add(s, e)
    const activeSeconds = merged.result()
    const total = seconds(start, end)
    const utilization = total > 0 ? (activeSeconds / total) * 100 : 0
    const nodes = new Map<string, NodeNumbers>()
    for (const [id, tr] of this.#nodes) {
      if (tr.activeStart !== null) tr.active.add(tr.activeStart, end)
      if (tr.busyStart !== null) tr.busy.add(tr.busyStart, end)
      // A node with events but no start/stop is taken as active for the whole session.
      const activeSeconds = tr.active.count > 0 ? tr.active.result() : total
      const busySeconds = tr.busy.count > 0 ? tr.busy.result() : 0
      nodes.set(id, {
        totalSeconds: total,
        activeSeconds,
        busySeconds,
        idleSeconds: Math.max(0, activeSeconds - busySeconds),
        utilization: activeSeconds > 0 ? (busySeconds / activeSeconds) * 100 : 0,
        state: tr.actions.size > 0 ? 'busy' : 'idle',
      })
    }
    return { session: this.session, activeSeconds, utilization, experiments: [...this.#expStarts.keys()], nodes }
  }
}

// ------------------------------------------------------------------ report entries (§5.4)

/** Upstream's readable duration object. */
export function readableDuration(secs: number): Record<string, unknown> {
  const hours = secs / 3600
  const minutes = secs / 60
  if (secs < 60) return { display: `${pyFixed(secs, 1)}s`, seconds: secs, minutes, hours, primary_unit: 'seconds', primary_value: secs }
  if (secs < 3600) return { display: `${pyFixed(minutes, 1)}m`, seconds: secs, minutes, hours, primary_unit: 'minutes', primary_value: minutes }
  return { display: `${pyFixed(hours, 1)}h`, seconds: secs, minutes, hours, primary_unit: 'hours', primary_value: hours }
}

/** Name and id facts the report entries need, resolved over the whole store (see lookups.ts). */
export interface NameLookups {
  isWorkcell(id: string): boolean
  nodeName(id: string): string | null
  experimentName(id: string): string | null
}

export function nodeDisplayName(id: string, name: string | null): string {
  return name ? `${name} (${id.slice(-8)})` : `Node ${id.slice(-8)}`
}

/** One entry of `session_details` (§5.4), from a session's numbers. */
export function sessionEntry(n: SessionNumbers, lookups: NameLookups, sessionName: string): Record<string, unknown> {
  const { session } = n
  const experimentDetails = n.experiments.map((id) => {
    const name = lookups.experimentName(id)
    return { experiment_id: id, experiment_name: name, display_name: name ?? `Experiment ${id.slice(-8)}` }
  })
  const nodeUtilizations: Record<string, unknown> = {}
  let nodesActive = 0
  for (const [id, node] of n.nodes) {
    if (lookups.isWorkcell(id)) continue
    nodesActive++
    const name = lookups.nodeName(id)
    nodeUtilizations[id] = {
      node_id: id,
      node_name: name,
      display_name: nodeDisplayName(id, name),
      utilization_percent: pyRound(node.utilization, 1),
      state: node.state,
      timing: {
        busy_time: readableDuration(node.busySeconds),
        idle_time: readableDuration(node.idleSeconds),
        total_time: readableDuration(node.totalSeconds),
      },
      raw_hours: { busy: node.busySeconds / 3600, idle: node.idleSeconds / 3600, total: node.totalSeconds / 3600 },
      busy_time_hours: node.busySeconds / 3600,
      idle_time_hours: node.idleSeconds / 3600,
    }
  }
  const duration = session.durationSeconds
  const active = n.activeSeconds
  return {
    session_type: session.type,
    session_id: session.id,
    session_name: sessionName,
    start_time: isoNaive(session.start),
    end_time: isoNaive(session.end),
    timing: { duration: readableDuration(duration), active_time: readableDuration(active), idle_time: readableDuration(duration - active) },
    system_utilization_percent: pyRound(n.utilization, 1),
    total_experiments: n.experiments.length,
    experiment_details: experimentDetails,
    nodes_active: nodesActive,
    node_utilizations: nodeUtilizations,
    raw_hours: { duration: duration / 3600, active: active / 3600, idle: (duration - active) / 3600 },
    duration_hours: duration / 3600,
    active_time_hours: active / 3600,
  }
}
