import { Transform, type TransformCallback } from 'node:stream'
import { createTransport } from 'nodemailer'
import { ConfigError } from '../errors.js'
import type { PluginContext } from '../plugins.js'
import { NotifierError } from './errors.js'
import { alertHtml, alertSubject, alertText } from './format.js'
import { checkBoolean, checkNumber, checkString, isPlainObject } from './options.js'
import { REDACTED, scrubSecrets } from './redact.js'
import type { Alert, Notifier, SendOptions } from './types.js'

/**
 * Email alerts over SMTP with nodemailer, configured by MADSci's `EmailAlertsConfig`.
 *
 * As MADSci: one message per recipient (`To:` that recipient only), subject
 * `ALERT (EventLogLevel.ERROR): EventType.TEST`, headers `Importance`, `X-Priority` and
 * `X-MADSci-Event-ID`, text body `event.model_dump_json(indent=2)`, STARTTLS when `use_tls`,
 * login only when both username and password are set, an empty `email_addresses` logs a warning
 * and sends nothing.
 *
 * Unlike MADSci: one pooled SMTP transport (not one session per recipient per alert); an HTML
 * part next to the text; implicit TLS (port 465 or `smtp_secure`); certificates are verified
 * (Python's `starttls()` does not; set `tls_reject_unauthorized: false` to match);
 * `X-Priority` is 1/3/5 for High/Normal/Low (MADSci sends 5 for Normal and 3 for Low, defect D10;
 * `x_priority: 'madsci'` restores that); a retry only re-sends to the recipients that failed.
 */

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

/** nodemailer writes header names as `X-Madsci-Event-ID`; MADSci writes `X-MADSci-…`. Fix the top-level header block. */
function madsciHeaderCase(): Transform {
  let head = ''
  let done = false
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      if (done) return cb(null, chunk)
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0 && head.length < 64 * 1024) return cb()
      done = true
      const cut = end < 0 ? head.length : end
      const fixed = head.slice(0, cut).replace(/(^|\r\n)X-Madsci-/g, '$1X-MADSci-') + head.slice(cut)
      head = ''
      cb(null, Buffer.from(fixed, 'latin1'))
    },
    flush(cb: TransformCallback) {
      if (!done && head) cb(null, Buffer.from(head.replace(/(^|\r\n)X-Madsci-/g, '$1X-MADSci-'), 'latin1'))
      else cb()
    },
  })
}

type Transporter = ReturnType<typeof createTransport>

interface SmtpError extends Error {
  code?: string
  responseCode?: number
  command?: string
  permanent?: boolean
}

export class EmailNotifier implements Notifier {
  readonly name: string
  readonly settings: EmailSettings
  readonly #secrets: string[]
  #transport: Transporter | undefined
  /** Recipients an alert already reached (a retry re-sends to the others only). */
  readonly #reached = new WeakMap<Alert, Set<string>>()

  /** `meta.name` is shown in reports; `meta.option` prefixes option names in errors (default the name). */
  constructor(options: EmailNotifierOptions | Record<string, unknown>, _context?: PluginContext, meta: { name?: string; option?: string } = {}) {
    const name = meta.name ?? 'email'
    this.settings = resolveEmailOptions(options as Record<string, unknown>, meta.option ?? name)
    this.name = name
    const s = this.settings
    this.#secrets = [s.smtp_password, s.smtp_username].filter((v): v is string => typeof v === 'string' && v !== '')
  }

