import { createRequire } from 'node:module'

/**
 * Optional OpenTelemetry: when `@opentelemetry/api` can be loaded (an optional peer dependency),
 * events carry the active span's `trace_id` (32 hex) and `span_id` (16 hex), as MADSci's client
 * does with OTEL on. Loaded once per logger creation; absent, it costs nothing.
 */
interface SpanContextLike {
  traceId: string
  spanId: string
}
interface OtelApiLike {
  trace: { getSpan(ctx: unknown): { spanContext(): SpanContextLike } | undefined; isSpanContextValid?(sc: SpanContextLike): boolean }
  context: { active(): unknown }
}

export type ActiveSpanLookup = () => SpanContextLike | undefined

let cached: OtelApiLike | null | undefined

function loadApi(): OtelApiLike | null {
  if (cached !== undefined) return cached
  try {
    const require = createRequire(import.meta.url)
    cached = require('@opentelemetry/api') as OtelApiLike
  } catch {
    cached = null
  }
  return cached
}

/** A function returning the active span context, or `undefined` when OpenTelemetry is not installed. */
export function activeSpanLookup(): ActiveSpanLookup | undefined {
  const api = loadApi()
  if (!api) return undefined
  return () => {
    const span = api.trace.getSpan(api.context.active())
    if (!span) return undefined
    const sc = span.spanContext()
    if (api.trace.isSpanContextValid && !api.trace.isSpanContextValid(sc)) return undefined
    return sc
  }
}
