/** Small builders for hand-made histories: every event goes through `parseEvent`, as a store holds it. */
import type { Event } from '../../src/event/index.js'
import { parseEvent } from '../../src/event/index.js'

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** A valid ULID whose last characters spell `tag` (readable ids in assertions). */
export function id(tag: string): string {
  const clean = tag.toUpperCase().replace(/[^0-9A-HJKMNP-TV-Z]/g, '0')
  return ('01JGSW5V00' + '0'.repeat(16)).slice(0, 26 - clean.length) + clean
}

let seq = 0
/** An event at a naive UTC time (`2025-01-06T10:00:00`). */
export function ev(type: string, timestamp: string, source: Record<string, string> = {}, data: unknown = {}, extra: Record<string, unknown> = {}): Event {
  seq++
  const eid = '01JH' + String(seq).padStart(22, '0').replace(/[^0-9]/g, '0')
  return parseEvent({ event_id: eid.split('').map((c) => (CROCKFORD.includes(c) ? c : '0')).join(''), event_type: type, event_timestamp: timestamp, source, event_data: data, ...extra })
}
