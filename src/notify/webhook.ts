import { createHmac, timingSafeEqual } from 'node:crypto'
import { Agent, request } from 'undici'
import { ConfigError } from '../errors.js'
import { parseRetryAfter } from '../pipeline/backoff.js'
import type { PluginContext } from '../plugins.js'
import { NotifierError } from './errors.js'
import { alertPayload, alertShortText, alertSubject, eventJsonPretty, levelName } from './format.js'
import { checkKeys, checkNumber, checkString, isPlainObject } from './options.js'
import { REDACTED, redactWebhookUrl, scrubSecrets, secretsOf } from './redact.js'
import type { Alert, Notifier, SendOptions } from './types.js'

/**
 * Webhooks with undici: a generic JSON body (`alertPayload()`), or Slack- and Microsoft
 * Teams-compatible payloads; custom headers; an optional HMAC-SHA256 signature.
 *
 * Signature: with `signingSecret`, each request carries `X-MADSci-Timestamp: <unix seconds>` and
 * `X-MADSci-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. A receiver
 * recomputes it over the raw body, compares in constant time, and refuses timestamps older than a
 * few minutes (replays); `verifyWebhookSignature()` does exactly that.
 */

export interface WebhookNotifierOptions {
  /** The endpoint. Its path and query are treated as secret (Slack and Teams put the token there). */
  url: string
  /** `json` (default), `slack` (incoming webhook: text + blocks) or `teams` (Adaptive Card message). */
  format?: 'json' | 'slack' | 'teams'
  method?: 'POST' | 'PUT'
  /** Extra request headers (e.g. `Authorization`); their values are treated as secret. */
  headers?: Record<string, string>
  /** Key for the HMAC-SHA256 signature headers. */
  signingSecret?: string
  signatureHeader?: string
  timestampHeader?: string
  /** Connect, response-headers and body timeouts of one request. 10 s: chat webhooks answer in well under a second. */
  timeoutMs?: number
}

export const WEBHOOK_DEFAULTS = Object.freeze({
  format: 'json' as const,
  method: 'POST' as const,
  signatureHeader: 'X-MADSci-Signature',
  timestampHeader: 'X-MADSci-Timestamp',
  timeoutMs: 10_000,
})

const WEBHOOK_KEYS = ['url', 'format', 'method', 'headers', 'signingSecret', 'signatureHeader', 'timestampHeader', 'timeoutMs']

export type WebhookSettings = Required<Omit<WebhookNotifierOptions, 'signingSecret'>> & { signingSecret: string | undefined }

export function resolveWebhookOptions(value: Record<string, unknown>, option = 'webhook'): WebhookSettings {
  if (!isPlainObject(value)) throw new ConfigError(option, 'must be an object with at least `url`')
  checkKeys(option, value, WEBHOOK_KEYS)
  const url = checkString(`${option}.url`, value.url)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError(`${option}.url`, 'is not an absolute http(s) URL')
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`${option}.url`, `uses ${parsed.protocol}; use http: or https:`)
  const format = value.format ?? WEBHOOK_DEFAULTS.format
  if (format !== 'json' && format !== 'slack' && format !== 'teams') throw new ConfigError(`${option}.format`, `${JSON.stringify(format)} is not one of json, slack, teams`)
  const method = value.method ?? WEBHOOK_DEFAULTS.method
  if (method !== 'POST' && method !== 'PUT') throw new ConfigError(`${option}.method`, `${JSON.stringify(method)} is not one of POST, PUT`)
  const headers: Record<string, string> = {}
  if (value.headers !== undefined) {
    if (!isPlainObject(value.headers)) throw new ConfigError(`${option}.headers`, 'must be an object of header names to string values')
    for (const [k, v] of Object.entries(value.headers)) {
      if (typeof v !== 'string') throw new ConfigError(`${option}.headers.${k}`, 'must be a string')
      headers[k] = v
    }
  }
  return {
    url,
    format,
    method,
    headers,
    signingSecret: value.signingSecret === undefined ? undefined : checkString(`${option}.signingSecret`, value.signingSecret),
    signatureHeader: value.signatureHeader === undefined ? WEBHOOK_DEFAULTS.signatureHeader : checkString(`${option}.signatureHeader`, value.signatureHeader),
    timestampHeader: value.timestampHeader === undefined ? WEBHOOK_DEFAULTS.timestampHeader : checkString(`${option}.timestampHeader`, value.timestampHeader),
    timeoutMs: value.timeoutMs === undefined ? WEBHOOK_DEFAULTS.timeoutMs : checkNumber(`${option}.timeoutMs`, value.timeoutMs, 1),
  }
}

/** `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function signWebhook(secret: string, timestamp: number | string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
}

/** Check a received webhook: the signature matches and the timestamp is within `toleranceSec` (default 300) of now. */
export function verifyWebhookSignature(input: {
  secret: string
  body: string
  timestamp: string | undefined
  signature: string | undefined
  toleranceSec?: number
  nowMs?: number
}): boolean {
  if (!input.timestamp || !input.signature || !/^\d+$/.test(input.timestamp)) return false
  const age = Math.abs((input.nowMs ?? Date.now()) / 1000 - Number(input.timestamp))
  if (age > (input.toleranceSec ?? 300)) return false
  const expected = Buffer.from(signWebhook(input.secret, input.timestamp, input.body))
  const got = Buffer.from(input.signature)
  return expected.length === got.length && timingSafeEqual(expected, got)
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…'
}

