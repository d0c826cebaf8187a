/// <reference lib="dom" />
/**
 * Counts per level and per type, and a small stacked time-series chart, from
 * `GET /events/aggregate` over the chosen range. Where the server has no aggregation route (404)
 * or it fails, the chart is hidden and the counts are those of the events loaded in the page.
 */
import { api, ApiError, AuthRequiredError } from './api.js'
import type { EventStore } from './events.js'
import { LEVELS, levelClass, levelFromKey, levelName } from './format.js'

export interface Aggregate {
  group_by: string
  bucket: string | null
  timezone?: string
  start_time: string
  end_time: string
  total: number
  groups: Record<string, number>
  buckets?: Array<{ start: string; end: string; label?: string; total: number; counts: Record<string, number> }>
}

/** A bucket bound: ISO with a zone, or naive UTC (how the analyzers print times). */
const utc = (s: string): Date => new Date(/(Z|[+-]\d\d:?\d\d)$/.test(s) ? s : `${s}Z`)

const RANGES: Record<string, { ms: number; bucket: 'hour' | 'day' }> = {
  '24h': { ms: 24 * 3600_000, bucket: 'hour' },
  '7d': { ms: 7 * 86_400_000, bucket: 'day' },
  '30d': { ms: 30 * 86_400_000, bucket: 'day' },
}
const TOP_TYPES = 8
const SVG = 'http://www.w3.org/2000/svg'

export interface SummaryElements {
  title: HTMLElement
  range: HTMLSelectElement
  levels: HTMLElement
  types: HTMLElement
  chart: HTMLElement
  chartSvg: HTMLElement
  caption: HTMLElement
}

export class Summary {
  readonly #el: SummaryElements
  readonly #store: EventStore
  #levels: Aggregate | null = null
  #types: Aggregate | null = null
  /** `available` once the route answered, `missing` after a 404, `failed` after another error. */
  status: 'unknown' | 'available' | 'missing' | 'failed' = 'unknown'

  constructor(el: SummaryElements, store: EventStore, onLevel: (level: number) => void, onType: (type: string) => void) {
    this.#el = el
    this.#store = store
    el.range.addEventListener('change', () => void this.refresh())
    el.levels.addEventListener('click', (ev) => {
      const b = (ev.target as HTMLElement).closest<HTMLElement>('[data-level]')
      if (b) onLevel(Number(b.dataset.level))
    })
    el.types.addEventListener('click', (ev) => {
      const b = (ev.target as HTMLElement).closest<HTMLElement>('[data-type]')
      if (b?.dataset.type) onType(b.dataset.type)
    })
  }

