/**
 * Facts upstream looks up over the *whole* collection, not the analysed window (SPEC §5.1):
 * whether an id is a workcell (then it never counts as a node), node names from `node_start`
 * events, experiment names from `experiment_start` events, workcell names from start events.
 *
 * Upstream runs one query per id and per report row (O(ids × queries)); here all open questions
 * are answered by one streamed query per kind, with `$in` lists cut into chunks the stores accept.
 * With `mode: 'range'` nothing is queried and only the analysed events are used (faster; differs
 * from upstream when the identifying events lie outside the range).
 */
import type { Event } from '../event/index.js'
import {
  LIFECYCLE_TYPES,
  experimentNameFrom,
  experimentStartMatches,
  marksWorkcell,
  nodeNameFrom,
  nodeStartMatches,
  workcellIdsMarkedBy,
  workcellNameFrom,
} from './extract.js'
import { dictGet } from './pynum.js'
import type { NameLookups } from './session-stats.js'
import { allEvents, type ReportSource } from './source.js'

export type LookupMode = 'database' | 'range'

/** Ids per `$in` list: keeps selectors well under the stores' 256 KiB / 10 000-node limits. */
const CHUNK = 1000

function chunks<T>(list: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < list.length; i += CHUNK) out.push(list.slice(i, i + CHUNK))
  return out
}

/** First-`limit` matches per id, as upstream's `.limit(n)` queries see them (store order). */
class FirstMatches {
  readonly seen = new Map<string, number>()
  readonly found = new Map<string, string | null>()
  constructor(readonly limit: number) {}
  offer(id: string, name: string | undefined): void {
    if (this.found.get(id)) return
    const n = this.seen.get(id) ?? 0
    if (n >= this.limit) return
    this.seen.set(id, n + 1)
    if (name) this.found.set(id, name)
  }
  get(id: string): string | null {
    return this.found.get(id) ?? null
  }
}

export class Lookups implements NameLookups {
  readonly #source: ReportSource
  readonly #mode: LookupMode
  /** Ids seen marked as workcells in the analysed range (a subset of the database answer). */
  readonly #workcells = new Set<string>()
  readonly #nodeIds = new Set<string>()
  readonly #experimentIds = new Set<string>()
  readonly #workcellIds = new Set<string>()
  readonly #nodeNames = new FirstMatches(5)
  readonly #experimentNames = new FirstMatches(5)
  readonly #workcellNames = new FirstMatches(3)
  #resolved = false

  constructor(source: ReportSource, mode: LookupMode = 'database') {
    this.#source = source
    this.#mode = mode
  }

