import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM scripts without type declarations
import { startCluster } from '../../scripts/lib/cluster.mjs'
// @ts-expect-error plain ESM scripts without type declarations
import { runPythonClient } from '../../scripts/lib/python-peer.mjs'
// @ts-expect-error plain ESM scripts without type declarations
import { runScaleOut } from '../../bench/lib/scale-out.mjs'
import { createEventLogger } from '../../src/index.js'

/**
 * The scale-out run, short (the long one: `npm run soak -- --only scale`): 3 `serve` processes
 * over 2 FerretDB front ends on one PostgreSQL; 3 producers through createEventLogger given the
 * three URLs, and the Python EventClient on single instances; an SSE and a WebSocket client on
 * every instance (SSE resumes on its own instance, as a browser does; WebSocket on the next one).
 * Mid-run one serve instance and one FerretDB front end are SIGKILLed and restarted. Counted by
 * id: every event stored once; every live client gets every event; the clients of the instances
 * that stayed up each once and in order per producer. A client that had to resume gets some twice:
 * resume is by last id alone, so the instance it resumes on also sends events from before that id
 * the client may not have had (see adapters/server/live.ts); one dropping repeated ids sees each once.
 */

const SERVER_MODULE = fileURLToPath(new URL('../../dist/server.js', import.meta.url))

let cluster: any
let result: any

beforeAll(async () => {
  if (!existsSync(SERVER_MODULE)) throw new Error(`${SERVER_MODULE} is missing: build first (npx tsup)`)
  cluster = await startCluster({
    serverModule: SERVER_MODULE,
    binary: inject('ferretdbBinary'),
    // A shorter ingest timeout: an instance whose database is down answers 503 after 2 s (5 s by
    // default), and the batch goes elsewhere sooner.
    settings: { live_poll_interval_ms: 250, ingest_timeout_ms: 2000 },
  })
  result = await runScaleOut({
    cluster,
    createEventLogger,
    python: { python: inject('python'), runPythonClient },
    producers: 3,
    ratePerProducer: 200,
    durationMs: 6000,
    pythonEvents: 30,
    downMs: 1000,
  })
}, 180_000)

afterAll(async () => {
  await cluster?.stop()
})

describe('3 serve instances, 2 FerretDB front ends, 1 PostgreSQL, with a serve instance and a front end SIGKILLed', () => {
  it('stores every event once: the loggers spread over the three instances and failed over; the Python clients’ events too', () => {
    const { store, faults, perInstance, pythonSent } = result
    expect(faults.map((f: { what: string }) => f.what)).toEqual(['serve instance 0 SIGKILLed, restarted on its port', 'FerretDB front end 1 SIGKILLed, restarted on its port'])
    expect(pythonSent).toEqual([30, 30])
    expect(store.sent).toBeGreaterThan(1000)
    expect(store).toMatchObject({ stored: store.sent, lost: 0, duplicatedByContent: 0, notSent: 0 })
    expect(result.dropped).toBe(0)
    // Every instance took a share; the killed one failed requests that went elsewhere.
    expect(perInstance).toHaveLength(3)
    for (const i of perInstance) expect(i.events).toBeGreaterThan(0)
    expect(perInstance.find((i: { name: string }) => i.name === `${cluster.urls[0]}/`).failures).toBeGreaterThan(0)
  })

  it('every live client gets every stored event; in order per producer; repeats only after a resume', () => {
    const byName = new Map<string, any>(result.live.map((c: { client: string }) => [c.client, c]))
    for (const c of result.live) {
      expect(c, c.client).toMatchObject({ missing: 0, unexpected: 0 })
      // Repeats: only of what a resume sent from before its resume point (the instance resumed on
      // cannot know which of those the client had).
      expect(c.duplicates, c.client).toBeLessThanOrEqual(c.beforeResumePoint)
    }
    // Clients of the instances that stayed up: each event once, in order per producer.
    for (const name of ['sse@1', 'ws@1', 'sse@2', 'ws@2']) expect(byName.get(name), name).toMatchObject({ resumes: 0, duplicates: 0, outOfOrder: 0, beforeResumePoint: 0 })
    // WebSocket of the killed instance, resumed on the next one (its buffer holds that id): in order.
    expect(byName.get('ws@0')).toMatchObject({ outOfOrder: 0 })
    expect(byName.get('ws@0').resumes).toBeGreaterThan(0)
    // SSE of the killed instance, resumed on it once restarted (an empty buffer: from the store, so
    // what reached the store late may come out of order there; counted, not asserted).
    expect(byName.get('sse@0').resumes).toBeGreaterThan(0)
  })
})
