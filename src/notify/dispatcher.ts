import { ConfigError } from '../errors.js'
import type { EventLogLevel } from '../event/levels.js'
import type { Event, EventInput } from '../event/model.js'
import { newUlid } from '../event/ulid.js'
import { type PluginContext, isPluginSpec, loadPlugin } from '../plugins.js'
import { ConsoleNotifier } from './console.js'
import { EmailNotifier } from './email.js'
import { NotifierLane } from './lane.js'
import {
  ALERT_OPTION_KEYS,
  type AlertOptions,
  DEFAULT_TICK_INTERVAL_MS,
  DELIVERY_KEYS,
  type DeliveryOptions,
  type DeliverySettings,
  type NotifierSpec,
  checkKeys,
  checkNumber,
  isPlainObject,
  resolveAlertLevel,
  resolveDelivery,
} from './options.js'
import { scrubSecrets, secretsOf } from './redact.js'
import type { AlertDispatcherStats, Notifier } from './types.js'
import { WebhookNotifier } from './webhook.js'

/**
 * The alert dispatcher: the plugin the logger, the pino transport and the server feed with every
 * accepted event. `offer()` decides (`alert: true` or `log_level >= alertLevel`, as MADSci) and
 * hands the event to each notifier's lane; all I/O happens later, on each lane's own bounded queue.
 */
export interface AlertDispatcher {
  /** O(1), synchronous, never throws, never does I/O. */
  offer(event: Event): void
  /** Resolves when every alert due so far (digests whose window ended included) was sent or given up. */
  flush(): Promise<void>
  /**
   * Stop taking events, send every pending digest, deliver within `timeoutMs` (default 10 s), then
   * abort what is left (counted as dropped) and close the notifiers. Idempotent.
   */
  close(options?: { timeoutMs?: number }): Promise<void>
  stats(): AlertDispatcherStats
  /** Resolves when every module notifier is imported (a failed one is reported, not thrown). */
  ready(): Promise<void>
  /** The level at and above which events alert. */
  readonly alertLevel: EventLogLevel
}

/** Marker in the `event_data` of the dispatcher's own events (so they never alert: no feedback loops). */
export const OWN_EVENT_COMPONENT = 'alerts'
const OWN_IDS_KEPT = 10_000

function isOwnEvent(event: Event): boolean {
  const data = event.event_data as { madsci_events?: { component?: unknown } } | null
  return typeof data === 'object' && data !== null && data.madsci_events?.component === OWN_EVENT_COMPONENT
}

function isNotifierObject(value: unknown): value is Notifier {
  return typeof (value as Notifier | null)?.send === 'function'
}

function checkNotifier(value: unknown, option: string): Notifier {
  if (!isNotifierObject(value)) throw new ConfigError(option, 'the factory did not return a notifier (an object with send(alert))')
  return value
}

function pickDelivery(spec: Record<string, unknown>): { delivery: DeliveryOptions; rest: Record<string, unknown> } {
  const delivery: Record<string, unknown> = {}
  const rest: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(spec)) {
    if ((DELIVERY_KEYS as readonly string[]).includes(k)) delivery[k] = v
    else rest[k] = v
  }
  return { delivery: delivery as DeliveryOptions, rest }
}

interface Built {
  name: string
  type: string
  settings: DeliverySettings
  notifier: Notifier | Promise<Notifier>
  secrets: string[]
}

function uniqueName(wanted: string, taken: Set<string>): string {
  let name = wanted
  for (let i = 2; taken.has(name); i++) name = `${wanted}-${i}`
  taken.add(name)
  return name
}

