import { ConfigError } from '../errors.js'
import { type EventLogLevel, parseLevel } from '../event/levels.js'
import { OWNERSHIP_FIELDS, type Event, type OwnershipField } from '../event/model.js'
import type { PluginSpec } from '../plugins.js'
import type { ConsoleNotifierOptions } from './console.js'
import type { EmailNotifierOptions } from './email.js'
import type { Notifier } from './types.js'
import type { WebhookNotifierOptions } from './webhook.js'

/** What the storm-control key is made of. `source` means all ten ownership fields. */
export type KeyField = 'event_type' | 'log_level' | 'source' | OwnershipField

/** At most `max` messages per `windowMs` (a token bucket: `max` at once, then refilled evenly). */
export interface RateLimit {
  max: number
  windowMs: number
}

export interface StormOptions {
  /** Fields the key is made of. Default `['event_type', 'source']`. */
  keyBy?: KeyField[]
  /** A key function of your own (in-process only; wins over `keyBy`). */
  key?: (event: Event) => string
  /** Alerts of a key that follow a sent one within this window are sent as one digest at its end. */
  digestWindowMs?: number
  /** Distinct alerts listed in a digest. */
  digestMaxListed?: number
  /** An alert identical to one reported within this window is not sent again on its own (0: off). */
  dedupWindowMs?: number
  /** What makes two alerts of a key identical: the level and `message` (default), or the level and the whole `event_data`. */
  dedupBy?: 'message' | 'data'
  /** Messages per key (alerts and digests). `false`: unlimited. */
  perKey?: RateLimit | false
  /** Messages per notifier over all keys; alerts over it go into one digest across keys. `false`: unlimited. */
  total?: RateLimit | false
  /** Keys tracked at once; the least recently used key is forgotten (its pending digest is merged into the digest across keys). */
  maxKeys?: number
}

export interface StormSettings {
  keyBy: KeyField[]
  key: ((event: Event) => string) | undefined
  digestWindowMs: number
  digestMaxListed: number
  dedupWindowMs: number
  dedupBy: 'message' | 'data'
  perKey: RateLimit | false
  total: RateLimit | false
  maxKeys: number
}

/**
 * Storm-control defaults, chosen so that a flapping instrument sends a handful of messages, not
 * thousands: 10 000 alerts of one key within a minute become 2 messages (the first alert, then one
 * digest); an alert repeating forever is reported at most every 10 minutes; a key sends at most 6
 * messages an hour after its first burst; a notifier at most 30 an hour over all keys.
 */
export const DEFAULT_STORM: Readonly<StormSettings> = Object.freeze({
  // The same instrument and event type is "the same problem"; the message may vary (readings, step ids).
  keyBy: ['event_type', 'source'] as KeyField[],
  key: undefined,
  // One minute: the first alert still goes out at once, and a burst after it costs one message.
  digestWindowMs: 60_000,
  // Twenty: a digest that lists more is not read; bounds memory to 20 events per open digest.
  digestMaxListed: 20,
  // Ten minutes: an error that repeats is reported again, with its count, every 10 minutes at most.
  dedupWindowMs: 600_000,
  // Readings and counters in event_data would make every repeat unique; the message says what happened.
  dedupBy: 'message' as const,
  // Six an hour per key: a sustained storm of one instrument costs one message every 10 minutes.
  perKey: { max: 6, windowMs: 3_600_000 },
  // Thirty an hour per notifier: a whole lab failing at once stays readable; the rest arrive as one digest.
  total: { max: 30, windowMs: 3_600_000 },
  // 1000 keys × (20 listed events + 64 fingerprints) keeps the worst case to a few MB.
  maxKeys: 1000,
})

export interface RetryOptions {
  /** Retries after the first attempt. */
  retries?: number
  /** First backoff ceiling (full jitter between 0 and min(maxMs, baseMs·2^n)). */
  baseMs?: number
  maxMs?: number
}

/** Delivery settings, for all notifiers (in `AlertOptions`) or one (in its spec). */
export interface DeliveryOptions {
  /** Storm control; `false` sends every alert on its own (the queue bound still holds). */
  storm?: StormOptions | false
  retry?: RetryOptions
  /** Messages held per notifier while it is slow or down. */
  maxQueue?: number
  /** Which message a full queue drops. */
  overflow?: 'drop-oldest' | 'drop-newest'
  /** Messages sent at once per notifier. */
  concurrency?: number
  /** Deadline of one attempt; the notifier's work is aborted and the attempt counts as failed. */
  sendTimeoutMs?: number
}

export interface DeliverySettings {
  storm: StormSettings | null
  retry: Required<RetryOptions>
  maxQueue: number
  overflow: 'drop-oldest' | 'drop-newest'
  concurrency: number
  sendTimeoutMs: number
}

