import { envNested } from '../config/env.js'
import { ConfigError } from '../errors.js'
import { EMAIL_ALERTS_DEFAULTS, EMAIL_FIELDS, type EmailAlertsConfig, type EmailNotifierOptions, type EmailSettings, resolveEmailOptions } from './email.js'
import type { AlertOptions } from './options.js'
import { isPlainObject, resolveAlertLevel } from './options.js'
import { REDACTED } from './redact.js'

/**
 * Alert options from MADSci's environment variables, read as pydantic-settings reads them
 * (names case-insensitive, the string `null` meaning unset):
 *
 * - `EVENT_ALERT_LEVEL`: a level number or name (`40`, `ERROR`, `EventLogLevel.ERROR`);
 * - `EVENT_EMAIL_ALERTS`: a JSON object of `EmailAlertsConfig` fields, and/or nested variables
 *   `EVENT_EMAIL_ALERTS__SMTP_SERVER`, `…__SMTP_PORT`, `…__EMAIL_ADDRESSES` (a JSON list), which
 *   override the JSON's fields. `EVENT_EMAIL_ALERTS=null` turns email off even with nested ones.
 *
 * A bad value fails with a `ConfigError` naming the variable and what it accepts.
 */
export function alertOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AlertOptions {
  const out: AlertOptions = {}
  const level = lookup(env, 'EVENT_ALERT_LEVEL')
  if (level !== undefined && level !== '' && level.toLowerCase() !== 'null') out.alertLevel = resolveAlertLevel(level, 'EVENT_ALERT_LEVEL')
  const email = emailAlertsFromEnv(env)
  if (email) out.notifiers = [{ type: 'email', ...email }]
  return out
}

function lookup(env: NodeJS.ProcessEnv, name: string): string | undefined {
  if (env[name] !== undefined) return env[name]
  const upper = name.toUpperCase()
  for (const k of Object.keys(env)) if (k.toUpperCase() === upper) return env[k]
  return undefined
}

const BOOL_TRUE = ['1', 'true', 'yes', 'on', 't', 'y']
const BOOL_FALSE = ['0', 'false', 'no', 'off', 'f', 'n']

/** pydantic's lax coercion of one field from a string (nested variables) or JSON value. */
function coerce(field: keyof EmailSettings, value: unknown, variable: string, nested: boolean): unknown {
  if (typeof value !== 'string') return value
  switch (field) {
    case 'smtp_port':
    case 'max_connections':
    case 'connection_timeout_ms':
    case 'greeting_timeout_ms':
    case 'socket_timeout_ms':
      return /^\s*\d+\s*$/.test(value) ? Number(value) : value
    case 'use_tls':
    case 'smtp_secure':
    case 'tls_reject_unauthorized':
    case 'per_recipient':
    case 'html': {
      const s = value.trim().toLowerCase()
      if (BOOL_TRUE.includes(s)) return true
      if (BOOL_FALSE.includes(s)) return false
      throw new ConfigError(variable, `${JSON.stringify(value)} is not a boolean; use true or false`)
    }
    case 'email_addresses':
      // A nested variable holds the list as JSON (pydantic-settings decodes it); inside the JSON object a string is an error.
      if (!nested) return value
      try {
        return JSON.parse(value)
      } catch {
        throw new ConfigError(variable, `${JSON.stringify(value)} is not a JSON list of addresses such as ["ops@example.org"]`)
      }
    case 'smtp_username':
    case 'smtp_password':
      return value.toLowerCase() === 'null' ? null : value
    case 'tls_ca':
      if (nested && value.trim().startsWith('[')) {
        try {
          return JSON.parse(value)
        } catch {
          throw new ConfigError(variable, 'is not a PEM certificate or a JSON list of them')
        }
      }
      return value
    default:
      return value
  }
}

/** `EmailAlertsConfig` (plus our extensions) from `EVENT_EMAIL_ALERTS` and its nested variables; `undefined` when email is off. */
export function emailAlertsFromEnv(env: NodeJS.ProcessEnv = process.env): EmailNotifierOptions | undefined {
  const raw = lookup(env, 'EVENT_EMAIL_ALERTS')
  if (raw !== undefined && raw.trim().toLowerCase() === 'null') return undefined
  const nested = envNested(env, 'EVENT_EMAIL_ALERTS')
  let fromJson: Record<string, unknown> = {}
  if (raw !== undefined && raw.trim() !== '') {
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      parsed = undefined
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError('EVENT_EMAIL_ALERTS', 'must be a JSON object of EmailAlertsConfig fields, e.g. {"smtp_server": "smtp.example.org", "email_addresses": ["ops@example.org"]}')
    }
    fromJson = parsed as Record<string, unknown>
  } else if (Object.keys(nested).length === 0) {
    return undefined
  }
  const accepted = Object.keys(EMAIL_FIELDS).join(', ')
  const out: Record<string, unknown> = {}
  const take = (key: string, value: unknown, variable: string, nestedVar: boolean): void => {
    if (!Object.prototype.hasOwnProperty.call(EMAIL_FIELDS, key)) throw new ConfigError(variable, `is not an email alert setting; the accepted ones are ${accepted}`)
    const field = key as keyof EmailSettings
    const v = coerce(field, value, variable, nestedVar)
    out[field] = v === null && field !== 'smtp_username' && field !== 'smtp_password' ? undefined : EMAIL_FIELDS[field](variable, v)
  }
  for (const [k, v] of Object.entries(fromJson)) take(k, v, `EVENT_EMAIL_ALERTS.${k}`, false)
  for (const [k, v] of Object.entries(nested)) take(k, v, `EVENT_EMAIL_ALERTS__${k.toUpperCase()}`, true)
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k]
  return out as EmailNotifierOptions
}

/**
 * The two MADSci settings this module owns, as the Event Manager's `GET /settings` shows them:
 * `alert_level` (a number) and `email_alerts` (the first email notifier as MADSci's eight
 * `EmailAlertsConfig` fields, defaults applied, `smtp_username`/`smtp_password` always
 * `***REDACTED***`; `null` without an email notifier).
 */
export function madsciAlertSettings(options: AlertOptions): { alert_level: number; email_alerts: (Omit<EmailAlertsConfig, 'smtp_username' | 'smtp_password'> & { smtp_username: string; smtp_password: string }) | null } {
  const alert_level = resolveAlertLevel(options.alertLevel)
  const spec = options.notifiers?.find((n) => isPlainObject(n) && (n as { type?: unknown }).type === 'email') as Record<string, unknown> | undefined
  if (!spec) return { alert_level, email_alerts: null }
  const fields: Record<string, unknown> = {}
  for (const k of Object.keys(spec)) if (Object.prototype.hasOwnProperty.call(EMAIL_FIELDS, k)) fields[k] = spec[k]
  const resolved = resolveEmailOptions(fields, 'notifiers.email')
  const out = Object.fromEntries(Object.keys(EMAIL_ALERTS_DEFAULTS).map((k) => [k, resolved[k as keyof EmailSettings]])) as unknown as EmailAlertsConfig
  return { alert_level, email_alerts: { ...out, smtp_username: REDACTED, smtp_password: REDACTED } }
}