/** Slack incoming-webhook body: `text` (notifications, fallback) plus Block Kit blocks within Slack's limits. */
export function slackPayload(alert: Alert): Record<string, unknown> {
  const subject = alertSubject(alert)
  const blocks: Array<Record<string, unknown>> = [
    { type: 'header', text: { type: 'plain_text', text: truncate(subject, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(alertShortText(alert), 3000) } },
  ]
  if (alert.kind === 'event') {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate('```' + eventJsonPretty(alert.event) + '```', 3000) } })
  }
  return { text: truncate(`${subject}\n${alertShortText(alert)}`, 3000), blocks }
}

/** Microsoft Teams (Workflows / incoming webhook) body: a message with one Adaptive Card. */
export function teamsPayload(alert: Alert): Record<string, unknown> {
  const facts =
    alert.kind === 'event'
      ? [
          { title: 'Type', value: alert.event.event_type },
          { title: 'Level', value: `${levelName(alert.event.log_level)} (${alert.event.log_level})` },
          { title: 'Time', value: alert.event.event_timestamp },
          { title: 'Event ID', value: alert.event.event_id },
        ]
      : [
          { title: 'Alerts', value: String(alert.count) },
          { title: 'Highest level', value: levelName(alert.level) },
          { title: 'From', value: alert.firstTimestamp },
          { title: 'To', value: alert.lastTimestamp },
        ]
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: alertSubject(alert), weight: 'Bolder', size: 'Medium', wrap: true },
            { type: 'FactSet', facts },
            { type: 'TextBlock', text: truncate(alertShortText(alert), 4000), wrap: true },
          ],
        },
      },
    ],
  }
}

export function webhookBody(alert: Alert, format: WebhookSettings['format']): string {
  const payload = format === 'slack' ? slackPayload(alert) : format === 'teams' ? teamsPayload(alert) : alertPayload(alert)
  return JSON.stringify(payload)
}

export class WebhookNotifier implements Notifier {
  readonly name: string
  readonly settings: WebhookSettings
  readonly #secrets: string[]
  readonly #shownUrl: string
  readonly #now: () => number
  #agent: Agent | undefined

  /** `meta.name` is shown in reports; `meta.option` prefixes option names in errors; `meta.now` stamps signatures. */
  constructor(options: WebhookNotifierOptions | Record<string, unknown>, _context?: PluginContext, meta: { name?: string; option?: string; now?: () => number } = {}) {
    const name = meta.name ?? 'webhook'
    this.settings = resolveWebhookOptions(options as Record<string, unknown>, meta.option ?? name)
    this.name = name
    this.#now = meta.now ?? Date.now
    this.#secrets = secretsOf(this.settings as unknown as Record<string, unknown>)
    this.#shownUrl = redactWebhookUrl(this.settings.url)
  }

  #dispatcher(): Agent {
    const t = this.settings.timeoutMs
    this.#agent ??= new Agent({ connect: { timeout: t }, headersTimeout: t, bodyTimeout: t, keepAliveTimeout: 30_000 })
    return this.#agent
  }

  async send(alert: Alert, options: SendOptions): Promise<void> {
    const s = this.settings
    const body = webhookBody(alert, s.format)
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'madsci-events', ...s.headers }
    if (s.signingSecret) {
      const ts = Math.floor(this.#now() / 1000)
      headers[s.timestampHeader] = String(ts)
      headers[s.signatureHeader] = signWebhook(s.signingSecret, ts, body)
    }
    let res: Awaited<ReturnType<typeof request>>
    try {
      res = await request(s.url, { method: s.method, headers, body, dispatcher: this.#dispatcher(), signal: options.signal })
    } catch (err) {
      const e = err as Error & { code?: string }
      throw new NotifierError(this.name, scrubSecrets(`${s.method} ${this.#shownUrl} failed: ${e.code ? `${e.code} ` : ''}${e.message}`, this.#secrets))
    }
    // Read the answer (the connection is reused only once it is consumed), keeping 2 KiB for the error message.
    let snippet = ''
    try {
      const kept: Buffer[] = []
      let size = 0
      for await (const chunk of res.body) {
        if (size < 2048) {
          kept.push(chunk as Buffer)
          size += (chunk as Buffer).length
        }
      }
      snippet = Buffer.concat(kept).toString('utf8').slice(0, 200)
    } catch {
      // The body is only for the error message.
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return
    const header = (name: string): string | undefined => {
      const v = res.headers[name]
      return Array.isArray(v) ? v[0] : v
    }
    const status = res.statusCode
    throw new NotifierError(this.name, scrubSecrets(`${s.method} ${this.#shownUrl} answered HTTP ${status}${snippet ? `: ${snippet}` : ''}`, this.#secrets), {
      permanent: status >= 400 && status < 500 && status !== 408 && status !== 429,
      retryAfterMs: parseRetryAfter(header('retry-after'), header('x-ratelimit-reset'), this.#now()),
    })
  }

  async close(): Promise<void> {
    const agent = this.#agent
    this.#agent = undefined
    if (agent) await agent.destroy().catch(() => undefined)
  }

  describe(): Record<string, unknown> {
    const s = this.settings
    return {
      type: 'webhook',
      ...s,
      url: this.#shownUrl,
      headers: Object.fromEntries(Object.keys(s.headers).map((k) => [k, REDACTED])),
      signingSecret: s.signingSecret === undefined ? undefined : REDACTED,
    }
  }
}
