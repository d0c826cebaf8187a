/// <reference lib="dom" />
/** How one event is shown in a row: time, level, source, a one-line summary of its data. */
import type { ViewEvent } from './events.js'

export const LEVEL_NAMES: Record<number, string> = { 0: 'NOTSET', 10: 'DEBUG', 20: 'INFO', 30: 'WARNING', 40: 'ERROR', 50: 'CRITICAL' }
export const LEVELS = [10, 20, 30, 40, 50] as const

export function levelName(level: number): string {
  return LEVEL_NAMES[level] ?? String(level)
}

/** CSS class of a level: lv-debug … lv-critical. */
export function levelClass(level: number): string {
  return `lv-${levelName(level).toLowerCase()}`
}

/** A level from an aggregation key: `"40"`, `"ERROR"` or `"EventLogLevel.ERROR"`. */
export function levelFromKey(key: string): number | undefined {
  if (/^\d+$/.test(key)) return Number(key)
  const name = key.replace(/^EventLogLevel\./i, '').toUpperCase()
  for (const [n, v] of Object.entries(LEVEL_NAMES)) if (v === name) return Number(n)
  return name === 'WARN' ? 30 : name === 'FATAL' ? 50 : undefined
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0')

/**
 * Local time for timestamps with a zone (`…Z`, `…+02:00`), the text itself for naive ones (MADSci
 * writes whatever its host clock says). The date is shown when it is not today.
 */
export function formatTime(ts: string): string {
  const now = new Date()
  const today = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(ts)) {
    const text = ts.replace('T', ' ').slice(0, 23)
    return text.startsWith(today) ? text.slice(11) : text
  }
  const d = new Date(ts)
  if (Number.isNaN(d.getTime())) return ts
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
  return date === today ? time : `${date} ${time}`
}

const SOURCE_ORDER = ['node_id', 'workcell_id', 'workflow_id', 'step_id', 'experiment_id', 'campaign_id', 'lab_id', 'user_id', 'project_id', 'manager_id']

/** The most specific source field, shortened: `node …7Q2K`. */
export function formatSource(source: Record<string, string>): string {
  for (const k of SOURCE_ORDER) {
    const v = source[k]
    if (v) return `${k.replace(/_id$/, '')} ${v.length > 12 ? `…${v.slice(-6)}` : v}`
  }
  const first = Object.entries(source).find(([, v]) => v)
  return first ? `${first[0]} ${first[1]}` : ''
}

/** A one-line summary: the `message` (or `msg`) when the data has one, else compact JSON. */
export function summarize(e: ViewEvent): string {
  const d = e.data
  if (typeof d === 'string') return d.slice(0, 300)
  if (d && typeof d === 'object' && !Array.isArray(d)) {
    const o = d as Record<string, unknown>
    const m = o.message ?? o.msg
    if (typeof m === 'string') return m.slice(0, 300)
  }
  let s: string
  try {
    s = JSON.stringify(d) ?? ''
  } catch {
    s = String(d)
  }
  return s.length > 300 ? `${s.slice(0, 299)}…` : s
}

/**
 * Indent JSON text without parsing it into objects, so the event is shown exactly as the server
 * sent it (JSON.parse + stringify would move integer-like keys first and round big numbers).
 */
export function prettyJson(text: string): string {
  let out = ''
  let depth = 0
  let inString = false
  const nl = (): string => `\n${'  '.repeat(depth)}`
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      out += c
      if (c === '\\') out += text[++i] ?? ''
      else if (c === '"') inString = false
      continue
    }
    switch (c) {
      case '"':
        inString = true
        out += c
        break
      case '{':
      case '[': {
        const close = c === '{' ? '}' : ']'
        let j = i + 1
        while (j < text.length && /\s/.test(text[j])) j++
        if (text[j] === close) {
          out += c + close
          i = j
        } else {
          depth++
          out += c + nl()
        }
        break
      }
      case '}':
      case ']':
        depth--
        out += nl() + c
        break
      case ',':
        out += `,${nl()}`
        break
      case ':':
        out += ': '
        break
      case ' ':
      case '\n':
      case '\r':
      case '\t':
        break
      default:
        out += c
    }
  }
  return out
}
