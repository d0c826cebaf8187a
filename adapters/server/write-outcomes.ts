import type { ManagedStore, PipelineEvent, Sink, WriteResult } from '../../src/stores/types.js'

/**
 * What the store's write said about the ids `POST /event` is waiting for: inserted (`new`),
 * already stored or possibly so (`duplicate`), or not said (`unknown`). An id already stored
 * answers with what is stored (looked up unless the write said `new`), as MADSci leaves the
 * stored document unchanged; 20 concurrent posts of one id with different bodies were each
 * answered with their own body, 19 of them not what was stored. Only ids someone waits for are
 * noted, so this holds no more than the requests do.
 */
export type WriteOutcome = 'new' | 'duplicate' | 'unknown'

export class WriteOutcomes {
  readonly #watched = new Map<string, { waiters: number; shared: boolean; outcome?: WriteOutcome }>()

  /** Start noting the outcome of writes of `id`; pair with `take`. */
  watch(id: string): void {
    const w = this.#watched.get(id)
    if (w) {
      w.waiters++
      w.shared = true
    } else this.#watched.set(id, { waiters: 1, shared: false })
  }

  /** How many requests wait for `id` now. */
  waiters(id: string): number {
    return this.#watched.get(id)?.waiters ?? 0
  }

  /**
   * The outcome noted for `id`, and stop watching it for this caller. Unknown when none was noted,
   * or when several requests wrote the id at once: they are answered together when the first
   * copy is stored, and only a lookup says which copy that was.
   */
  take(id: string): WriteOutcome {
    const w = this.#watched.get(id)
    if (!w) return 'unknown'
    if (--w.waiters === 0) this.#watched.delete(id)
    return w.shared && w.outcome === 'new' ? 'unknown' : (w.outcome ?? 'unknown')
  }

  /** Note a write's result. A duplicate anywhere in it wins over `new` (one of several writers of an id). */
  note(batch: readonly PipelineEvent[], result: WriteResult): void {
    if (this.#watched.size === 0) return
    const dups = result.duplicates ? new Set(result.duplicates) : undefined
    for (const e of batch) {
      const w = this.#watched.get(e.event_id)
      if (!w || w.outcome === 'duplicate') continue
      w.outcome = !dups ? 'unknown' : dups.has(e.event_id) ? 'duplicate' : (w.outcome ?? 'new')
    }
  }

  /** `store` as the pipeline's sink, noting each write's outcome here. */
  sink(store: ManagedStore): Sink {
    return {
      kind: store.kind,
      get target() {
        return store.target
      },
      open: () => store.open(),
      close: (options) => store.close(options),
      write: async (batch, signal) => {
        const result = await store.write(batch, signal)
        this.note(batch, result)
        return result
      },
    }
  }
}