export const DEFAULT_DELIVERY: Readonly<Omit<DeliverySettings, 'storm'>> = Object.freeze({
  // Three retries (1 s, 2 s, 4 s ceilings): an SMTP or webhook restart heals; a real outage is reported within seconds.
  retry: Object.freeze({ retries: 3, baseMs: 1000, maxMs: 30_000 }),
  // 1000 messages: with storm control that is hours of worst-case output, in bounded memory.
  maxQueue: 1000,
  // When the peer has been down for long, its newest alerts are the ones worth sending when it returns.
  overflow: 'drop-oldest' as const,
  // Two at once: one slow message does not hold up the next; SMTP pools and webhooks are not flooded.
  concurrency: 2,
  // 30 s per attempt: covers a slow SMTP dialogue; a server that stalls is given up and retried.
  sendTimeoutMs: 30_000,
})

interface SpecCommon extends DeliveryOptions {
  /** Name in stats and reports; default the type (`email`, `webhook-2`, ...). */
  name?: string
}

export interface EmailNotifierSpec extends SpecCommon, EmailNotifierOptions {
  type: 'email'
}
export interface WebhookNotifierSpec extends SpecCommon, WebhookNotifierOptions {
  type: 'webhook'
}
export interface ConsoleNotifierSpec extends SpecCommon, ConsoleNotifierOptions {
  type: 'console'
}
/** A notifier from a module: `{ module: 'my-pager', options: {...} }` (works inside the pino worker). */
export interface ModuleNotifierSpec extends SpecCommon, PluginSpec {}
/** A notifier object with delivery settings of its own (in-process only). */
export interface CustomNotifierSpec extends SpecCommon {
  notifier: Notifier
}

export type NotifierSpec = EmailNotifierSpec | WebhookNotifierSpec | ConsoleNotifierSpec | ModuleNotifierSpec | CustomNotifierSpec | Notifier

export interface AlertOptions extends DeliveryOptions {
  /**
   * Events at or above this level alert (and any event with `alert: true`). A number (0, 10, 20,
   * 30, 40, 50) or a name (`ERROR`, `warning`, `EventLogLevel.CRITICAL`). Default 40 (ERROR), as MADSci.
   */
  alertLevel?: number | string
  notifiers?: NotifierSpec[]
  /** Clock in milliseconds (tests; in-process only). Default `Date.now`. */
  now?: () => number
  /** Random source for backoff jitter (tests; in-process only). Default `Math.random`. */
  random?: () => number
  /** How often due digests are looked for. 1 s: digests leave within a second of their window's end. */
  tickIntervalMs?: number
}

export const DEFAULT_ALERT_LEVEL: EventLogLevel = 40
export const DEFAULT_TICK_INTERVAL_MS = 1000

// ---------------------------------------------------------------- validation helpers

export function checkNumber(option: string, value: unknown, min: number, integer = true): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new ConfigError(option, `${JSON.stringify(value)} is not ${integer ? 'an integer' : 'a number'} ≥ ${min}`)
  }
  return value
}

export function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(option, `${JSON.stringify(value)} is not a boolean; use true or false`)
  return value
}

export function checkString(option: string, value: unknown, nonEmpty = true): string {
  if (typeof value !== 'string' || (nonEmpty && value.trim() === '')) throw new ConfigError(option, `${JSON.stringify(value)} is not a${nonEmpty ? ' non-empty' : ''} string`)
  return value
}