  /** Every event of the analysed range passes here (cheap: a few field reads). */
  observe(event: Event): void {
    for (const id of workcellIdsMarkedBy(event)) this.#workcells.add(id)
    if (this.#mode !== 'range') return
    // Range mode: names come from the analysed events themselves, for every id they name.
    const type = event.event_type
    if (type === 'node_start') {
      const d = dictGet(event.event_data, 'node_id')
      const ids = new Set([typeof d === 'string' ? d : undefined, event.source.node_id, event.source.workcell_id])
      for (const id of ids) if (id) this.#nodeNames.offer(id, nodeNameFrom(event))
    } else if (type === 'experiment_start') {
      const exp = dictGet(event.event_data, 'experiment')
      const ids = new Set([event.source.experiment_id, dictGet(event.event_data, 'experiment_id'), dictGet(exp, '_id'), dictGet(exp, 'experiment_id')])
      for (const id of ids) if (typeof id === 'string' && id) this.#experimentNames.offer(id, experimentNameFrom(event))
    } else if (type === 'workcell_start' || type === 'lab_start') {
      const wc = dictGet(event.event_data, 'workcell_id')
      const ids = new Set([event.source.workcell_id, event.source.manager_id, typeof wc === 'string' ? wc : undefined])
      for (const id of ids) if (id) this.#workcellNames.offer(id, workcellNameFrom(event))
    }
  }

  /** Ask for these facts; answered by `resolve()`. */
  wantNode(id: string): void {
    this.#nodeIds.add(id)
  }
  wantExperiment(id: string): void {
    this.#experimentIds.add(id)
  }
  wantWorkcellName(id: string): void {
    this.#workcellIds.add(id)
  }

  /** Run the queries (once). */
  async resolve(): Promise<void> {
    if (this.#resolved || this.#mode === 'range') return
    this.#resolved = true
    const undecided = [...this.#nodeIds].filter((id) => !this.#workcells.has(id))
    for (const ids of chunks(undecided)) {
      const selector = {
        $or: [
          { 'source.workcell_id': { $in: ids } },
          { 'source.manager_id': { $in: ids } },
          { event_type: { $in: LIFECYCLE_TYPES }, 'event_data.workcell_id': { $in: ids } },
        ],
      }
      const open = new Set(ids)
      for await (const { event } of allEvents(this.#source, selector)) {
        for (const id of open) {
          if (marksWorkcell(event, id)) {
            this.#workcells.add(id)
            open.delete(id)
          }
        }
        if (open.size === 0) break
      }
    }
    const nodes = [...this.#nodeIds].filter((id) => !this.#workcells.has(id))
    for (const ids of chunks(nodes)) {
      const selector = {
        event_type: 'node_start',
        $or: [{ 'event_data.node_id': { $in: ids } }, { 'source.node_id': { $in: ids } }, { 'source.workcell_id': { $in: ids } }],
      }
      for await (const { event } of allEvents(this.#source, selector)) {
        for (const id of ids) if (nodeStartMatches(event, id)) this.#nodeNames.offer(id, nodeNameFrom(event))
      }
    }
    for (const ids of chunks([...this.#experimentIds])) {
      const selector = {
        event_type: 'experiment_start',
        $or: [
          { 'source.experiment_id': { $in: ids } },
          { 'event_data.experiment_id': { $in: ids } },
          { 'event_data.experiment._id': { $in: ids } },
          { 'event_data.experiment.experiment_id': { $in: ids } },
        ],
      }
      const set = new Set(ids)
      for await (const { event } of allEvents(this.#source, selector)) {
        for (const id of candidatesOf(event, set)) this.#experimentNames.offer(id, experimentNameFrom(event))
      }
    }
    for (const ids of chunks([...this.#workcellIds])) {
      const selector = {
        event_type: { $in: ['workcell_start', 'lab_start'] },
        $or: [{ 'source.workcell_id': { $in: ids } }, { 'source.manager_id': { $in: ids } }, { 'event_data.workcell_id': { $in: ids } }],
      }
      for await (const { event } of allEvents(this.#source, selector)) {
        for (const id of ids) {
          if (event.source.workcell_id === id || event.source.manager_id === id || dictGet(event.event_data, 'workcell_id') === id) {
            this.#workcellNames.offer(id, workcellNameFrom(event))
          }
        }
      }
    }
  }

  isWorkcell(id: string): boolean {
    return this.#workcells.has(id)
  }
  nodeName(id: string): string | null {
    return this.#nodeNames.get(id)
  }
  experimentName(id: string): string | null {
    return this.#experimentNames.get(id)
  }
  /** Upstream's `_resolve_workcell_name`: a start event's name that is not `Workcell …`, else `Workcell <last8>`. */
  workcellName(id: string): string {
    return this.#workcellNames.get(id) ?? `Workcell ${id.slice(-8)}`
  }
}

function candidatesOf(event: Event, ids: ReadonlySet<string>): string[] {
  const out: string[] = []
  const exp = dictGet(event.event_data, 'experiment')
  for (const v of [event.source.experiment_id, dictGet(event.event_data, 'experiment_id'), dictGet(exp, '_id'), dictGet(exp, 'experiment_id')]) {
    if (typeof v === 'string' && ids.has(v) && !out.includes(v) && experimentStartMatches(event, v)) out.push(v)
  }
  return out
}
