import { EVENT_TYPE_DESCRIPTIONS, EVENT_TYPES } from '../../src/event/types.js'
import { OWNERSHIP_FIELDS } from '../../src/event/model.js'
import type { RouteDoc } from './http.js'

/**
 * The OpenAPI document: MADSci's Event Manager routes with the same names, parameters and schemas
 * (so generated clients keep working), plus ours, tagged `madsci-events`.
 */

type Param = { name: string; in?: 'query' | 'path'; type: 'integer' | 'string' | 'boolean'; format?: string; default?: unknown; required?: boolean; description?: string }

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] })

function op(summary: string, params: Param[] = [], options: { body?: Record<string, unknown>; bodyRequired?: boolean; response?: Record<string, unknown>; tags?: string[]; description?: string; produces?: string } = {}) {
  const o: Record<string, unknown> = {
    summary,
    operationId: summary.toLowerCase().replace(/[^a-z0-9]+/g, '_'),
    responses: {
      '200': { description: 'Successful Response', content: { [options.produces ?? 'application/json']: { schema: options.response ?? {} } } },
      '422': { description: 'Validation Error', content: { 'application/json': { schema: ref('HTTPValidationError') } } },
    },
  }
  if (options.tags) o.tags = options.tags
  if (options.description) o.description = options.description
  if (params.length) {
    o.parameters = params.map((p) => ({
      name: p.name,
      in: p.in ?? 'query',
      required: p.required ?? p.in === 'path',
      schema: { type: p.type, ...(p.format ? { format: p.format } : {}), ...(p.default !== undefined ? { default: p.default } : {}), title: p.name.replace(/_/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase()) },
      ...(p.description ? { description: p.description } : {}),
    }))
  }
  if (options.body) o.requestBody = { required: options.bodyRequired ?? true, content: { 'application/json': { schema: options.body } } }
  return o
}

const eventMap = { type: 'object', additionalProperties: ref('Event') }
const utilParams: Param[] = [
  { name: 'start_time', type: 'string' },
  { name: 'end_time', type: 'string' },
  { name: 'csv_format', type: 'boolean', default: false },
  { name: 'save_to_file', type: 'boolean', default: false },
  { name: 'output_path', type: 'string', description: 'Relative to the server\'s export directory (EVENT_EXPORT_DIR); paths outside it are refused.' },
]
const streamParams: Param[] = [
  { name: 'min_level', type: 'string', description: 'Minimum level (number or name).' },
  { name: 'event_type', type: 'string', description: 'Comma-separated event types.' },
  { name: 'alerts_only', type: 'boolean', default: false },
  { name: 'last_event_id', type: 'string', description: 'Resume after this event (or send Last-Event-ID).' },
  { name: 'access_token', type: 'string', description: 'The bearer token, for clients that cannot set headers.' },
]
const ours = ['madsci-events']

/** Routes served but not described above (plugins, the viewer): listed from their RouteDoc, or generically. */
function servedRoutes(paths: Record<string, Record<string, unknown>>, routes: Array<{ method: string; path: string; doc?: RouteDoc }>): void {
  for (const r of routes) {
    const method = r.method.toLowerCase()
    if (paths[r.path]?.[method]) continue
    const params: Param[] = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', type: 'string' }))
    const summary = r.doc?.summary ?? `${r.method} ${r.path}`
    paths[r.path] = { ...paths[r.path], [method]: op(summary, params, { tags: r.doc?.tags ?? ours, description: r.doc?.description, produces: r.doc?.produces }) }
  }
}

export function openApiDocument(info: { title: string; description: string; version: string }, routes: Array<{ method: string; path: string; doc?: RouteDoc }> = []): Record<string, unknown> {
  const doc = staticDocument(info)
  servedRoutes(doc.paths as Record<string, Record<string, unknown>>, routes)
  return doc
}

