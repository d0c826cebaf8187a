/// <reference lib="dom" />
/**
 * The events the page holds: oldest first in `all` (live events in arrival order, history pages in
 * front), one copy per id, at most `cap` of them (the oldest go first; they can be paged back in).
 * `view` is what the list shows: `all`, or the part matching the free text. Counts per level and
 * type are kept as events come and go.
 */

export interface ViewEvent {
  id: string
  type: string
  level: number
  alert: boolean
  ts: string
  source: Record<string, string>
  data: unknown
  /** Lowercase text the free-text filter searches, built on first use. */
  hay?: string
}

type Wire = Record<string, unknown>

export function fromWire(w: Wire): ViewEvent {
  return {
    id: String(w._id ?? w.event_id),
    type: String(w.event_type),
    level: Number(w.log_level),
    alert: w.alert === true,
    ts: String(w.event_timestamp ?? ''),
    source: (w.source as Record<string, string>) ?? {},
    data: w.event_data,
  }
}

function hay(e: ViewEvent): string {
  if (e.hay === undefined) {
    let data: string
    try {
      data = typeof e.data === 'string' ? e.data : JSON.stringify(e.data)
    } catch {
      data = ''
    }
    e.hay = `${e.id} ${e.type} ${e.ts} ${Object.values(e.source).join(' ')} ${data}`.toLowerCase()
  }
  return e.hay
}

export class EventStore {
  all: ViewEvent[] = []
  view: ViewEvent[] = this.all
  readonly ids = new Set<string>()
  readonly levels = new Map<number, number>()
  readonly types = new Map<string, number>()
  alerts = 0
  /** Events dropped from memory since the last clear (they can be paged back in). */
  evicted = 0
  #needle = ''

  constructor(readonly cap: number) {}

  get text(): string {
    return this.#needle
  }

  #count(e: ViewEvent, d: 1 | -1): void {
    this.levels.set(e.level, (this.levels.get(e.level) ?? 0) + d)
    this.types.set(e.type, (this.types.get(e.type) ?? 0) + d)
    if (e.alert) this.alerts += d
  }

  #fresh(events: ViewEvent[]): ViewEvent[] {
    const out: ViewEvent[] = []
    for (const e of events) {
      if (this.ids.has(e.id)) continue
      this.ids.add(e.id)
      this.#count(e, 1)
      out.push(e)
    }
    return out
  }

  matches(e: ViewEvent): boolean {
    return !this.#needle || hay(e).includes(this.#needle)
  }

  /** Live events (arrival order). Returns how many rows were added to the top of the view. */
  addNewer(events: ViewEvent[]): number {
    const fresh = this.#fresh(events)
    for (const e of fresh) this.all.push(e)
    let shown = fresh.length
    if (this.view !== this.all) {
      shown = 0
      for (const e of fresh) if (this.matches(e)) (this.view.push(e), shown++)
    }
    if (this.all.length > this.cap) this.#evict(this.all.length - this.cap + Math.floor(this.cap / 10))
    return shown
  }

  /** A history page, newest first as the server sends it. */
  addOlder(newestFirst: ViewEvent[]): void {
    const fresh = this.#fresh(newestFirst).reverse()
    this.all.unshift(...fresh)
    if (this.view === this.all) return
    this.view.unshift(...fresh.filter((e) => this.matches(e)))
  }

  #evict(n: number): void {
    const gone = this.all.splice(0, n)
    for (const e of gone) {
      this.ids.delete(e.id)
      this.#count(e, -1)
    }
    this.evicted += gone.length
    if (this.view !== this.all) this.view = this.all.filter((e) => this.matches(e))
  }

  /** The smallest id held: the next history page asks for events before it. */
  oldestId(): string | null {
    let min: string | null = null
    for (const e of this.all) if (min === null || e.id < min) min = e.id
    return min
  }

  setText(text: string): void {
    this.#needle = text.trim().toLowerCase()
    this.view = this.#needle ? this.all.filter((e) => this.matches(e)) : this.all
  }

  clear(): void {
    this.all = []
    this.view = this.all
    this.ids.clear()
    this.levels.clear()
    this.types.clear()
    this.alerts = 0
    this.evicted = 0
    this.setText(this.#needle)
  }

  get(id: string): ViewEvent | undefined {
    if (!this.ids.has(id)) return undefined
    for (let i = this.all.length - 1; i >= 0; i--) if (this.all[i].id === id) return this.all[i]
    return undefined
  }
}
