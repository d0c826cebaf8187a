import type { AlertOptions, NotifierSpec } from './options.js'
import { isPlainObject } from './options.js'
import type { Notifier } from './types.js'

/**
 * Secrets never leave the alert module: not in logs, errors, stats, nor in `/settings`.
 * `redactAlertOptions()` is what the server shows; `scrubSecrets()` cleans any text (an SMTP or
 * HTTP error message) of the configured secret values before it is recorded.
 */

/** MADSci's placeholder (`REDACTED_PLACEHOLDER` in madsci.common.types.base_types). */
export const REDACTED = '***REDACTED***'

/** Option names whose values are secrets wherever they appear (module plugin options included). */
const SECRET_NAME = /pass(word|wd|phrase)?$|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential|authorization|cookie|signature|^auth$/i

/**
 * A webhook URL as it may be shown: scheme, host and port only. Slack, Teams and most chat
 * webhooks carry their secret in the path or query, so neither is shown.
 */
export function redactWebhookUrl(url: string): string {
  try {
    const u = new URL(url)
    const hidden = (u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== ''
    return `${u.protocol}//${u.host}${hidden ? '/' + REDACTED : '/'}`
  } catch {
    return REDACTED
  }
}

function redactDeep(value: unknown, depth = 0): unknown {
  if (depth > 16) return REDACTED
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1))
  if (typeof value === 'function') return undefined
  if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/\s]*@/i.test(value)) return value.replace(/\/\/[^/\s]*@/, `//${REDACTED}@`)
  if (!isPlainObject(value)) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_NAME.test(k)) out[k] = v === undefined || v === null ? v : REDACTED
    else if (typeof v !== 'function') out[k] = redactDeep(v, depth + 1)
  }
  return out
}

function isNotifierObject(spec: unknown): spec is Notifier {
  return typeof (spec as Notifier)?.send === 'function'
}

function describeNotifier(n: Notifier): Record<string, unknown> {
  try {
    const d = n.describe?.()
    if (d) return redactDeep(d) as Record<string, unknown>
  } catch {
    // fall through
  }
  return { type: 'custom', name: n.name ?? 'custom' }
}

/** One notifier spec with its secrets replaced by `***REDACTED***`. */
export function redactNotifierSpec(spec: NotifierSpec): Record<string, unknown> {
  if (isNotifierObject(spec)) return describeNotifier(spec)
  const s = spec as unknown as Record<string, unknown>
  if (isNotifierObject(s.notifier)) {
    const { notifier, ...rest } = s
    return { ...(redactDeep(rest) as Record<string, unknown>), notifier: describeNotifier(notifier as Notifier) }
  }
  const out = redactDeep(s) as Record<string, unknown>
  if (s.type === 'email') {
    // As MADSci's /settings: the two secret fields are always redacted, even when unset.
    out.smtp_username = REDACTED
    out.smtp_password = REDACTED
  }
  if (s.type === 'webhook') {
    if (typeof s.url === 'string') out.url = redactWebhookUrl(s.url)
    if (isPlainObject(s.headers)) out.headers = Object.fromEntries(Object.keys(s.headers).map((k) => [k, REDACTED]))
    if (s.signingSecret !== undefined) out.signingSecret = REDACTED
  }
  if (s.type === 'console' && s.stream !== undefined) out.stream = '[stream]'
  return out
}

/**
 * The options as `/settings` may show them: every secret replaced by `***REDACTED***` (SMTP
 * username and password always, as MADSci; webhook URL paths, header values and signing secrets;
 * any module option whose name looks like a secret), functions left out.
 */
export function redactAlertOptions(options: AlertOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(options)) {
    if (typeof v === 'function' || v === undefined) continue
    if (k === 'notifiers' && Array.isArray(v)) out.notifiers = v.map((spec) => redactNotifierSpec(spec as NotifierSpec))
    else out[k] = redactDeep(v)
  }
  return out
}

/** The secret values in a spec (to scrub from error texts). */
export function secretsOf(spec: Record<string, unknown>): string[] {
  const found: string[] = []
  const walk = (value: unknown, depth: number): void => {
    if (depth > 16 || !isPlainObject(value)) return
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string' && (SECRET_NAME.test(k) || k === 'smtp_username')) found.push(v)
      else if (isPlainObject(v)) walk(v, depth + 1)
    }
  }
  walk(spec, 0)
  if (typeof spec.url === 'string') {
    try {
      const u = new URL(spec.url)
      found.push(spec.url)
      if (u.pathname.length > 1) found.push(u.pathname)
      if (u.search) found.push(u.search)
      if (u.password) found.push(u.password)
    } catch {
      found.push(spec.url)
    }
  }
  if (isPlainObject(spec.headers)) for (const v of Object.values(spec.headers)) if (typeof v === 'string') found.push(v)
  return found
}

/** `text` with every secret (and its base64 form, as SMTP AUTH sends it) replaced by `***REDACTED***`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text
  const forms: string[] = []
  for (const s of secrets) {
    if (s.length < 3) continue
    forms.push(s, Buffer.from(s).toString('base64'))
  }
  // Longest first, so a secret containing another is replaced whole.
  forms.sort((a, b) => b.length - a.length)
  for (const f of forms) if (out.includes(f)) out = out.split(f).join(REDACTED)
  return out
}