export function checkKeys(option: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(value)) {
    if (!allowed.includes(k)) throw new ConfigError(`${option}.${k}`, `unknown option; the accepted ones are ${allowed.join(', ')}`)
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The alert level from a number or a name; a ConfigError naming `option` otherwise. */
export function resolveAlertLevel(value: unknown, option = 'alertLevel'): EventLogLevel {
  if (value === undefined || value === null) return DEFAULT_ALERT_LEVEL
  const level = parseLevel(value, { aliases: true })
  if (level === undefined) {
    throw new ConfigError(option, `${JSON.stringify(value)} is not a level; use one of 0, 10, 20, 30, 40, 50 or NOTSET, DEBUG, INFO, WARNING, ERROR, CRITICAL`)
  }
  return level
}

const KEY_FIELDS: readonly string[] = ['event_type', 'log_level', 'source', ...OWNERSHIP_FIELDS]
const STORM_KEYS = ['keyBy', 'key', 'digestWindowMs', 'digestMaxListed', 'dedupWindowMs', 'dedupBy', 'perKey', 'total', 'maxKeys'] as const

function resolveRate(option: string, value: unknown, fallback: RateLimit | false): RateLimit | false {
  if (value === undefined) return fallback
  if (value === false) return false
  if (!isPlainObject(value)) throw new ConfigError(option, `${JSON.stringify(value)} is not { max, windowMs } or false`)
  checkKeys(option, value, ['max', 'windowMs'])
  return { max: checkNumber(`${option}.max`, value.max, 1), windowMs: checkNumber(`${option}.windowMs`, value.windowMs, 1) }
}

/** Storm settings: `base` (the dispatcher's) overlaid with `value` (a notifier's). */
export function resolveStorm(option: string, value: unknown, base: StormSettings | null): StormSettings | null {
  if (value === false) return null
  const from = base ?? DEFAULT_STORM
  if (value === undefined) return base === null ? null : { ...from }
  if (!isPlainObject(value)) throw new ConfigError(option, `${JSON.stringify(value)} is not an object of storm settings or false`)
  checkKeys(option, value, STORM_KEYS)
  const out: StormSettings = { ...from }
  if (value.keyBy !== undefined) {
    if (!Array.isArray(value.keyBy) || value.keyBy.length === 0) throw new ConfigError(`${option}.keyBy`, `must be a non-empty array of ${KEY_FIELDS.join(', ')}`)
    for (const f of value.keyBy) {
      if (!KEY_FIELDS.includes(f as string)) throw new ConfigError(`${option}.keyBy`, `${JSON.stringify(f)} is not a key field; use ${KEY_FIELDS.join(', ')}`)
    }
    out.keyBy = [...(value.keyBy as KeyField[])]
  }
  if (value.key !== undefined) {
    if (typeof value.key !== 'function') throw new ConfigError(`${option}.key`, 'must be a function (event) => string')
    out.key = value.key as (event: Event) => string
  }
  if (value.digestWindowMs !== undefined) out.digestWindowMs = checkNumber(`${option}.digestWindowMs`, value.digestWindowMs, 0)
  if (value.digestMaxListed !== undefined) out.digestMaxListed = checkNumber(`${option}.digestMaxListed`, value.digestMaxListed, 1)
  if (value.dedupWindowMs !== undefined) out.dedupWindowMs = checkNumber(`${option}.dedupWindowMs`, value.dedupWindowMs, 0)
  if (value.dedupBy !== undefined) {
    if (value.dedupBy !== 'message' && value.dedupBy !== 'data') throw new ConfigError(`${option}.dedupBy`, `${JSON.stringify(value.dedupBy)} is not one of message, data`)
    out.dedupBy = value.dedupBy
  }
  out.perKey = resolveRate(`${option}.perKey`, value.perKey, from.perKey)
  out.total = resolveRate(`${option}.total`, value.total, from.total)
  if (value.maxKeys !== undefined) out.maxKeys = checkNumber(`${option}.maxKeys`, value.maxKeys, 1)
  return out
}

/** Delivery settings: `base` overlaid with the options found in `value` (dispatcher or notifier level). */
export function resolveDelivery(option: string, value: DeliveryOptions, base: DeliverySettings | undefined): DeliverySettings {
  const prefix = option ? `${option}.` : ''
  const from: DeliverySettings = base ?? { ...DEFAULT_DELIVERY, retry: { ...DEFAULT_DELIVERY.retry }, storm: { ...DEFAULT_STORM } }
  const out: DeliverySettings = { ...from, retry: { ...from.retry } }
  out.storm = resolveStorm(`${prefix}storm`, value.storm, from.storm)
  if (value.retry !== undefined) {
    if (!isPlainObject(value.retry)) throw new ConfigError(`${prefix}retry`, 'must be { retries, baseMs, maxMs }')
    checkKeys(`${prefix}retry`, value.retry, ['retries', 'baseMs', 'maxMs'])
    if (value.retry.retries !== undefined) out.retry.retries = checkNumber(`${prefix}retry.retries`, value.retry.retries, 0)
    if (value.retry.baseMs !== undefined) out.retry.baseMs = checkNumber(`${prefix}retry.baseMs`, value.retry.baseMs, 0)
    if (value.retry.maxMs !== undefined) out.retry.maxMs = checkNumber(`${prefix}retry.maxMs`, value.retry.maxMs, 0)
  }
  if (value.maxQueue !== undefined) out.maxQueue = checkNumber(`${prefix}maxQueue`, value.maxQueue, 1)
  if (value.overflow !== undefined) {
    if (value.overflow !== 'drop-oldest' && value.overflow !== 'drop-newest') throw new ConfigError(`${prefix}overflow`, `${JSON.stringify(value.overflow)} is not one of drop-oldest, drop-newest`)
    out.overflow = value.overflow
  }
  if (value.concurrency !== undefined) out.concurrency = checkNumber(`${prefix}concurrency`, value.concurrency, 1)
  if (value.sendTimeoutMs !== undefined) out.sendTimeoutMs = checkNumber(`${prefix}sendTimeoutMs`, value.sendTimeoutMs, 1)
  return out
}

/** The delivery option names (they may appear in any notifier spec next to the notifier's own options). */
export const DELIVERY_KEYS = ['storm', 'retry', 'maxQueue', 'overflow', 'concurrency', 'sendTimeoutMs'] as const
export const ALERT_OPTION_KEYS = ['alertLevel', 'notifiers', 'now', 'random', 'tickIntervalMs', ...DELIVERY_KEYS] as const
