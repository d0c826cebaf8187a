/// <reference lib="dom" />
/**
 * One event in full: its JSON exactly as the server stores it (`GET /event/{id}`), indented
 * without being re-serialized. An event just received may not be stored yet (the store writes in
 * batches): the page asks again a few times, then shows the event as it was received.
 */
import { api, ApiError } from './api.js'
import type { ViewEvent } from './events.js'
import { formatTime, levelName, prettyJson } from './format.js'

const RETRIES = 4
const RETRY_MS = 400

export interface DetailElements {
  panel: HTMLElement
  title: HTMLElement
  note: HTMLElement
  json: HTMLElement
  copy: HTMLButtonElement
  close: HTMLButtonElement
}

export class DetailPanel {
  readonly #el: DetailElements
  #current: string | null = null
  #text = ''

  constructor(el: DetailElements, onClose: () => void) {
    this.#el = el
    el.close.addEventListener('click', () => {
      this.hide()
      onClose()
    })
    el.copy.addEventListener('click', () => {
      void navigator.clipboard?.writeText(this.#text).then(
        () => (el.note.textContent = 'Copied.'),
        () => window.getSelection()?.selectAllChildren(el.json),
      )
    })
  }

  get current(): string | null {
    return this.#current
  }

  async show(id: string, local: ViewEvent | undefined, onError: (err: unknown) => void): Promise<void> {
    this.#current = id
    const el = this.#el
    el.panel.hidden = false
    el.title.textContent = local ? `${local.type} · ${levelName(local.level)} · ${formatTime(local.ts)}` : id
    el.note.textContent = 'Loading…'
    el.json.textContent = ''
    el.panel.classList.toggle('alert', !!local?.alert)
    for (let attempt = 0; ; attempt++) {
      try {
        const text = await api<string>(`/event/${encodeURIComponent(id)}`, { raw: true })
        if (this.#current !== id) return
        this.#show(text, `Stored event ${id}`)
        if (!local) {
          const w = JSON.parse(text) as Record<string, unknown>
          el.title.textContent = `${String(w.event_type)} · ${levelName(Number(w.log_level))} · ${formatTime(String(w.event_timestamp))}`
          el.panel.classList.toggle('alert', w.alert === true)
        }
        return
      } catch (err) {
        if (this.#current !== id) return
        const notFound = err instanceof ApiError && err.status === 404
        if (notFound && attempt < RETRIES) {
          await new Promise((r) => setTimeout(r, RETRY_MS))
          continue
        }
        if (local) {
          const wire = { _id: local.id, event_type: local.type, log_level: local.level, alert: local.alert, event_timestamp: local.ts, source: local.source, event_data: local.data }
          this.#show(JSON.stringify(wire), notFound ? 'Not in the store (yet): shown as received from the live stream.' : `Could not load the stored event (${(err as Error).message}); shown as received.`)
        } else {
          el.note.textContent = notFound ? `No event with id ${id}.` : `Could not load the event: ${(err as Error).message}`
        }
        if (!notFound) onError(err)
        return
      }
    }
  }

  #show(text: string, note: string): void {
    this.#text = prettyJson(text)
    this.#el.json.textContent = this.#text
    this.#el.note.textContent = note
  }

  hide(): void {
    this.#current = null
    this.#el.panel.hidden = true
  }
}
