import { describe, expect, it } from 'vitest'
// @ts-expect-error no type declarations
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { call, startServer, STORE_KINDS } from './helpers.js'

/**
 * `GET /metrics` (beyond MADSci): Prometheus text format 0.0.4 that a Prometheus parser reads, with
 * request, ingest, pipeline, stream and store counters that follow what the server did.
 */

interface Family {
  name: string
  help: string
  type: string
  metrics: Array<{ value?: string; labels?: Record<string, string>; count?: string; sum?: string }>
}

/** Line-level rules of the text format: HELP/TYPE once per family before its samples, sample syntax. */
function checkExposition(text: string): void {
  expect(text.endsWith('\n')).toBe(true)
  const typed = new Map<string, string>()
  const helped = new Set<string>()
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*'
  const sample = new RegExp(`^(${name})(\\{(${name}="(\\\\.|[^"\\\\])*")(,${name}="(\\\\.|[^"\\\\])*")*\\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)$`)
  for (const line of text.trimEnd().split('\n')) {
    let m: RegExpExecArray | null
    if ((m = /^# HELP (\S+) .+$/.exec(line))) {
      expect(helped.has(m[1]), `HELP twice for ${m[1]}`).toBe(false)
      helped.add(m[1])
    } else if ((m = /^# TYPE (\S+) (counter|gauge|summary|histogram|untyped)$/.exec(line))) {
      expect(typed.has(m[1]), `TYPE twice for ${m[1]}`).toBe(false)
      typed.set(m[1], m[2])
    } else {
      m = sample.exec(line)
      expect(m, `not a sample line: ${line}`).not.toBeNull()
      const metric = (m as RegExpExecArray)[1]
      const family = typed.has(metric) ? metric : metric.replace(/_(sum|count|bucket)$/, '')
      expect(typed.has(family), `no TYPE before ${metric}`).toBe(true)
      if (typed.get(family) === 'counter') expect(metric.endsWith('_total'), `counter ${metric} should end in _total`).toBe(true)
    }
  }
}

describe.each(STORE_KINDS)('GET /metrics on the %s store', (kind) => {
  it('parses as Prometheus text and counts what the server did', async () => {
    const r = await startServer(kind, 'metrics')
    try {
      for (let i = 0; i < 7; i++) await call(r.url, 'POST', '/event', { event_type: 'test' })
      await call(r.url, 'POST', '/events/batch', Array.from({ length: 30 }, () => ({})))
      await call(r.url, 'POST', '/event', { log_level: 25 })
      await call(r.url, 'GET', '/event/nope')
      const res = await call(r.url, 'GET', '/metrics')
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
      checkExposition(res.text)
      const families = parsePrometheusTextFormat(res.text) as Family[]
      const by = new Map(families.map((f) => [f.name, f]))
      const value = (name: string, labels: Record<string, string> = {}): number => {
        const f = by.get(name)
        const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))
        return Number(m?.value)
      }
      expect(value('madsci_events_ingested_total')).toBe(37)
      expect(value('madsci_pipeline_accepted_total')).toBe(37)
      expect(value('madsci_pipeline_delivered_total')).toBe(37)
      expect(value('madsci_http_requests_total', { method: 'POST', route: '/event', status: '200' })).toBe(7)
      expect(value('madsci_http_requests_total', { method: 'POST', route: '/event', status: '422' })).toBe(1)
      expect(value('madsci_http_requests_total', { method: 'GET', route: '/event/{event_id}', status: '404' })).toBe(1)
      expect(value('madsci_http_requests_total', { method: 'POST', route: '/events/batch', status: '200' })).toBe(1)
      expect(by.get('madsci_http_request_duration_seconds')?.type).toBe('SUMMARY')
      const d = by.get('madsci_http_request_duration_seconds')?.metrics.find((x) => x.labels?.route === '/event' && x.labels?.method === 'POST')
      expect(Number(d?.count)).toBe(8)
      expect(Number(d?.sum)).toBeGreaterThan(0)
      expect(value('madsci_stream_clients')).toBe(0)
      expect(value('madsci_pipeline_queue_depth')).toBe(0)
      expect(by.get('madsci_store_batch_latency_seconds')?.metrics.length).toBe(2)
      for (const f of families) expect(f.help.length, f.name).toBeGreaterThan(0)
    } finally {
      await r.close()
    }
  })
})
