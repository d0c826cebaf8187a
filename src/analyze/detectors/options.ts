/** Option reading for the built-in detectors: plain data in, defaults out, `ConfigError` on nonsense. */
import { ConfigError } from '../../errors.js'

export function numberOption(options: Record<string, unknown>, key: string, fallback: number, min = 0, prefix = ''): number {
  const v = options[key]
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ConfigError(`${prefix}${key}`, `expected a number ≥ ${min}, got ${JSON.stringify(v)}`)
  }
  return v
}

export function booleanOption(options: Record<string, unknown>, key: string, fallback: boolean, prefix = ''): boolean {
  const v = options[key]
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'boolean') throw new ConfigError(`${prefix}${key}`, `expected true or false, got ${JSON.stringify(v)}`)
  return v
}

export function stringOption(options: Record<string, unknown>, key: string, fallback: string, prefix = ''): string {
  const v = options[key]
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'string' || !v) throw new ConfigError(`${prefix}${key}`, `expected a non-empty string, got ${JSON.stringify(v)}`)
  return v
}

export function stringListOption(options: Record<string, unknown>, key: string, fallback: readonly string[], prefix = ''): string[] {
  const v = options[key]
  if (v === undefined || v === null) return [...fallback]
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x)) {
    throw new ConfigError(`${prefix}${key}`, `expected a non-empty list of strings, got ${JSON.stringify(v)}`)
  }
  return v as string[]
}

/** The MADSci event an anomaly is recorded as (type and level are options of every detector). */
export function reportingOptions(
  options: Record<string, unknown>,
  defaults: { alert: boolean; eventType: string; logLevel: number },
  prefix: string,
): { alert: boolean; eventType: string; logLevel: number } {
  return {
    alert: booleanOption(options, 'alert', defaults.alert, prefix),
    eventType: stringOption(options, 'eventType', defaults.eventType, prefix),
    logLevel: numberOption(options, 'logLevel', defaults.logLevel, 0, prefix),
  }
}
