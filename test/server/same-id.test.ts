import { describe, expect, it } from 'vitest'
import { call, startServer, STORE_KINDS } from './helpers.js'

/**
 * Writes of one `event_id` at once (issue 21, item 6). 20 concurrent `POST /event` of one id with
 * different bodies: 19 clients got 200 echoing a body that was not what was stored. 3 concurrent
 * batches of 10 000 events with the same ids: every request got 503 after 5 s although the events
 * were stored, and one batch was written twice (41 003 delivered for 40 003 accepted).
 *
 * An id already stored (or being stored) answers with what is stored, as MADSci leaves the stored
 * document unchanged; batches answer `stored` once their events are; delivery counts stay exact.
 */

/** A Prometheus counter's value. */
function counter(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m ? Number(m[1]) : Number.NaN
}

describe.each(STORE_KINDS)('one event_id written at once (%s store)', (kind) => {
  it('20 concurrent POST /event of one id with different bodies all answer 200 with the one stored version', async () => {
    const r = await startServer(kind, 'same-id-posts')
    try {
      const id = '01JSAMEID00000000000000001'
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => call(r.url, 'POST', '/event', { event_id: id, event_type: 'test', event_data: { writer: i } })))
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200))
      const stored = (await call(r.url, 'GET', `/event/${id}`)).json()
      for (const a of answers) expect(a.json()).toEqual(stored)
      // Later, a retry with yet another body: the stored version again, unchanged.
      const retry = await call(r.url, 'POST', '/event', { event_id: id, event_type: 'test', event_data: { writer: 'late' } })
      expect(retry.json()).toEqual(stored)
      expect((await call(r.url, 'GET', `/event/${id}`)).json()).toEqual(stored)
    } finally {
      await r.close()
    }
  })

  it('3 concurrent batches of 10 000 events with the same ids: each answers stored, no 503, and delivered == accepted', async () => {
    // 2 s without progress is an outage; the 30 000 writes take longer than that in all (FerretDB),
    // and each request got 503 when it was a deadline counted from the push.
    const r = await startServer(kind, 'same-id-batches', { settings: { ingest_timeout_ms: 2000 } })
    try {
      const ids = Array.from({ length: 10_000 }, (_, i) => `01JBATCH${String(i).padStart(18, '0')}`)
      const batch = (n: number): unknown[] => ids.map((id, i) => ({ event_id: id, event_type: 'test', event_data: { batch: n, i } }))
      const answers = await Promise.all([0, 1, 2].map((n) => call(r.url, 'POST', '/events/batch', batch(n))))
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200])
      for (const a of answers) {
        const results = a.json<Array<{ status: string }>>()
        expect(results).toHaveLength(10_000)
        expect(results.every((x) => x.status === 'stored')).toBe(true)
      }
      await r.server.flush()
      const metrics = (await call(r.url, 'GET', '/metrics')).text
      expect(counter(metrics, 'madsci_pipeline_delivered_total')).toBe(counter(metrics, 'madsci_pipeline_accepted_total'))
      expect((await call(r.url, 'POST', '/events/query', { _id: { $in: ids.slice(0, 50) } })).json()).toSatisfy((m: object) => Object.keys(m).length === 50)
    } finally {
      await r.close()
    }
  }, 120_000)
})
