import { readFileSync } from 'node:fs'
import { Validator } from '@seriousme/openapi-schema-validator'
import { describe, expect, it } from 'vitest'
import { call, startServer } from './helpers.js'

/**
 * `/openapi.json` is a valid OpenAPI 3.1 document that lists every route the server serves (MADSci's
 * with the same operation parameters as the 0.8.1 document, and ours), and `/docs` is a readable,
 * self-contained page listing them.
 */

const madsci = JSON.parse(readFileSync(new URL('../fixtures/madsci-0.8.1.openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; required?: boolean; schema?: { default?: unknown } }> }>>
}

describe('OpenAPI document and docs page', () => {
  it('/openapi.json validates, lists every route (method and path) the router serves, and keeps MADSci parameters and defaults', async () => {
    const r = await startServer('file', 'openapi', { env: { EVENT_MANAGER_NAME: 'Lab Events' } })
    try {
      const res = await call(r.url, 'GET', '/openapi.json')
      expect(res.status).toBe(200)
      const doc = res.json()
      const result = await new Validator().validate(doc)
      expect(result.errors ?? []).toEqual([])
      expect(result.valid).toBe(true)
      expect(doc.openapi).toBe('3.1.0')
      expect(doc.info).toEqual({ title: 'Lab Events', description: 'Lab Events Manager', version: '0.1.0' })

      const documented = new Set<string>()
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${path}`)
      const served = r.server.routes.map((x) => `${x.method} ${x.path}`)
      expect(served.filter((x) => !documented.has(x))).toEqual([])
      // The WebSocket upgrade is not a router route, but it is documented.
      expect(documented.has('GET /events/ws')).toBe(true)

      // Every MADSci operation is there with the same parameters (name, place, required, default).
      for (const [path, ops] of Object.entries(madsci.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          const ours = doc.paths[path]?.[method]
          expect(ours, `${method} ${path}`).toBeDefined()
          const shape = (ps: typeof op.parameters) => (ps ?? []).map((p) => [p.name, p.in, p.required ?? false, p.schema?.default]).sort()
          expect(shape(ours.parameters), `${method} ${path}`).toEqual(shape(op.parameters))
        }
      }
      // The Event schema has MADSci's properties, in order, with _id.
      expect(Object.keys(doc.components.schemas.Event.properties)).toEqual(['_id', 'event_type', 'log_level', 'alert', 'event_timestamp', 'source', 'event_data', 'trace_id', 'span_id', 'archived', 'archived_at'])
      expect(doc.components.schemas.EventType.enum).toHaveLength(63)
    } finally {
      await r.close()
    }
  })

  it('/docs is an HTML page with every documented route, and no external resources', async () => {
    const r = await startServer('file', 'docs')
    try {
      const res = await call(r.url, 'GET', '/docs')
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(res.text.startsWith('<!doctype html>')).toBe(true)
      const doc = (await call(r.url, 'GET', '/openapi.json')).json()
      for (const path of Object.keys(doc.paths)) expect(res.text, path).toContain(`<code>${path.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</code>`)
      expect(res.text).not.toMatch(/<(script|link)[^>]+(src|href)="https?:/)
    } finally {
      await r.close()
    }
  })
})
