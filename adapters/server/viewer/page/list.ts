/// <reference lib="dom" />
/**
 * A virtualised list: only the rows in view (plus a margin) exist in the DOM, absolutely placed
 * in a spacer as tall as all rows, so 50 000 events scroll as easily as 50. Row 0 is the newest.
 * When rows are added at the top while the reader is scrolled down, the scroll position moves
 * with them, so what they read stays put; at the very top the list follows the stream.
 */
import type { ViewEvent } from './events.js'
import { formatSource, formatTime, levelClass, levelName, summarize } from './format.js'

export const ROW_HEIGHT = 22
const OVERSCAN = 8
const FOOT_HEIGHT = 44

export interface VirtualListOptions {
  el: HTMLElement
  spacer: HTMLElement
  foot: HTMLElement
  /** The events shown, oldest first (the list shows them newest first). */
  items: () => ViewEvent[]
  onSelect: (e: ViewEvent) => void
  onNearEnd: () => void
  /** Rows scrolled past at the top changed (the "n newer" badge). */
  onUnseen: (n: number) => void
}

export class VirtualList {
  readonly #o: VirtualListOptions
  readonly #pool: HTMLDivElement[] = []
  #count = 0
  #scheduled = false
  #unseen = 0
  selectedId: string | null = null
  /** DOM render passes so far (the page batches: many events, one pass per frame). */
  renders = 0

  constructor(o: VirtualListOptions) {
    this.#o = o
    o.el.addEventListener('scroll', () => {
      if (o.el.scrollTop < ROW_HEIGHT && this.#unseen) this.#setUnseen(0)
      this.schedule()
    }, { passive: true })
    o.el.addEventListener('click', (ev) => {
      const row = (ev.target as HTMLElement).closest<HTMLElement>('.row[data-index]')
      if (!row) return
      const e = this.at(Number(row.dataset.index))
      if (e) o.onSelect(e)
    })
    o.el.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return
      ev.preventDefault()
      const items = o.items()
      let i = this.selectedId ? this.indexOf(this.selectedId) : -1
      i = Math.max(0, Math.min(items.length - 1, i + (ev.key === 'ArrowDown' ? 1 : -1)))
      const e = this.at(i)
      if (e) {
        o.onSelect(e)
        this.scrollIntoView(i)
      }
    })
    new ResizeObserver(() => this.schedule()).observe(o.el)
  }

  get count(): number {
    return this.#count
  }

  at(index: number): ViewEvent | undefined {
    const items = this.#o.items()
    return items[items.length - 1 - index]
  }

  indexOf(id: string): number {
    const items = this.#o.items()
    for (let i = items.length - 1; i >= 0; i--) if (items[i].id === id) return items.length - 1 - i
    return -1
  }

  /**
   * The item list changed: `addedAtTop` rows were added above the current ones. They push the
   * rows in view down and out of it only when the list is at the top and not `hold`ing still.
   */
  update(addedAtTop = 0, hold = false): void {
    const el = this.#o.el
    this.#count = this.#o.items().length
    this.#o.spacer.style.height = `${this.#count * ROW_HEIGHT + FOOT_HEIGHT}px`
    this.#o.foot.style.transform = `translateY(${this.#count * ROW_HEIGHT}px)`
    if (addedAtTop > 0 && (el.scrollTop > 0 || hold)) {
      el.scrollTop += addedAtTop * ROW_HEIGHT
      this.#setUnseen(this.#unseen + addedAtTop)
    }
    this.schedule()
  }

  /** Everything changed (new filters): back to the top. */
  reset(): void {
    this.#o.el.scrollTop = 0
    this.#setUnseen(0)
    this.update()
  }

  scrollToTop(): void {
    this.#o.el.scrollTop = 0
    this.#setUnseen(0)
  }

  scrollIntoView(index: number): void {
    const el = this.#o.el
    const top = index * ROW_HEIGHT
    if (top < el.scrollTop) el.scrollTop = top
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight
    this.schedule()
  }

  #setUnseen(n: number): void {
    this.#unseen = n
    this.#o.onUnseen(n)
  }

  schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    requestAnimationFrame(() => {
      this.#scheduled = false
      this.render()
    })
  }

  render(): void {
    this.renders++
    const el = this.#o.el
    const first = Math.max(0, Math.floor(el.scrollTop / ROW_HEIGHT) - OVERSCAN)
    const last = Math.min(this.#count, Math.ceil((el.scrollTop + el.clientHeight) / ROW_HEIGHT) + OVERSCAN)
    const needed = Math.max(0, last - first)
    while (this.#pool.length < needed) {
      const row = document.createElement('div')
      row.className = 'row'
      row.setAttribute('role', 'option')
      for (const c of ['c-time', 'c-level', 'c-type', 'c-source', 'c-msg']) {
        const span = document.createElement('span')
        span.className = c
        row.appendChild(span)
      }
      el.appendChild(row)
      this.#pool.push(row)
    }
    for (let k = 0; k < this.#pool.length; k++) {
      const row = this.#pool[k]
      const index = first + k
      const e = k < needed ? this.at(index) : undefined
      if (!e) {
        if (!row.hidden) row.hidden = true
        continue
      }
      row.hidden = false
      row.dataset.index = String(index)
      row.style.transform = `translateY(${index * ROW_HEIGHT}px)`
      if (row.dataset.id !== e.id) {
        row.dataset.id = e.id
        const [t, l, ty, s, m] = row.children as unknown as HTMLElement[]
        t.textContent = formatTime(e.ts)
        l.textContent = levelName(e.level)
        ty.textContent = e.type
        s.textContent = formatSource(e.source)
        m.textContent = e.alert ? `⚠ ${summarize(e)}` : summarize(e)
        row.className = `row ${levelClass(e.level)}${e.alert ? ' alert' : ''}`
      }
      const selected = e.id === this.selectedId
      row.classList.toggle('selected', selected)
      row.setAttribute('aria-selected', String(selected))
    }
    if (this.#count - last < 40) this.#o.onNearEnd()
  }
}
