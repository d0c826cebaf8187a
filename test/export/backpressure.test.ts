import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { Event } from '../../src/event/index.js'
import { parseEvent } from '../../src/event/index.js'
import { exportEventsCsv } from '../../src/export/index.js'

// 300 000 rows: the bound below is what shows constant memory; more rows only take longer.
const N = 300_000

describe('streaming export respects backpressure', () => {
  it('writes 300 000 rows while never running more than a bounded number ahead of a slow destination', async () => {
    let produced = 0
    let written = 0
    let maxAhead = 0
    async function* events(): AsyncGenerator<Event> {
      for (let i = 0; i < N; i++) {
        produced++
        maxAhead = Math.max(maxAhead, produced - written)
        yield parseEvent({ event_id: `E${i}`, event_type: 'log_info', event_timestamp: '2025-01-06T10:00:00', event_data: { i } })
      }
    }
    // A destination that takes each chunk on a later turn of the event loop, with a small buffer.
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, done) {
        for (let k = 0; k < chunk.length; k++) if (chunk[k] === 10) written++
        setImmediate(done)
      },
    })
    const result = await exportEventsCsv(events(), slow)
    expect(result.rows).toBe(N)
    expect(written).toBe(N + 1) // the header too
    // Without backpressure the generator would run all N ahead; with it, a few buffers' worth.
    expect(maxAhead).toBeLessThan(5_000)
  }, 120_000)
})
