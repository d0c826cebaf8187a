import { toJsonSafe } from '../event/json-safe.js'
import { LEVEL_NAMES, type EventLogLevel } from '../event/levels.js'
import type { Event } from '../event/model.js'
import { eventToObject } from '../event/serialize.js'
import { messageOf } from './storm.js'
import type { Alert, DigestAlert } from './types.js'

/**
 * How alerts read, shared by every notifier. An alert for one event reads exactly as MADSci's
 * email: subject `ALERT (EventLogLevel.ERROR): EventType.TEST` (the Python ≥ 3.11 f-string of the
 * two enums) and body `event.model_dump_json(indent=2)`. Digests have their own subject and body.
 */

export function levelName(level: number): string {
  return LEVEL_NAMES[level as EventLogLevel] ?? String(level)
}

/** `EventLogLevel.ERROR`, as Python ≥ 3.11 renders the enum member in an f-string. */
export function pythonLevel(level: number): string {
  const name = LEVEL_NAMES[level as EventLogLevel]
  return name ? `EventLogLevel.${name}` : String(level)
}

/** `EventType.NODE_ERROR` (every member name is its value upper-cased). */
export function pythonType(type: string): string {
  return `EventType.${type.toUpperCase()}`
}

export function alertSubject(alert: Alert): string {
  if (alert.kind === 'event') return `ALERT (${pythonLevel(alert.event.log_level)}): ${pythonType(alert.event.event_type)}`
  const what =
    alert.eventTypes.length === 1
      ? `${pythonType(alert.eventTypes[0])} (${alert.count} alert${alert.count === 1 ? '' : 's'})`
      : `${alert.count} alerts of ${alert.eventTypes.length}${alert.eventTypes.length >= 20 ? '+' : ''} event types`
  return `ALERT DIGEST (${pythonLevel(alert.level)}): ${what}`
}

/** The event as MADSci's `model_dump_json()` object: key `event_id`, model order, JSON-safe data. */
export function eventJsonObject(event: Event): Record<string, unknown> {
  const obj = eventToObject(event, 'event_id')
  const dataJson = (event as { dataJson?: unknown }).dataJson
  obj.event_data = typeof dataJson === 'string' ? JSON.parse(dataJson) : toJsonSafe(event.event_data)
  return obj
}

/**
 * pydantic's `event.model_dump_json(indent=2)`: two-space indentation, `": "` after keys, `{}`
 * and `[]` for empty containers, non-ASCII characters unescaped (JSON.stringify does the same).
 * Python floats with a zero fraction print as `1.0` there and `1` here (JavaScript has one number type).
 */
export function eventJsonPretty(event: Event): string {
  return JSON.stringify(eventJsonObject(event), null, 2)
}

export function describeSource(event: Event): string {
  const parts: string[] = []
  for (const [k, v] of Object.entries(event.source ?? {})) if (v !== undefined && v !== null) parts.push(`${k}=${v}`)
  return parts.join(', ')
}