function buildNotifier(spec: NotifierSpec, i: number, base: DeliverySettings, ctx: PluginContext, now: () => number, taken: Set<string>): Built {
  const option = `notifiers[${i}]`
  if (isNotifierObject(spec)) {
    return { name: uniqueName(spec.name ?? 'custom', taken), type: 'custom', settings: base, notifier: spec, secrets: [] }
  }
  if (!isPlainObject(spec)) throw new ConfigError(option, 'must be { type: "email" | "webhook" | "console", ... }, { module, options }, or a notifier object')
  const { delivery, rest } = pickDelivery(spec as Record<string, unknown>)
  const settings = resolveDelivery(option, delivery, base)
  const { name: wantedName, ...own } = rest
  if (wantedName !== undefined && (typeof wantedName !== 'string' || wantedName === '')) throw new ConfigError(`${option}.name`, 'must be a non-empty string')
  if ('notifier' in own) {
    checkKeys(option, own, ['notifier'])
    const n = checkNotifier(own.notifier, `${option}.notifier`)
    return { name: uniqueName((wantedName as string) ?? n.name ?? 'custom', taken), type: 'custom', settings, notifier: n, secrets: [] }
  }
  if (isPluginSpec(own)) {
    checkKeys(option, own, ['module', 'options'])
    if (own.options !== undefined && !isPlainObject(own.options)) throw new ConfigError(`${option}.options`, 'must be an object of plain data')
    const name = uniqueName((wantedName as string) ?? 'module', taken)
    const loading = loadPlugin<Notifier>({ module: own.module, options: own.options }, ctx, `${option}.module`).then((n) => checkNotifier(n, `${option}.module`))
    return { name, type: 'module', settings, notifier: loading, secrets: secretsOf(own.options ?? {}) }
  }
  const { type, ...opts } = own
  switch (type) {
    case 'email': {
      const name = uniqueName((wantedName as string) ?? 'email', taken)
      const n = new EmailNotifier(opts, ctx, { name, option })
      return { name, type: 'email', settings, notifier: n, secrets: secretsOf(opts) }
    }
    case 'webhook': {
      const name = uniqueName((wantedName as string) ?? 'webhook', taken)
      const n = new WebhookNotifier(opts, ctx, { name, option, now })
      return { name, type: 'webhook', settings, notifier: n, secrets: secretsOf(opts) }
    }
    case 'console': {
      const name = uniqueName((wantedName as string) ?? 'console', taken)
      return { name, type: 'console', settings, notifier: new ConsoleNotifier(opts, ctx, { name, option }), secrets: [] }
    }
    default:
      throw new ConfigError(`${option}.type`, `${JSON.stringify(type)} is not a notifier type; use email, webhook or console, or { module, options } for a plugin`)
  }
}

/**
 * Create the alert dispatcher. Options are validated here (a `ConfigError` names the bad one);
 * module notifiers are imported in the background (`ready()`), alerts for them wait in their queue.
 */
