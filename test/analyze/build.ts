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

/** A morning of one workcell: two sessions, two nodes, two experiments (see session-report.test.ts). */
export function sessionHistory(): Event[] {
  const W1 = id('WC1')
  const N1 = id('NODE1')
  const N2 = id('NODE2')
  return [
    ev('workcell_start', '2025-01-06T08:00:00', { workcell_id: W1 }, { workcell_name: 'Line A' }),
    ev('node_start', '2025-01-06T08:00:01', { node_id: N1, workcell_id: W1 }, { node_name: 'pf400' }),
    ev('experiment_start', '2025-01-06T08:10:00', { experiment_id: id('EXP1') }, { experiment: { experiment_design: { experiment_name: 'Calibration' } } }),
    ev('action_status_change', '2025-01-06T08:20:00', { node_id: N1 }, { action_id: 'a1', status: 'running' }),
    ev('log_info', '2025-01-06T08:30:00', { node_id: N1 }, { message: 'logs never count' }),
    ev('action_status_change', '2025-01-06T08:50:00', { node_id: N1 }, { action_id: 'a1', status: 'completed' }),
    ev('experiment_complete', '2025-01-06T09:10:00', { experiment_id: id('EXP1') }, { status: 'completed' }),
    ev('action_status_change', '2025-01-06T09:30:00', { node_id: N2 }, { action_id: 'a2', status: 'running' }),
    ev('workcell_stop', '2025-01-06T10:00:00', { workcell_id: W1 }),
    ev('action_status_change', '2025-01-06T10:30:00', { node_id: N2 }, { action_id: 'a2', status: 'completed' }),
    ev('workcell_start', '2025-01-06T11:00:00', { workcell_id: W1 }),
    ev('experiment_start', '2025-01-06T11:30:00', { experiment_id: id('EXP2') }),
  ]
}
