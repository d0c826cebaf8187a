/**
 * MADSci `EventLogLevel`: the Python `logging` numbers. pino uses other numbers for the same names
 * (trace 10, debug 20, info 30, warn 40, error 50, fatal 60), so the two are mapped **by name**:
 *
 * | pino  | MADSci        |
 * |-------|---------------|
 * | trace | DEBUG (10)    | (MADSci has no TRACE)
 * | debug | DEBUG (10)    |
 * | info  | INFO (20)     |
 * | warn  | WARNING (30)  |
 * | error | ERROR (40)    |
 * | fatal | CRITICAL (50) |
 *
 * A custom pino level maps to the nearest standard pino level at or below it.
 */
export const EventLogLevel = {
  NOTSET: 0,
  DEBUG: 10,
  INFO: 20,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
} as const

export type EventLogLevelName = keyof typeof EventLogLevel
export type EventLogLevel = (typeof EventLogLevel)[EventLogLevelName]

export const LEVEL_NAMES: Readonly<Record<EventLogLevel, EventLogLevelName>> = Object.freeze({
  0: 'NOTSET',
  10: 'DEBUG',
  20: 'INFO',
  30: 'WARNING',
  40: 'ERROR',
  50: 'CRITICAL',
})

export function isEventLogLevel(value: unknown): value is EventLogLevel {
  return typeof value === 'number' && Object.prototype.hasOwnProperty.call(LEVEL_NAMES, value)
}

/**
 * A MADSci level from a number (one of the six) or a name in any case, optionally prefixed
 * `EventLogLevel.` — exactly what the Python model accepts. Returns `undefined` for anything else.
 * With `{ aliases: true }` the names `WARN`, `FATAL` and `TRACE` are also accepted (for our own
 * configuration and for pino; MADSci's model has no aliases).
 */
export function parseLevel(value: unknown, options?: { aliases?: boolean }): EventLogLevel | undefined {
  if (typeof value === 'number') return isEventLogLevel(value) ? value : undefined
  if (typeof value !== 'string') return undefined
  let name = value.trim().toUpperCase()
  if (name.startsWith('EVENTLOGLEVEL.')) name = name.slice('EVENTLOGLEVEL.'.length)
  if (Object.prototype.hasOwnProperty.call(EventLogLevel, name)) return EventLogLevel[name as EventLogLevelName]
  if (options?.aliases) {
    if (name === 'WARN') return 30
    if (name === 'FATAL') return 50
    if (name === 'TRACE') return 10
    if (/^\d+$/.test(name)) return parseLevel(Number(name))
  }
  return undefined
}

/** The `log_<level>` event type MADSci uses for a plain log line at that level. */
export function logTypeForLevel(level: number): 'log_debug' | 'log_info' | 'log_warning' | 'log_error' | 'log_critical' | 'log' {
  switch (level) {
    case 10:
      return 'log_debug'
    case 20:
      return 'log_info'
    case 30:
      return 'log_warning'
    case 40:
      return 'log_error'
    case 50:
      return 'log_critical'
    default:
      return 'log'
  }
}

/** pino's default level numbers. */
export const PINO_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const

const pinoByName: Record<string, EventLogLevel> = {
  trace: 10,
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  fatal: 50,
}

/**
 * The MADSci level for a pino level. `label` (the level name, when pino's `levels.labels` knows it)
 * wins; otherwise the number is mapped to the nearest standard pino level at or below it
 * (e.g. a custom 35 → info → INFO). Numbers below trace map to DEBUG.
 */
export function pinoToMadsciLevel(pinoLevel: number, label?: string): EventLogLevel {
  if (label !== undefined) {
    const named = pinoByName[label.toLowerCase()]
    if (named !== undefined) return named
  }
  if (pinoLevel >= 60) return 50
  if (pinoLevel >= 50) return 40
  if (pinoLevel >= 40) return 30
  if (pinoLevel >= 30) return 20
  return 10
}

/** The pino level name for a MADSci level (NOTSET → trace, CRITICAL → fatal). */
export function madsciToPinoLevel(level: EventLogLevel): keyof typeof PINO_LEVELS {
  if (level >= 50) return 'fatal'
  if (level >= 40) return 'error'
  if (level >= 30) return 'warn'
  if (level >= 20) return 'info'
  if (level >= 10) return 'debug'
  return 'trace'
}
