import type { EventLogLevel } from '../event/levels.js'
import type { Event } from '../event/model.js'

/**
 * What a notifier is asked to send: one alert event, or a digest standing for many.
 *
 * Storm control (see `storm.ts`) decides which: the first alert of a key goes out on its own;
 * alerts that follow it within the digest window, repeats of an alert already reported, and
 * alerts over a rate limit are folded into a digest sent later.
 */
export type Alert = EventAlert | DigestAlert

export interface EventAlert {
  readonly kind: 'event'
  /** The storm-control key (by default the event type and source). */
  readonly key: string
  readonly level: EventLogLevel
  readonly event: Event
}

/** One distinct alert listed in a digest and how many times it occurred in the digest. */
export interface DigestItem {
  readonly event: Event
  readonly occurrences: number
}

export interface DigestAlert {
  readonly kind: 'digest'
  /** The key all the alerts share, or `*` for a digest across keys (rate limit over all keys, eviction, close). */
  readonly key: string
  /** The highest level among the alerts. */
  readonly level: EventLogLevel
  /** How many alerts the digest stands for: the occurrences of the listed items plus `omitted`. */
  readonly count: number
  /** Of `count`, how many repeated an alert already reported (de-duplication). */
  readonly duplicates: number
  /** Distinct alerts (by fingerprint), first seen first, at most `digestMaxListed`. */
  readonly items: readonly DigestItem[]
  /** Alerts neither listed nor identical to a listed one (the list was full). */
  readonly omitted: number
  /** Alert counts per key, largest first, at most `digestMaxListed` entries. */
  readonly keys: ReadonlyArray<{ readonly key: string; readonly count: number }>
  /** Keys not in `keys` (the list was full); distinct keys are counted up to 10 000 per digest. */
  readonly keysOmitted: number
  /** Distinct event types among the alerts (at most 20). */
  readonly eventTypes: readonly string[]
  /** `event_timestamp` of the first and the last alert folded in, in arrival order. */
  readonly firstTimestamp: string
  readonly lastTimestamp: string
  /** Milliseconds (the dispatcher's clock) when the first alert was folded in and when the digest was made. */
  readonly windowStart: number
  readonly windowEnd: number
  /**
   * Why it was sent: `window` (a burst ended or the window closed), `rate-limit` (held back by
   * the per-key rate limit), `overflow` (alerts over the notifier's total rate limit or of
   * evicted keys), `close` (the dispatcher was closing).
   */
  readonly reason: 'window' | 'rate-limit' | 'overflow' | 'close'
}

export interface SendOptions {
  /** Aborted when the attempt times out or the dispatcher closes; stop work and reject. */
  signal: AbortSignal
}

/**
 * A notifier plugin. `send()` resolves when the alert was delivered and rejects otherwise; the
 * dispatcher retries with backoff, unless the error has `permanent: true` (see `NotifierError`).
 * A rejection may carry `retryAfterMs` (e.g. from HTTP `Retry-After`). `send()` is never called
 * on the logging path, and one notifier's slowness never delays another.
 *
 * A module plugin exports a factory, `create(options, context)` or a default function, returning
 * a Notifier; `options` is plain data, `context.log()` records MADSci events of its own.
 */
export interface Notifier {
  /** Shown in stats and reports, e.g. `email`. Made unique by the dispatcher. */
  readonly name?: string
  send(alert: Alert, options: SendOptions): Promise<void>
  /** Release connections. Called once by the dispatcher's `close()`. */
  close?(options?: { timeoutMs?: number }): Promise<void>
  /** A description without secrets (for `/settings` and stats). */
  describe?(): Record<string, unknown>
}

/** Counters of one notifier. Every alert offered ends up sent on its own or folded into a digest. */
export interface NotifierStats {
  name: string
  /** `email`, `webhook`, `console`, `module` or `custom`. */
  type: string
  /** `loading` (a module notifier being imported), `ready`, `failed` (could not be created), `closed`. */
  state: 'loading' | 'ready' | 'failed' | 'closed'
  /** Messages delivered (alerts and digests). */
  sent: number
  /** Of `sent`, digests. */
  sentDigests: number
  /** Messages given up after their retries (or at once for a permanent error). */
  failed: number
  /** Retry attempts made. */
  retried: number
  /** Alerts not sent on their own because their key or the notifier was over its rate limit (folded into a digest). */
  suppressedRateLimit: number
  /** Alerts not sent on their own because they repeated one reported within the dedup window (folded into a digest). */
  suppressedDedup: number
  /** Alerts folded into digests (includes the two above). */
  digested: number
  /** Messages waiting in this notifier's queue. */
  queueDepth: number
  /** Messages being sent (or waiting for a retry). */
  inFlight: number
  /** Messages dropped because the queue was full. */
  droppedOverflow: number
  /** Messages dropped because `close()` ran out of time, or the notifier could not be created. */
  droppedClosed: number
  /** Digests collecting alerts now. */
  openDigests: number
  /** Storm-control keys tracked now. */
  keys: number
  /** The last delivery error, without secrets. */
  lastError: string | null
}

export interface AlertDispatcherStats {
  /** Events offered. */
  offered: number
  /** Events that met the alert condition (`alert: true` or `log_level >= alertLevel`). */
  alerts: number
  /** Events the dispatcher or its notifiers logged themselves, never alerted on (no feedback loops). */
  ignoredOwn: number
  /** Events offered after `close()`. */
  afterClose: number
  notifiers: Record<string, NotifierStats>
}