  async refresh(): Promise<void> {
    const range = RANGES[this.#el.range.value] ?? RANGES['24h']
    const end = new Date()
    const start = new Date(end.getTime() - range.ms)
    const base = { start_time: start.toISOString(), end_time: end.toISOString(), timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' }
    try {
      const [levels, types] = await Promise.all([
        api<Aggregate>('/events/aggregate', { params: new URLSearchParams({ ...base, group_by: 'log_level', bucket: range.bucket }) }),
        api<Aggregate>('/events/aggregate', { params: new URLSearchParams({ ...base, group_by: 'event_type' }) }),
      ])
      this.#levels = levels
      this.#types = types
      this.status = 'available'
    } catch (err) {
      if (err instanceof AuthRequiredError) throw err
      this.#levels = this.#types = null
      this.status = err instanceof ApiError && err.status === 404 ? 'missing' : 'failed'
      this.#el.caption.textContent = this.status === 'failed' ? `Aggregation failed: ${(err as Error).message}` : ''
    }
    this.render()
  }

  /** Counts: the server's over the range when it has them, else the loaded events'. */
  render(): void {
    const el = this.#el
    const server = this.#levels && this.#types
    el.title.textContent = server ? 'All events,' : 'Loaded events'
    el.range.hidden = !server
    const byLevel = new Map<number, number>()
    const byType: Array<[string, number]> = []
    if (this.#levels && this.#types) {
      for (const [k, n] of Object.entries(this.#levels.groups)) {
        const l = levelFromKey(k)
        if (l !== undefined) byLevel.set(l, (byLevel.get(l) ?? 0) + n)
      }
      byType.push(...Object.entries(this.#types.groups))
    } else {
      for (const [l, n] of this.#store.levels) if (n) byLevel.set(l, n)
      for (const [t, n] of this.#store.types) if (n) byType.push([t, n])
    }
    el.levels.replaceChildren(
      ...LEVELS.map((l) => {
        const b = document.createElement('button')
        b.type = 'button'
        b.className = `pill ${levelClass(l)}`
        b.dataset.level = String(l)
        b.title = `show ${levelName(l)} and up`
        b.textContent = `${levelName(l)} ${(byLevel.get(l) ?? 0).toLocaleString()}`
        return b
      }),
    )
    byType.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    el.types.replaceChildren(
      ...byType.slice(0, TOP_TYPES).map(([t, n]) => {
        const b = document.createElement('button')
        b.type = 'button'
        b.className = 'pill type'
        b.dataset.type = t
        b.title = `show only ${t}`
        b.textContent = `${t} ${n.toLocaleString()}`
        return b
      }),
    )
    const buckets = this.#levels?.buckets
    el.chart.hidden = !buckets?.length
    if (buckets?.length) this.#chart(buckets)
  }

  #chart(buckets: NonNullable<Aggregate['buckets']>): void {
    const W = 480
    const H = 90
    const gap = 1
    const max = Math.max(1, ...buckets.map((b) => b.total))
    const bw = W / buckets.length
    const svg = document.createElementNS(SVG, 'svg')
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
    svg.setAttribute('preserveAspectRatio', 'none')
    svg.setAttribute('role', 'img')
    buckets.forEach((b, i) => {
      const g = document.createElementNS(SVG, 'g')
      const title = document.createElementNS(SVG, 'title')
      const parts = Object.entries(b.counts).map(([k, n]) => `${levelName(levelFromKey(k) ?? Number(k))} ${n}`)
      title.textContent = `${b.label ?? utc(b.start).toLocaleString()}: ${b.total} events${parts.length ? ` (${parts.join(', ')})` : ''}`
      g.appendChild(title)
      let y = H
      for (const l of LEVELS) {
        let n = 0
        for (const [k, c] of Object.entries(b.counts)) if (levelFromKey(k) === l) n += c
        if (!n) continue
        const h = (n / max) * (H - 4)
        y -= h
        const r = document.createElementNS(SVG, 'rect')
        r.setAttribute('x', String(i * bw + gap / 2))
        r.setAttribute('y', String(y))
        r.setAttribute('width', String(Math.max(0.5, bw - gap)))
        r.setAttribute('height', String(h))
        r.setAttribute('class', `bar ${levelClass(l)}`)
        g.appendChild(r)
      }
      // A transparent full-height target so the tooltip works on empty buckets too.
      const hit = document.createElementNS(SVG, 'rect')
      hit.setAttribute('x', String(i * bw))
      hit.setAttribute('y', '0')
      hit.setAttribute('width', String(bw))
      hit.setAttribute('height', String(H))
      hit.setAttribute('class', 'hit')
      g.appendChild(hit)
      svg.appendChild(g)
    })
    this.#el.chartSvg.replaceChildren(svg)
    const fmt = (s: string): string => utc(s).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
    const unit = this.#levels?.bucket ?? 'bucket'
    this.#el.caption.textContent = `${this.#levels?.total.toLocaleString()} events in ${buckets.length} ${unit}s, ${fmt(buckets[0].start)} to ${fmt(buckets[buckets.length - 1].end)}; busiest ${unit}: ${max.toLocaleString()}`
  }
}
