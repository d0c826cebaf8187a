import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FileStore } from '../../src/index.js'
import { call, startServer, tempDir } from './helpers.js'

/**
 * What the server says while its store is unreachable (issue 21, item 7). 120 000 events posted in
 * batches all got 503 "queued and will be stored when it returns", but the queue holds 100 000:
 * 20 000 were dropped and never stored. Now a 503 never promises storage: an event the queue
 * took is "not stored yet" and held in memory (lost if the server stops first), one it refused is
 * "not stored and not held". When the store returns, exactly the held ones are stored.
 *
 * The store is a real file store whose directory cannot be made (a file stands where it should be)
 * until the file is removed: the store "returns". A later issue replaces this path with a durable
 * spool; this test stays to keep the answers honest.
 */

describe('answers while the store is unreachable', () => {
  it('120 000 events in batches of 10 000: the batches the queue holds answer "not stored yet", those it drops from answer "not held"; exactly the held events are stored when the store returns', async () => {
    const dir = tempDir('outage-answers')
    const blocker = join(dir, 'data')
    writeFileSync(blocker, 'a file where the store directory should be\n')
    const file = join(blocker, 'events.ndjson')
    const r = await startServer('file', 'outage-answers', { dir, settings: { data_file: file, ingest_timeout_ms: 200 } })
    try {
      const answers: Array<{ status: number; detail: string; ids: string[] }> = []
      for (let b = 0; b < 12; b++) {
        const events = Array.from({ length: 10_000 }, (_, i) => ({ event_id: `outage-${String(b).padStart(2, '0')}-${String(i).padStart(5, '0')}`, event_type: 'test', event_data: { b, i } }))
        const res = await call(r.url, 'POST', '/events/batch', events)
        answers.push({ status: res.status, detail: res.json().detail, ids: events.map((e) => e.event_id) })
      }
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 503))
      // Never "queued and will be stored": nothing is promised.
      for (const a of answers) expect(a.detail).not.toMatch(/queued|will be stored/)
      const held = answers.slice(0, 10)
      const refused = answers.slice(10)
      for (const a of held) expect(a.detail).toMatch(/not stored yet.*holds it in memory.*loses it if it stops first/)
      for (const a of refused) expect(a.detail).toMatch(/queue is full: the event was not stored and is not held/)
      // The queue's 100 000 plus the batches in flight (4 × 1 000) were held; the rest dropped.
      const metrics = (await call(r.url, 'GET', '/metrics')).text
      const dropped = Number(/^madsci_pipeline_dropped_total\{reason="overflow"\} (\d+)$/m.exec(metrics)?.[1])
      expect(dropped).toBeGreaterThanOrEqual(16_000)
      expect(dropped).toBeLessThanOrEqual(20_000)

      // The store returns: what was held is stored, what was refused is not.
      rmSync(blocker)
      await r.server.flush({ timeoutMs: 90_000 })
      const store = new FileStore(file)
      const stored = new Set<string>()
      for await (const e of store.streamEvents({ orderBy: 'event_id' })) if (e.event_id.startsWith('outage-')) stored.add(e.event_id)
      await store.close()
      expect(stored.size).toBe(120_000 - dropped)
      for (const a of held) expect(a.ids.every((id) => stored.has(id))).toBe(true)
      // A batch answered "not held" had events dropped (the client sends it again; the held ones stay once).
      for (const a of refused) expect(a.ids.some((id) => !stored.has(id))).toBe(true)
    } finally {
      await r.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