const REASONS: Record<DigestAlert['reason'], string> = {
  window: 'alerts that followed a reported one within the digest window',
  'rate-limit': 'alerts held back by the per-key rate limit',
  overflow: "alerts over the notifier's total rate limit (or of keys no longer tracked)",
  close: 'alerts pending when the dispatcher closed',
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** The header lines of a digest (plain text). */
export function digestSummary(alert: DigestAlert): string[] {
  const listed = alert.items.reduce((n, it) => n + it.occurrences, 0)
  const lines = [
    `${plural(alert.count, 'alert')} ${alert.key === '*' ? 'across keys' : `for ${alert.key || '(empty key)'}`}, from ${alert.firstTimestamp} to ${alert.lastTimestamp}.`,
    `Why a digest: ${REASONS[alert.reason]}.`,
    `Listed below: ${plural(alert.items.length, 'distinct alert')} (${plural(listed, 'occurrence')}); ${plural(alert.omitted, 'more alert')} not listed.`,
  ]
  if (alert.duplicates > 0) lines.push(`${plural(alert.duplicates, 'alert')} repeated an alert already reported (de-duplicated).`)
  if (alert.keys.length > 1 || alert.key === '*') {
    lines.push('Alerts by key:')
    for (const k of alert.keys) lines.push(`  ${k.key || '(empty key)'}: ${k.count}`)
    if (alert.keysOmitted > 0) lines.push(`  ... and ${plural(alert.keysOmitted, 'more key')}`)
  }
  return lines
}

/** The plain-text body: the event JSON (MADSci's body) or the digest listing each event's JSON. */
export function alertText(alert: Alert): string {
  if (alert.kind === 'event') return eventJsonPretty(alert.event)
  const out = digestSummary(alert)
  alert.items.forEach((it, i) => {
    out.push('', `--- Alert ${i + 1} of ${alert.items.length}${it.occurrences > 1 ? ` (occurred ${it.occurrences} times)` : ''} ---`, eventJsonPretty(it.event))
  })
  return out.join('\n')
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'))
}

function eventHtml(event: Event, heading: string): string {
  const rows: Array<[string, string]> = [
    ['Type', event.event_type],
    ['Level', `${levelName(event.log_level)} (${event.log_level})`],
    ['Time', event.event_timestamp],
    ['Source', describeSource(event) || '(none)'],
    ['Event ID', event.event_id],
    ['Message', messageOf(event).slice(0, 2000)],
  ]
  const table = rows.map(([k, v]) => `<tr><th align="left" style="padding-right:1em">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')
  return `<h3>${escapeHtml(heading)}</h3><table>${table}</table><pre style="background:#f6f8fa;padding:8px">${escapeHtml(eventJsonPretty(event))}</pre>`
}

/** The HTML part: the same content as the text, with a readable summary table. */
export function alertHtml(alert: Alert): string {
  const subject = alertSubject(alert)
  let body: string
  if (alert.kind === 'event') body = eventHtml(alert.event, subject)
  else {
    const summary = digestSummary(alert)
      .map((l) => `<p style="margin:2px 0">${escapeHtml(l)}</p>`)
      .join('')
    const items = alert.items
      .map((it, i) => eventHtml(it.event, `Alert ${i + 1} of ${alert.items.length}${it.occurrences > 1 ? ` (occurred ${it.occurrences} times)` : ''}`))
      .join('')
    body = `<h2>${escapeHtml(subject)}</h2>${summary}${items}`
  }
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body style="font-family:sans-serif">${body}</body></html>`
}

/** A short one-paragraph description (chat messages, console). */
export function alertShortText(alert: Alert): string {
  if (alert.kind === 'event') {
    const e = alert.event
    const src = describeSource(e)
    return `${messageOf(e).slice(0, 500)}\n${e.event_type} · ${levelName(e.log_level)} · ${e.event_timestamp}${src ? ` · ${src}` : ''} · ${e.event_id}`
  }
  const lines = digestSummary(alert)
  for (const it of alert.items.slice(0, 10)) {
    lines.push(`• ${it.event.event_type} ${levelName(it.event.log_level)}${it.occurrences > 1 ? ` ×${it.occurrences}` : ''}: ${messageOf(it.event).slice(0, 200)}`)
  }
  if (alert.items.length > 10) lines.push(`• ... ${alert.items.length - 10} more listed in the full digest`)
  return lines.join('\n')
}

/**
 * The generic JSON payload (webhooks, console `json`): `type` `madsci.alert` with the event in
 * MADSci's client form (key `event_id`), or `madsci.alert.digest` with the listed events.
 */
export function alertPayload(alert: Alert): Record<string, unknown> {
  if (alert.kind === 'event') {
    return {
      type: 'madsci.alert',
      version: 1,
      subject: alertSubject(alert),
      key: alert.key,
      level: alert.level,
      level_name: levelName(alert.level),
      event: eventJsonObject(alert.event),
    }
  }
  return {
    type: 'madsci.alert.digest',
    version: 1,
    subject: alertSubject(alert),
    key: alert.key,
    level: alert.level,
    level_name: levelName(alert.level),
    reason: alert.reason,
    count: alert.count,
    duplicates: alert.duplicates,
    omitted: alert.omitted,
    first_timestamp: alert.firstTimestamp,
    last_timestamp: alert.lastTimestamp,
    event_types: alert.eventTypes,
    keys: alert.keys,
    keys_omitted: alert.keysOmitted,
    items: alert.items.map((it) => ({ occurrences: it.occurrences, event: eventJsonObject(it.event) })),
  }
}