function staticDocument(info: { title: string; description: string; version: string }): Record<string, unknown> {
  const ownershipProps: Record<string, unknown> = {}
  for (const f of OWNERSHIP_FIELDS) ownershipProps[f] = { ...nullable({ type: 'string' }), title: f.replace(/_/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase()).replace('Id', 'ID') }
  return {
    openapi: '3.1.0',
    info,
    paths: {
      '/health': { get: op('Health Endpoint') },
      '/settings': { get: op('Get Settings Endpoint', [{ name: 'include_defaults', type: 'boolean', default: true }, { name: 'include_schema', type: 'boolean', default: false }]) },
      '/event': { post: op('Log Event', [], { body: ref('Event'), response: ref('Event') }) },
      '/event/{event_id}': { get: op('Get Event', [{ name: 'event_id', in: 'path', type: 'string' }], { response: ref('Event') }) },
      '/events': {
        get: op('Get Events', [
          { name: 'number', type: 'integer', default: 100 },
          { name: 'offset', type: 'integer', default: 0 },
          { name: 'level', type: 'integer', default: 0 },
          { name: 'start_time', type: 'string', format: 'date-time' },
          { name: 'end_time', type: 'string', format: 'date-time' },
          { name: 'include_archived', type: 'boolean', default: false },
        ], { response: eventMap }),
      },
      '/events/query': { post: op('Query Events', [], { body: { type: 'object', additionalProperties: true, title: 'Selector' }, response: eventMap, description: 'The whole body is a MongoDB selector. $where, $function and $accumulator are refused with 400.' }) },
      '/events/archive': { post: op('Archive Events', [], { body: ref('ArchiveEventsRequest') }) },
      '/events/archived': {
        get: op('Get Archived Events', [{ name: 'number', type: 'integer', default: 100 }, { name: 'offset', type: 'integer', default: 0 }], { response: eventMap }),
        delete: op('Purge Archived Events', [{ name: 'older_than_days', type: 'integer', default: 365 }]),
      },
      '/backup': {
        post: op('Create Backup', [], { body: nullable(ref('BackupRequest')), bodyRequired: false }),
        get: op('Get Backup Status (alias)', [], { tags: ours, description: 'What madsci-client 0.8.1 get_backup_status() calls; the same as GET /backup/status.' }),
      },
      '/backup/status': { get: op('Get Backup Status') },
      '/utilization/sessions': { get: op('Get Session Utilization', utilParams) },
      '/utilization/periods': {
        get: op('Get Utilization Periods', [
          ...utilParams.slice(0, 2),
          { name: 'analysis_type', type: 'string', default: 'daily' },
          { name: 'user_timezone', type: 'string', default: 'America/Chicago' },
          { name: 'include_users', type: 'boolean', default: true },
          ...utilParams.slice(2),
        ]),
      },
      '/utilization/user': { get: op('Get User Utilization Report', utilParams) },
      '/utilization/users': { get: op('Get User Utilization Report (plural alias)', utilParams, { tags: ours, description: 'The path MADSci\'s client calls (SPEC D3).' }) },
      '/utilization/periods.svg': { get: op('Utilization Periods Chart', [{ name: 'start_time', type: 'string' }, { name: 'end_time', type: 'string' }, { name: 'analysis_type', type: 'string', default: 'daily' }, { name: 'user_timezone', type: 'string', default: 'America/Chicago' }], { tags: ours, produces: 'image/svg+xml' }) },
      '/utilization/sessions.svg': { get: op('Session Utilization Chart', utilParams.slice(0, 2), { tags: ours, produces: 'image/svg+xml' }) },
      '/events/batch': { post: op('Log Events In Batch', [], { body: { type: 'array', items: ref('Event'), maxItems: 10000 }, tags: ours, response: { type: 'array', items: { type: 'object', properties: { event_id: nullable({ type: 'string' }), status: { type: 'string', enum: ['stored', 'rejected'] }, error: {} } } } }) },
      '/events/stream': { get: op('Stream Events (Server-Sent Events)', streamParams, { tags: ours, produces: 'text/event-stream' }) },
      '/events/ws': { get: op('Stream Events (WebSocket upgrade)', streamParams, { tags: ours }) },
      '/events/export': {
        get: op('Export Events', [
          { name: 'format', type: 'string', default: 'csv', description: 'csv or ndjson' },
          { name: 'start_time', type: 'string' },
          { name: 'end_time', type: 'string' },
          { name: 'min_level', type: 'integer', default: 0 },
          { name: 'include_archived', type: 'boolean', default: false },
          { name: 'bom', type: 'boolean', default: false, description: 'CSV only (ignored for NDJSON): start with a UTF-8 byte-order mark, so Excel reads the file as UTF-8 (°C, µL intact).' },
        ], { tags: ours, produces: 'text/csv' }),
      },
      '/events/aggregate': {
        get: op('Aggregate Events', [
          { name: 'group_by', type: 'string', default: 'event_type', description: 'event_type, log_level or source.<field>' },
          { name: 'start_time', type: 'string' },
          { name: 'end_time', type: 'string' },
          { name: 'bucket', type: 'string', description: 'hour, day, week or month (optional)' },
          { name: 'timezone', type: 'string', default: 'UTC' },
        ], { tags: ours }),
      },
      '/metrics': { get: op('Prometheus Metrics', [], { tags: ours, produces: 'text/plain' }) },
      '/openapi.json': { get: op('OpenAPI Document', [], { tags: ours, description: 'This document.' }) },
      '/docs': { get: op('API Documentation Page', [], { tags: ours, produces: 'text/html', description: 'A human-readable list of the routes.' }) },
    },
    components: {
      schemas: {
        Event: {
          type: 'object',
          title: 'Event',
          description: 'An event in the MADSci system.',
          properties: {
            _id: { type: 'string', title: 'Event ID', description: 'The ID of the event.' },
            event_type: { ...ref('EventType'), title: 'Event Type', description: 'The type of the event.' },
            log_level: { ...ref('EventLogLevel'), title: 'Event Log Level', description: 'The log level of the event.' },
            alert: { type: 'boolean', title: 'Alert', default: false, description: 'Forces firing an alert about this event.' },
            event_timestamp: { type: 'string', format: 'date-time', title: 'Event Timestamp' },
            source: { ...ref('OwnershipInfo'), title: 'Source' },
            event_data: { title: 'Event Data' },
            trace_id: { ...nullable({ type: 'string' }), title: 'Trace ID' },
            span_id: { ...nullable({ type: 'string' }), title: 'Span ID' },
            archived: { type: 'boolean', title: 'Archived', default: false },
            archived_at: { ...nullable({ type: 'string', format: 'date-time' }), title: 'Archived At' },
          },
        },
        EventType: { type: 'string', enum: [...EVENT_TYPES], title: 'EventType', description: 'The type of an event.', 'x-enum-descriptions': EVENT_TYPES.map((t) => EVENT_TYPE_DESCRIPTIONS[t]) },
        EventLogLevel: { type: 'integer', enum: [0, 10, 20, 30, 40, 50], title: 'EventLogLevel', description: 'The log level of an event.' },
        OwnershipInfo: { type: 'object', title: 'OwnershipInfo', description: 'Information about the ownership of a MADSci object; every value is a ULID.', properties: ownershipProps },
        ArchiveEventsRequest: {
          type: 'object',
          title: 'ArchiveEventsRequest',
          properties: {
            event_ids: { ...nullable({ type: 'array', items: { type: 'string' } }), title: 'Event Ids' },
            before_date: { ...nullable({ type: 'string', format: 'date-time' }), title: 'Before Date' },
            batch_size: { ...nullable({ type: 'integer' }), title: 'Batch Size' },
          },
        },
        BackupRequest: { type: 'object', title: 'BackupRequest', properties: { description: { ...nullable({ type: 'string' }), title: 'Description' } } },
        HTTPValidationError: { type: 'object', title: 'HTTPValidationError', properties: { detail: { type: 'array', items: ref('ValidationError'), title: 'Detail' } } },
        ValidationError: {
          type: 'object',
          title: 'ValidationError',
          required: ['loc', 'msg', 'type'],
          properties: {
            loc: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] }, title: 'Location' },
            msg: { type: 'string', title: 'Message' },
            type: { type: 'string', title: 'Error Type' },
          },
        },
      },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Required when the server has a token (EVENT_SERVER_TOKEN).' } },
    },
  }
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A self-contained human page for `/docs` (no CDN: lab machines are often offline). */
export function docsPage(doc: Record<string, unknown>): string {
  const info = doc.info as { title: string; version: string; description: string }
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>
  const rows: string[] = []
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, o] of Object.entries(ops)) {
      const params = ((o.parameters as Array<{ name: string; in: string; schema: { type: string; default?: unknown } }>) ?? [])
        .map((p) => `<code>${escapeHtml(p.name)}</code> <span class="t">${p.in} ${p.schema.type}${p.schema.default !== undefined ? ` = ${escapeHtml(JSON.stringify(p.schema.default))}` : ''}</span>`)
        .join('<br>')
      const ext = (o.tags as string[] | undefined)?.includes('madsci-events') ? ' <span class="ext">madsci-events</span>' : ''
      rows.push(
        `<tr><td class="m ${method}">${method.toUpperCase()}</td><td><code>${escapeHtml(path)}</code>${ext}<div class="s">${escapeHtml(String(o.summary))}${o.description ? ` — ${escapeHtml(String(o.description))}` : ''}</div></td><td>${params || '—'}</td></tr>`,
      )
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(info.title)} API</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;width:100%}td{border-top:1px solid #ddd;padding:.5rem;vertical-align:top}
.m{font-weight:700;width:5rem}.get{color:#0a7}.post{color:#07c}.delete{color:#c33}.s{color:#555;margin-top:.2rem}.t{color:#888}.ext{font-size:11px;background:#eef;border-radius:3px;padding:0 4px}</style></head>
<body><h1>${escapeHtml(info.title)} <small>${escapeHtml(info.version)}</small></h1><p>${escapeHtml(info.description)}. The machine-readable description is at <a href="openapi.json">openapi.json</a>; the live viewer is at <a href="./">/</a>.</p>
<table><tbody>${rows.join('\n')}</tbody></table></body></html>`
}
