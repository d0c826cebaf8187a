/// <reference lib="dom" />
/**
 * The live stream: an EventSource on `/events/stream` with the view's filters.
 *
 * - It starts after a given event id (`last_event_id`: the history page's `live_cursor`), so the
 *   stream continues exactly where the history ends.
 * - While the connection drops and comes back, the browser resends the last id it received
 *   (`Last-Event-ID`); the server replays what was missed. When the browser gives up (the server
 *   answered an error, or restarted with another status), the page reconnects itself with
 *   `last_event_id=<last id received>`, backing off from 1 s to 15 s.
 * - Events are handed over as raw JSON text; the page parses them in batches, once per frame.
 */
import { streamUrl } from './api.js'

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'stopped'

export interface LiveStreamOptions {
  params: URLSearchParams
  after: string | null
  onEvents: (data: string) => void
  onState: (state: StreamState) => void
  /** The browser gave up on the stream: `true` to retry, `false` to stop (for example, on a 401). */
  onGiveUp: () => Promise<boolean>
}

const MIN_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 15_000

export class LiveStream {
  readonly #o: LiveStreamOptions
  #es: EventSource | undefined
  #timer: number | undefined
  #backoff = MIN_BACKOFF_MS
  #stopped = false
  /** The id of the last event received: where a reconnection resumes. */
  lastId: string | null
  /** Connections opened (the first one and every reconnection). */
  connections = 0
  state: StreamState = 'connecting'

  constructor(o: LiveStreamOptions) {
    this.#o = o
    this.lastId = o.after
    this.#open()
  }

  #set(state: StreamState): void {
    if (this.state === state) return
    this.state = state
    this.#o.onState(state)
  }

  #open(): void {
    if (this.#stopped) return
    const es = new EventSource(streamUrl(this.#o.params, this.lastId))
    this.#es = es
    es.addEventListener('open', () => {
      this.connections++
      this.#backoff = MIN_BACKOFF_MS
      this.#set('live')
    })
    es.addEventListener('event', (m) => {
      const msg = m as MessageEvent<string>
      if (msg.lastEventId) this.lastId = msg.lastEventId
      this.#o.onEvents(msg.data)
    })
    es.addEventListener('error', () => {
      if (this.#stopped || es !== this.#es) return
      if (es.readyState === EventSource.CONNECTING) {
        // The browser reconnects by itself and sends Last-Event-ID.
        this.#set('reconnecting')
        return
      }
      es.close()
      this.#set('reconnecting')
      const wait = this.#backoff
      this.#backoff = Math.min(MAX_BACKOFF_MS, this.#backoff * 2)
      this.#timer = window.setTimeout(() => {
        void this.#o.onGiveUp().then((retry) => {
          if (retry) this.#open()
          else this.stop()
        })
      }, wait)
    })
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#es?.close()
    this.#set('stopped')
  }
}
