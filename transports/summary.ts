import { hostname } from 'node:os'
import { safeJsonStringify } from '../src/event/json-safe.js'
import { OWNERSHIP_FIELDS, type OwnershipInfo } from '../src/event/model.js'
import { nowTimestamp, type TimestampMode } from '../src/event/timestamp.js'
import { newUlid } from '../src/event/ulid.js'
import type { CloseReport, PipelineStats } from '../src/pipeline/pipeline.js'
import { LoggedEvent } from '../src/pipeline/record.js'

/** What the transport itself counts, besides the pipeline's stats. */
export interface TransportCounts {
  /** pino lines read (JSON objects). */
  lines: number
  /** Lines under `minLevel`, not shipped. */
  below_min_level: number
  /** Lines that were not JSON, shipped as INFO events with the text as message. */
  unparsed_lines: number
  /** Lines that could not be mapped (reported on the pipeline's `error` bus). */
  invalid_lines: number
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0)

/**
 * The MADSci event with the transport's totals, logged at DEBUG (`log_debug`) when it closes,
 * through the same sinks: `event_data = { message, madsci_events: { kind: 'transport_summary',
 * accepted, delivered, retried, failed, spooled, replayed, dropped, pending, lines, ..., sinks } }`.
 * Taken when closing starts: `pending` is what the close still had to deliver (or spool).
 */
export function summaryEvent(stats: PipelineStats, counts: TransportCounts, source: OwnershipInfo, mode: TimestampMode, startedAt: number): LoggedEvent {
  const ordered: OwnershipInfo = {}
  for (const f of OWNERSHIP_FIELDS) if (source[f] !== undefined) ordered[f] = source[f]
  const details = {
    kind: 'transport_summary',
    pid: process.pid,
    hostname: hostname(),
    accepted: stats.accepted,
    delivered: stats.delivered,
    retried: stats.retried,
    failed: stats.failed,
    spooled: stats.spooled,
    replayed: stats.replayed,
    dropped: stats.dropped,
    pending: stats.sinks.reduce((a, s) => a + Math.max(0, s.accepted - s.delivered - s.failed - sum(s.dropped)), 0),
    ...counts,
    uptime_ms: Date.now() - startedAt,
    sinks: stats.sinks.map((s) => ({
      sink: s.sink,
      target: s.target,
      accepted: s.accepted,
      delivered: s.delivered,
      retried: s.retried,
      failed: s.failed,
      spooled: s.spooled,
      replayed: s.replayed,
      dropped: s.dropped,
      queue_depth: s.queueDepth,
    })),
  }
  return new LoggedEvent(
    newUlid(),
    'log_debug',
    10,
    false,
    nowTimestamp(mode),
    ordered,
    safeJsonStringify({ message: 'madsci-events pino transport closing', madsci_events: details }),
    null,
    null,
  )
}

/**
 * The line printed to stderr after closing when anything was not delivered (or `always`, with
 * NODE_DEBUG=madsci-events), else `undefined`.
 * "Left in the spool" counts this process's events not delivered that the spool holds for the next
 * start; when the spool already held events of an earlier process at start, those were delivered
 * too and the count is a lower bound ("at least").
 */
export function summaryLine(stats: PipelineStats, report: CloseReport, o: { spoolDir?: string; inheritedSpool: boolean; elapsedMs: number; always?: boolean }): string | undefined {
  // Events lost at close without a spool are counted both as `lost` and as dropped for `shutdown`.
  const { shutdown = 0, ...otherDrops } = stats.dropped
  const dropped = sum(otherDrops)
  const refused = stats.failed
  let left = -Math.max(0, report.lost - shutdown)
  for (const s of stats.sinks) left += s.accepted - s.delivered - s.failed - sum(s.dropped)
  left = Math.max(0, left)
  if (!o.always && left === 0 && dropped === 0 && refused === 0 && report.lost === 0) return undefined
  const parts = [`${stats.delivered} delivered`]
  if (left > 0) {
    parts.push(
      `${o.inheritedSpool ? 'at least ' : ''}${left} left in the spool${o.spoolDir ? ` ${o.spoolDir}` : ''} (delivered when a logger or transport next starts with this spool)`,
    )
  }
  if (refused > 0) parts.push(`${refused} refused by the store${o.spoolDir ? ` (kept in ${o.spoolDir}/rejected-*.ndjson)` : ''}`)
  if (dropped > 0) parts.push(`${dropped} dropped (${Object.entries(otherDrops).map(([k, v]) => `${k}: ${v}`).join(', ')})`)
  parts.push(`${report.lost} lost`)
  return `madsci-events transport: closed in ${(o.elapsedMs / 1000).toFixed(1)} s: ${parts.join(', ')}\n`
}
