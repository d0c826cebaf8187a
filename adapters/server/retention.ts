import { formatDateNaiveUtc } from '../../src/event/timestamp.js'
import { daysBefore, MAX_TIMER_MS } from '../../src/stores/time-limits.js'
import { MongoStore } from '../../src/stores/mongo.js'
import type { ManagedStore } from '../../src/stores/types.js'
import type { ServerSettings } from './settings.js'

/**
 * Retention as MADSci (SPEC §2.16): with `retention_enabled`, a pass runs at start and then every
 * `retention_check_interval_hours`: events older than `soft_delete_after_days` are archived, in
 * batches of `archive_batch_size`, at most `max_batches_per_run` batches (0 = no limit).
 * Hard deletion uses a TTL index on `archived_at` where the store has one; where it has not
 * (FerretDB v1, the file store) the same pass purges archived events older than
 * `hard_delete_after_days`.
 */
export class Retention {
  readonly #store: ManagedStore
  readonly #s: ServerSettings
  readonly #onError: (err: Error) => void
  #timer: NodeJS.Timeout | undefined
  #ttl = false
  #running: Promise<unknown> | undefined
  #stopped = false
  lastRun: { at: string; archived: number; purged: number } | undefined
  /** Set when a failed pass ended the loop (`fail_on_retention_error`); the server keeps running. */
  stoppedBy: Error | undefined

  constructor(store: ManagedStore, settings: ServerSettings, onError: (err: Error) => void) {
    this.#store = store
    this.#s = settings
    this.#onError = onError
  }

  async start(): Promise<void> {
    if (!this.#s.retention_enabled) return
    if (this.#store instanceof MongoStore) {
      try {
        this.#ttl = await this.#store.ensureRetentionIndex(this.#s.hard_delete_after_days)
      } catch (err) {
        this.#onError(err as Error)
      }
    }
    const loop = (): void => {
      this.#running = this.runOnce()
        .catch((err) => {
          this.#onError(err as Error)
          if (this.#s.fail_on_retention_error) {
            this.stoppedBy = err as Error
            throw err
          }
        })
        .then(() => {
          // A pass that was running when stop() was called schedules nothing.
          if (this.#stopped) return
          this.#after(this.#s.retention_check_interval_hours * 3_600_000, loop)
        }, () => undefined)
    }
    loop()
  }

  /**
   * Run `fn` in `ms`. Node fires a timer of more than 2^31 − 1 ms (24.8 days) after 1 ms, so an
   * interval of 1 000 hours would have run passes back to back: longer waits are chained.
   */
  #after(ms: number, fn: () => void): void {
    const due = Date.now() + ms
    const arm = (): void => {
      const left = due - Date.now()
      if (left <= 0) return fn()
      this.#timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS))
      this.#timer.unref()
    }
    arm()
  }

  /** One pass: archive old events, purge old archived ones when there is no TTL. Returns the counts. */
  async runOnce(): Promise<{ archived: number; purged: number }> {
    const before = formatDateNaiveUtc(daysBefore(this.#s.soft_delete_after_days, 'soft_delete_after_days'))
    const archived = await this.#store.archiveEvents({
      beforeDate: before,
      batchSize: this.#s.archive_batch_size,
      maxBatches: this.#s.max_batches_per_run,
    })
    const purged = this.#ttl ? 0 : await this.#store.purgeArchived(this.#s.hard_delete_after_days)
    this.lastRun = { at: new Date().toISOString(), archived, purged }
    return { archived, purged }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    await this.#running?.catch(() => undefined)
  }
}
