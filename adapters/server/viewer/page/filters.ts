/// <reference lib="dom" />
/**
 * The view's filters and their URL form, so a view can be shared by its address:
 * `?level=40&type=node_error,action_failed&source.node_id=01J…&alerts=1&q=pump&event=<id>`.
 * Level, types, source fields and alerts-only are applied by the server (stream and history);
 * the free text is applied here, to the events loaded.
 */
import { EVENT_TYPE_DESCRIPTIONS, EVENT_TYPES } from '../../../../src/event/types.js'

export interface Filters {
  minLevel: number
  types: string[]
  source: Record<string, string>
  alertsOnly: boolean
  text: string
}

export const EMPTY_FILTERS: Filters = { minLevel: 0, types: [], source: {}, alertsOnly: false, text: '' }

export const ALL_TYPES: readonly string[] = EVENT_TYPES
export const TYPE_DESCRIPTIONS: Readonly<Record<string, string>> = EVENT_TYPE_DESCRIPTIONS

const LEVELS = new Map([
  ['debug', 10],
  ['info', 20],
  ['warning', 30],
  ['warn', 30],
  ['error', 40],
  ['critical', 50],
  ['fatal', 50],
])

function parseLevel(v: string | null): number {
  if (!v) return 0
  const n = /^\d+$/.test(v) ? Number(v) : (LEVELS.get(v.toLowerCase()) ?? 0)
  return [0, 10, 20, 30, 40, 50].includes(n) ? n : 0
}

/** `node_id=abc workcell_id=def` → `{node_id: 'abc', workcell_id: 'def'}`; throws on a malformed part. */
export function parseSourceText(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(?:source\.)?([A-Za-z_][\w]*)[=:](.+)$/.exec(part)
    if (!m) throw new Error(`"${part}" is not field=value (for example node_id=01J…)`)
    out[m[1]] = m[2]
  }
  return out
}

export function sourceText(source: Record<string, string>): string {
  return Object.entries(source)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
}

export function filtersFromUrl(search: string): { filters: Filters; eventId: string | null } {
  const q = new URLSearchParams(search)
  const known = new Set(ALL_TYPES)
  const types = (q.get('type') ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => known.has(t))
  const source: Record<string, string> = {}
  for (const [k, v] of q) if (k.startsWith('source.') && k.length > 7 && v) source[k.slice(7)] = v
  const alerts = q.get('alerts')
  return {
    filters: {
      minLevel: parseLevel(q.get('level')),
      types: [...new Set(types)],
      source,
      alertsOnly: alerts === '1' || alerts === 'true',
      text: q.get('q') ?? '',
    },
    eventId: q.get('event'),
  }
}

export function filtersToUrl(f: Filters, eventId: string | null): string {
  const q = new URLSearchParams()
  if (f.minLevel) q.set('level', String(f.minLevel))
  if (f.types.length) q.set('type', f.types.join(','))
  for (const [k, v] of Object.entries(f.source)) q.set(`source.${k}`, v)
  if (f.alertsOnly) q.set('alerts', '1')
  if (f.text) q.set('q', f.text)
  if (eventId) q.set('event', eventId)
  const s = q.toString()
  return s ? `?${s}` : location.pathname
}

/** The server-side part of the filters, as the stream and history routes take them. */
export function serverParams(f: Filters): URLSearchParams {
  const p = new URLSearchParams()
  if (f.minLevel) p.set('min_level', String(f.minLevel))
  if (f.types.length) p.set('event_type', f.types.join(','))
  for (const [k, v] of Object.entries(f.source)) p.set(`source.${k}`, v)
  if (f.alertsOnly) p.set('alerts_only', 'true')
  return p
}

/** Whether two filter sets ask the server for the same events. */
export function sameServerFilters(a: Filters, b: Filters): boolean {
  return serverParams(a).toString() === serverParams(b).toString()
}
