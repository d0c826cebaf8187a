import { ConfigError } from '../errors.js'
import { checkBoolean, checkNumber, checkString, isPlainObject } from './options.js'

/** The email notifier's options: MADSci's `EmailAlertsConfig` fields plus ours, validated. */

/** MADSci's `EmailAlertsConfig` (madsci.common.types.event_types), field for field. */
export interface EmailAlertsConfig {
  smtp_server: string
  smtp_port: number
  smtp_username: string | null
  smtp_password: string | null
  use_tls: boolean
  sender: string
  default_importance: string
  email_addresses: string[]
}

/** MADSci's defaults. */
export const EMAIL_ALERTS_DEFAULTS: Readonly<EmailAlertsConfig> = Object.freeze({
  smtp_server: 'smtp.example.com',
  smtp_port: 587,
  smtp_username: null,
  smtp_password: null,
  use_tls: true,
  sender: 'no-reply@example.com',
  default_importance: 'Normal',
  email_addresses: [],
})

/** EmailAlertsConfig plus our extensions (snake_case too, so all of it fits in `EVENT_EMAIL_ALERTS`). */
export interface EmailNotifierOptions extends Partial<EmailAlertsConfig> {
  /** Implicit TLS (SMTPS) from the first byte. Default: true when `smtp_port` is 465. */
  smtp_secure?: boolean
  /** Verify the server's certificate. Default true (MADSci/smtplib does not verify). */
  tls_reject_unauthorized?: boolean
  /** Extra trusted CA certificates (PEM), e.g. a lab's own CA. */
  tls_ca?: string | string[]
  /** Name to check the certificate against, when `smtp_server` is an IP address. */
  tls_servername?: string
  /** One message per recipient (MADSci, default) or one message to all recipients. */
  per_recipient?: boolean
  /** `standard` (1/3/5 = High/Normal/Low, default) or `madsci` (upstream's 1/5/3, defect D10). */
  x_priority?: 'standard' | 'madsci'
  /** Add an HTML part next to the text. Default true. */
  html?: boolean
  /** Pooled SMTP connections. 3: parallel recipients without tripping per-client limits of mail servers. */
  max_connections?: number
  /** TCP connect timeout. 10 s (nodemailer's 2 min would hold an alert for long on a dead host). */
  connection_timeout_ms?: number
  /** Wait for the server's greeting. 10 s. */
  greeting_timeout_ms?: number
  /** Inactivity on an open connection. 30 s. */
  socket_timeout_ms?: number
  /** Our name in EHLO. Default the host name. */
  client_name?: string
}

export interface EmailSettings extends EmailAlertsConfig {
  smtp_secure: boolean
  tls_reject_unauthorized: boolean
  tls_ca: string[] | undefined
  tls_servername: string | undefined
  per_recipient: boolean
  x_priority: 'standard' | 'madsci'
  html: boolean
  max_connections: number
  connection_timeout_ms: number
  greeting_timeout_ms: number
  socket_timeout_ms: number
  client_name: string | undefined
}

const IMPORTANCE = ['high', 'normal', 'low']

function nullableString(option: string, v: unknown): string | null {
  if (v === null) return null
  if (typeof v !== 'string') throw new ConfigError(option, `${JSON.stringify(v)} is not a string or null`)
  return v
}

/** A validator per email option: the value → the value (typed), or a ConfigError naming `option`. */
export const EMAIL_FIELDS: Readonly<Record<keyof EmailSettings, (option: string, value: unknown) => unknown>> = {
  smtp_server: (o, v) => checkString(o, v),
  smtp_port: (o, v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new ConfigError(o, `${JSON.stringify(v)} is not a port number (an integer from 1 to 65535)`)
    return v
  },
  smtp_username: (o, v) => nullableString(o, v),
  smtp_password: (o, v) => nullableString(o, v),
  use_tls: (o, v) => checkBoolean(o, v),
  sender: (o, v) => checkString(o, v),
  default_importance: (o, v) => {
    if (typeof v !== 'string' || !IMPORTANCE.includes(v.toLowerCase())) throw new ConfigError(o, `${JSON.stringify(v)} is not an importance; use High, Normal or Low`)
    return v
  },
  email_addresses: (o, v) => {
    if (!Array.isArray(v) || v.some((a) => typeof a !== 'string' || a.trim() === '')) throw new ConfigError(o, `${JSON.stringify(v)} is not a list of email addresses such as ["ops@example.org"]`)
    return [...v]
  },
  smtp_secure: (o, v) => checkBoolean(o, v),
  tls_reject_unauthorized: (o, v) => checkBoolean(o, v),
  tls_ca: (o, v) => {
    if (typeof v === 'string') return [v]
    if (Array.isArray(v) && v.every((c) => typeof c === 'string')) return [...v]
    throw new ConfigError(o, 'must be a PEM certificate string or a list of them')
  },
  tls_servername: (o, v) => checkString(o, v),
  per_recipient: (o, v) => checkBoolean(o, v),
  x_priority: (o, v) => {
    if (v !== 'standard' && v !== 'madsci') throw new ConfigError(o, `${JSON.stringify(v)} is not one of standard, madsci`)
    return v
  },
  html: (o, v) => checkBoolean(o, v),
  max_connections: (o, v) => checkNumber(o, v, 1),
  connection_timeout_ms: (o, v) => checkNumber(o, v, 1),
  greeting_timeout_ms: (o, v) => checkNumber(o, v, 1),
  socket_timeout_ms: (o, v) => checkNumber(o, v, 1),
  client_name: (o, v) => checkString(o, v),
}

/** Validate email options (`option` prefixes the names in errors) and apply the defaults. */
export function resolveEmailOptions(value: Record<string, unknown>, option = 'email'): EmailSettings {
  if (!isPlainObject(value)) throw new ConfigError(option, 'must be an object of EmailAlertsConfig fields')
  const fields = Object.keys(EMAIL_FIELDS)
  const given: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    if (!Object.prototype.hasOwnProperty.call(EMAIL_FIELDS, k)) throw new ConfigError(`${option}.${k}`, `unknown email option; the accepted ones are ${fields.join(', ')}`)
    if (v === undefined) continue
    given[k] = EMAIL_FIELDS[k as keyof EmailSettings](`${option}.${k}`, v)
  }
  const port = (given.smtp_port as number | undefined) ?? EMAIL_ALERTS_DEFAULTS.smtp_port
  return {
    ...EMAIL_ALERTS_DEFAULTS,
    email_addresses: [...EMAIL_ALERTS_DEFAULTS.email_addresses],
    smtp_secure: port === 465,
    tls_reject_unauthorized: true,
    tls_ca: undefined,
    tls_servername: undefined,
    per_recipient: true,
    x_priority: 'standard',
    html: true,
    max_connections: 3,
    connection_timeout_ms: 10_000,
    greeting_timeout_ms: 10_000,
    socket_timeout_ms: 30_000,
    client_name: undefined,
    ...given,
  } as EmailSettings
}

/** `X-Priority` for an importance: standard 1/3/5 = High/Normal/Low; `madsci` reproduces upstream's 1/5/3. */
export function xPriority(importance: string, mapping: 'standard' | 'madsci' = 'standard'): string {
  const i = importance.toLowerCase()
  if (i === 'high') return '1'
  if (mapping === 'madsci') return i === 'low' ? '3' : '5'
  return i === 'low' ? '5' : '3'
}