export function createAlertDispatcher(options: AlertOptions, context: PluginContext): AlertDispatcher {
  if (!isPlainObject(options)) throw new ConfigError('alertOptions', 'must be an object')
  checkKeys('alertOptions', options as Record<string, unknown>, ALERT_OPTION_KEYS)
  if (typeof context?.log !== 'function') throw new ConfigError('context', 'must be a PluginContext with log(event)')
  const level = resolveAlertLevel(options.alertLevel)
  if (options.now !== undefined && typeof options.now !== 'function') throw new ConfigError('now', 'must be a function returning milliseconds')
  if (options.random !== undefined && typeof options.random !== 'function') throw new ConfigError('random', 'must be a function returning a number in [0, 1)')
  const now = (options.now ?? Date.now) as () => number
  const random = (options.random ?? Math.random) as () => number
  const tickMs = options.tickIntervalMs === undefined ? DEFAULT_TICK_INTERVAL_MS : checkNumber('tickIntervalMs', options.tickIntervalMs, 10)
  if (options.notifiers !== undefined && !Array.isArray(options.notifiers)) throw new ConfigError('notifiers', 'must be an array of notifier specs')
  const base = resolveDelivery('', options, undefined)

  // Our own events (failures, drops) are remembered by id and marked, so they never alert.
  const ownIds = new Set<string>()
  const ownContext: PluginContext = {
    log(input: EventInput): void {
      const { _id, ...rest } = input
      const id = input.event_id ?? _id ?? newUlid()
      ownIds.add(id)
      if (ownIds.size > OWN_IDS_KEPT) ownIds.delete(ownIds.values().next().value as string)
      const data = input.event_data
      const marked =
        isPlainObject(data)
          ? { ...data, madsci_events: { ...(isPlainObject(data.madsci_events) ? data.madsci_events : {}), component: OWN_EVENT_COMPONENT } }
          : { message: data, madsci_events: { component: OWN_EVENT_COMPONENT } }
      try {
        context.log({ ...rest, event_id: id, event_data: marked })
      } catch {
        // Reporting must never throw into the caller.
      }
    },
  }
  const report = (lvl: 30 | 40 | 50, message: string, details: Record<string, unknown>): void => {
    // Deferred: offer() may be the caller, and it must never re-enter the pipeline synchronously.
    queueMicrotask(() => {
      ownContext.log({ event_type: 'manager_error', log_level: lvl, event_data: { message, madsci_events: details } })
    })
  }

  const taken = new Set<string>()
  const lanes = (options.notifiers ?? []).map((spec, i) => {
    const b = buildNotifier(spec, i, base, ownContext, now, taken)
    return new NotifierLane({
      name: b.name,
      type: b.type,
      settings: b.settings,
      now,
      random,
      report,
      scrub: (text) => scrubSecrets(text, b.secrets),
      notifier: b.notifier,
    })
  })

  let offered = 0
  let alerts = 0
  let ignoredOwn = 0
  let afterClose = 0
  let closing: Promise<void> | undefined

  const tick = (): void => {
    const t = now()
    for (const lane of lanes) lane.tick(t)
  }
  const timer = lanes.length > 0 ? setInterval(tick, tickMs) : undefined
  timer?.unref()

  return {
    alertLevel: level,

    offer(event: Event): void {
      offered++
      if (closing) {
        afterClose++
        return
      }
      try {
        if (event.alert !== true && !(event.log_level >= level)) return
        if (ownIds.size > 0 && ownIds.delete(event.event_id)) {
          ignoredOwn++
          return
        }
        if (isOwnEvent(event)) {
          ignoredOwn++
          return
        }
        alerts++
        const t = now()
        for (let i = 0; i < lanes.length; i++) lanes[i].offer(event, t)
      } catch (err) {
        report(40, `The alert dispatcher failed on an event: ${(err as Error)?.message ?? String(err)}`, { event_id: event?.event_id ?? null })
      }
    },

    async flush(): Promise<void> {
      await Promise.all(lanes.map((l) => l.ready()))
      tick()
      await Promise.all(lanes.map((l) => l.idle()))
      // Let deferred reports reach the context before returning.
      await new Promise<void>((resolve) => queueMicrotask(resolve))
    },

    close(closeOptions: { timeoutMs?: number } = {}): Promise<void> {
      closing ??= (async () => {
        const timeoutMs = closeOptions.timeoutMs ?? 10_000
        if (timer) clearInterval(timer)
        let deadline: NodeJS.Timeout | undefined
        const expired = new Promise<void>((resolve) => {
          deadline = setTimeout(resolve, timeoutMs)
        })
        const delivered = (async () => {
          await Promise.all(lanes.map((l) => l.ready()))
          const t = now()
          for (const lane of lanes) lane.drainDigests(t)
          await Promise.all(lanes.map((l) => l.idle()))
        })()
        await Promise.race([delivered, expired])
        clearTimeout(deadline)
        // Whatever is still queued or in flight is given up; notifiers get a short time to close.
        await Promise.all(lanes.map((l) => l.abort(Math.min(2000, Math.max(100, timeoutMs)))))
        await new Promise<void>((resolve) => setImmediate(resolve))
      })()
      return closing
    },

    stats(): AlertDispatcherStats {
      const notifiers: AlertDispatcherStats['notifiers'] = {}
      for (const lane of lanes) notifiers[lane.name] = lane.stats()
      return { offered, alerts, ignoredOwn, afterClose, notifiers }
    },

    async ready(): Promise<void> {
      await Promise.all(lanes.map((l) => l.ready()))
    },
  }
}
