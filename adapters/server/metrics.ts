import type { PipelineStats } from '../../src/pipeline/pipeline.js'

/** Counters for `GET /metrics` (Prometheus text format, version 0.0.4). */
export class Metrics {
  requests = new Map<string, number>()
  ingested = 0
  batches = 0
  rateLimited = 0
  authFailures = 0
  streamClients = 0
  readonly #durations = new Map<string, { count: number; sum: number }>()

  request(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1)
    const d = this.#durations.get(`${method} ${route}`) ?? { count: 0, sum: 0 }
    d.count++
    d.sum += seconds
    this.#durations.set(`${method} ${route}`, d)
  }

  render(stats: PipelineStats, extra: string[]): string {
    const lines: string[] = []
    const metric = (name: string, type: string, help: string, values: Array<[string, number]>): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const [labels, v] of values) lines.push(`${name}${labels} ${v}`)
    }
    const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    metric('madsci_http_requests_total', 'counter', 'HTTP requests by method, route and status.', [...this.requests].map(([k, v]) => {
      const [m, r, s] = k.split(' ')
      return [`{method="${esc(m)}",route="${esc(r)}",status="${s}"}`, v]
    }))
    // A summary family (sum and count, no quantiles): one TYPE line for both series, as the format requires.
    lines.push('# HELP madsci_http_request_duration_seconds Time spent answering, by route.', '# TYPE madsci_http_request_duration_seconds summary')
    for (const [k, d] of this.#durations) {
      const [m, r] = k.split(' ')
      const labels = `{method="${esc(m)}",route="${esc(r)}"}`
      lines.push(`madsci_http_request_duration_seconds_sum${labels} ${Number(d.sum.toFixed(6))}`, `madsci_http_request_duration_seconds_count${labels} ${d.count}`)
    }
    metric('madsci_events_ingested_total', 'counter', 'Events accepted through POST /event and POST /events/batch.', [['', this.ingested]])
    metric('madsci_rate_limited_total', 'counter', 'Requests refused with 429.', [['', this.rateLimited]])
    metric('madsci_auth_failures_total', 'counter', 'Requests refused with 401.', [['', this.authFailures]])
    metric('madsci_stream_clients', 'gauge', 'Live stream clients connected (SSE and WebSocket).', [['', this.streamClients]])
    metric('madsci_pipeline_accepted_total', 'counter', 'Events accepted by the pipeline.', [['', stats.accepted]])
    metric('madsci_pipeline_delivered_total', 'counter', 'Events stored.', [['', stats.delivered]])
    metric('madsci_pipeline_retried_total', 'counter', 'Store writes retried.', [['', stats.retried]])
    metric('madsci_pipeline_failed_total', 'counter', 'Events the store refused for good.', [['', stats.failed]])
    metric('madsci_pipeline_spooled_total', 'counter', 'Events written to the spool.', [['', stats.spooled]])
    metric('madsci_pipeline_dropped_total', 'counter', 'Events dropped, by reason.', Object.entries(stats.dropped).map(([r, v]) => [`{reason="${esc(r)}"}`, v]))
    metric('madsci_pipeline_queue_depth', 'gauge', 'Events waiting in memory.', [['', stats.queueDepth]])
    const lat = stats.sinks[0]?.batchLatencyMs
    if (lat) {
      metric('madsci_store_batch_latency_seconds', 'gauge', 'Store write latency of recent batches.', [
        ['{quantile="0.5"}', lat.p50 / 1000],
        ['{quantile="0.99"}', lat.p99 / 1000],
      ])
    }
    for (const e of extra) if (e) lines.push(e.trimEnd())
    return lines.join('\n') + '\n'
  }
}