  #transporter(): Transporter {
    if (this.#transport) return this.#transport
    const s = this.settings
    const secure = s.smtp_secure
    this.#transport = createTransport({
      pool: true,
      host: s.smtp_server,
      port: s.smtp_port,
      secure,
      // smtplib.starttls() fails when the server does not offer STARTTLS: require it, never fall back.
      requireTLS: !secure && s.use_tls,
      // use_tls false: MADSci never upgrades, even when offered.
      ignoreTLS: !secure && !s.use_tls,
      // As MADSci: log in only when both are set.
      auth: s.smtp_username && s.smtp_password ? { user: s.smtp_username, pass: s.smtp_password } : undefined,
      tls: {
        rejectUnauthorized: s.tls_reject_unauthorized,
        ...(s.tls_ca ? { ca: s.tls_ca } : {}),
        ...(s.tls_servername ? { servername: s.tls_servername } : {}),
      },
      maxConnections: s.max_connections,
      maxMessages: 100,
      connectionTimeout: s.connection_timeout_ms,
      greetingTimeout: s.greeting_timeout_ms,
      socketTimeout: s.socket_timeout_ms,
      ...(s.client_name ? { name: s.client_name } : {}),
      logger: false,
      debug: false,
      disableFileAccess: true,
      disableUrlAccess: true,
    })
    this.#transport.use('stream', (mail, done) => {
      mail.message.transform(madsciHeaderCase)
      done()
    })
    return this.#transport
  }

  /** The message for an alert (without `to`). */
  message(alert: Alert): { from: string; subject: string; text: string; html?: string; headers: Record<string, string> } {
    const s = this.settings
    const first = alert.kind === 'event' ? alert.event : alert.items[0]?.event
    const headers: Record<string, string> = {
      Importance: s.default_importance,
      'X-Priority': xPriority(s.default_importance, s.x_priority),
    }
    if (first) headers['X-MADSci-Event-ID'] = first.event_id
    if (alert.kind === 'digest') {
      headers['X-MADSci-Alert-Kind'] = 'digest'
      headers['X-MADSci-Alert-Count'] = String(alert.count)
      headers['X-MADSci-Alert-Key'] = alert.key
    }
    return {
      from: s.sender,
      subject: alertSubject(alert),
      text: alertText(alert),
      ...(s.html ? { html: alertHtml(alert) } : {}),
      headers,
    }
  }

  async send(alert: Alert, options: SendOptions): Promise<void> {
    const s = this.settings
    if (s.email_addresses.length === 0) {
      // MADSci's warning, word for word; nothing is sent.
      throw new NotifierError(this.name, 'No email addresses configured for alerts', { permanent: true, logLevel: 30 })
    }
    const reached = this.#reached.get(alert) ?? new Set<string>()
    const targets = s.per_recipient ? s.email_addresses.filter((a) => !reached.has(a)).map((a) => [a]) : [s.email_addresses]
    const msg = this.message(alert)
    const transport = this.#transporter()
    const results = await Promise.allSettled(
      targets.map((to) => transport.sendMail({ ...msg, to: to.join(', '), envelope: { from: s.sender, to }, signal: options.signal })),
    )
    const failures: Array<{ to: string[]; err: SmtpError }> = []
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        const rejected = (r.value as { rejected?: unknown[] }).rejected ?? []
        if (rejected.length === 0) for (const a of targets[i]) reached.add(a)
        else {
          const err: SmtpError = new Error(`the server refused ${rejected.map(String).join(', ')}`)
          err.permanent = true
          failures.push({ to: targets[i], err })
        }
      } else failures.push({ to: targets[i], err: r.reason as SmtpError })
    })
    if (failures.length === 0) {
      this.#reached.delete(alert)
      return
    }
    this.#reached.set(alert, reached)
    const detail = failures
      .map(({ to, err }) => `${to.join(', ')}: ${err.code ? `${err.code} ` : ''}${err.message}`)
      .join('; ')
    // Permanent: a 5xx reply (retrying gets it again) or credentials the server refused.
    const permanent = failures.every(
      ({ err }) => err.permanent === true || (typeof err.responseCode === 'number' && err.responseCode >= 500) || err.code === 'EAUTH' || err.code === 'ENOAUTH',
    )
    throw new NotifierError(
      this.name,
      scrubSecrets(`SMTP delivery via ${s.smtp_server}:${s.smtp_port} failed for ${failures.length} of ${targets.length} message${targets.length === 1 ? '' : 's'} (${detail})`, this.#secrets),
      { permanent },
    )
  }

  async close(): Promise<void> {
    // The dispatcher closes notifiers after its own deadline: connections still busy are given up.
    this.#transport?.close({ force: true })
    this.#transport = undefined
  }

  describe(): Record<string, unknown> {
    return { type: 'email', ...this.settings, smtp_username: REDACTED, smtp_password: REDACTED, tls_ca: this.settings.tls_ca ? `[${this.settings.tls_ca.length} certificate(s)]` : undefined }
  }
}
