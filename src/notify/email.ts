import { Transform, type TransformCallback } from 'node:stream'
import { createTransport } from 'nodemailer'
import type { PluginContext } from '../plugins.js'
import { type EmailNotifierOptions, type EmailSettings, resolveEmailOptions, xPriority } from './email-options.js'
import { NotifierError } from './errors.js'
import { alertHtml, alertSubject, alertText } from './format.js'
import { REDACTED, scrubSecrets } from './redact.js'
import type { Alert, Notifier, SendOptions } from './types.js'

export {
  EMAIL_ALERTS_DEFAULTS,
  EMAIL_FIELDS,
  resolveEmailOptions,
  xPriority,
  type EmailAlertsConfig,
  type EmailNotifierOptions,
  type EmailSettings,
} from './email-options.js'

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
