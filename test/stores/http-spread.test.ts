import { createServer as createNetServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createEventLogger, HttpStore } from '../../src/index.js'
import { ConfigError } from '../../src/errors.js'
import { parseEventManagerUrls } from '../../src/stores/http-spread.js'
import { InstanceSet } from '../../src/stores/instances.js'
import { validateTransportOptions } from '../../transports/options.js'
import { Receiver } from '../helpers/receiver.js'
import { call, startServer } from '../server/helpers.js'

/**
 * The Event Manager sink given several URLs: batches spread over the healthy instances, a failing
 * one is skipped (its batches go to another at once) and backed off, and every event arrives once.
 * Real HTTP servers throughout: scripted receivers where an instance must fail on cue, our server
 * where reads are needed.
 */

const open: Array<{ close(): Promise<unknown> }> = []
afterEach(async () => {
  while (open.length) await open.pop()?.close()
})

async function receivers(n: number): Promise<Receiver[]> {
  const list = await Promise.all(Array.from({ length: n }, () => Receiver.start({ batch: true })))
  open.push(...list)
  return list
}

/** A loopback port nobody listens on (connections are refused). */
async function deadPort(): Promise<number> {
  const s = createNetServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** Every id stored exactly once across the receivers. */
function storedOnce(rxs: Receiver[], ids: Iterable<string>): { missing: number; extra: number } {
  const count = new Map<string, number>()
  for (const rx of rxs) for (const id of rx.events.keys()) count.set(id, (count.get(id) ?? 0) + 1)
  let missing = 0
  for (const id of ids) if (!count.has(id)) missing++
  let extra = 0
  for (const n of count.values()) extra += n - 1
  return { missing, extra }
}

describe('several Event Manager URLs', () => {
  it('are read from an array, a comma list of URLs, or a MongoDB-style host list; bad entries are refused by name', () => {
    expect(parseEventManagerUrls(['http://a:1', 'http://b:2/em'])).toEqual(['http://a:1', 'http://b:2/em'])
    expect(parseEventManagerUrls('http://a:1, https://b:2')).toEqual(['http://a:1', 'https://b:2'])
    expect(parseEventManagerUrls('http://a:8001,b:8002,c:8003')).toEqual(['http://a:8001', 'http://b:8002', 'http://c:8003'])
    expect(parseEventManagerUrls('http://a:8001,b:8002,c:8003/em/')).toEqual(['http://a:8001/em/', 'http://b:8002/em/', 'http://c:8003/em/'])
    expect(parseEventManagerUrls('http://only:1')).toEqual(['http://only:1'])
    for (const bad of ['', 'http://a:1,,http://b:2', 'http://a:1,ftp://b', 'http://a:1,http://a:1/', 'a:1,b:2', ['http://a:1', 7 as unknown as string]]) {
      expect(() => parseEventManagerUrls(bad as string), JSON.stringify(bad)).toThrow(ConfigError)
    }
    expect(() => createEventLogger({ eventManager: ['http://a:1', 'ftp://b'], spool: false, env: {} })).toThrow(/"ftp:\/\/b" is not an http\(s\) URL/)
    expect(() => createEventLogger({ env: { EVENT_SERVER_URL: 'http://a:1,:::' }, spool: false })).toThrow(/EVENT_SERVER_URL/)
    expect(validateTransportOptions({ eventManager: ['http://a:1', 'http://b:1'] }).eventManager).toHaveLength(2)
    expect(validateTransportOptions({ eventManager: { url: ['http://a:1', 'http://b:1'], timeoutMs: 100 } })).toBeTruthy()
    expect(() => validateTransportOptions({ eventManager: ['http://a:1', 3] })).toThrow(ConfigError)
    expect(() => validateTransportOptions({ eventManager: { url: [1] } })).toThrow(/eventManager.url/)
  })

  it('spread batches over every healthy instance; each event stored once; stats per instance', async () => {
    const rxs = await receivers(3)
    const logger = createEventLogger({ eventManager: rxs.map((r) => r.url), spool: false, env: {}, batch: { maxEvents: 100, flushIntervalMs: 5 }, onWarning: () => {} })
    open.push(logger)
    const ids: string[] = []
    for (let i = 0; i < 3000; i++) {
      ids.push(logger.info('spread', { i }) as string)
      if (i % 100 === 99) await new Promise((r) => setImmediate(r))
    }
    await logger.flush()
    expect(storedOnce(rxs, ids)).toEqual({ missing: 0, extra: 0 })
    for (const rx of rxs) expect(rx.events.size).toBeGreaterThanOrEqual(300)
    const s = logger.stats().sinks[0]
    expect(s.target).toBe(rxs.map((r) => `${r.url}/`).join(','))
    expect(s.instances?.map((x) => x.name)).toEqual(rxs.map((r) => `${r.url}/`))
    expect(s.instances?.reduce((a, x) => a + x.events, 0)).toBe(3000)
    expect(s.instances?.map((x) => x.events)).toEqual(rxs.map((r) => r.events.size))
    expect(s.instances?.every((x) => x.healthy && x.failures === 0)).toBe(true)
  })

  it('EVENT_SERVER_URL with a host list works as the array does', async () => {
    const rxs = await receivers(2)
    const list = `http://127.0.0.1:${rxs[0].port},127.0.0.1:${rxs[1].port}`
    const logger = createEventLogger({ env: { EVENT_SERVER_URL: list }, spool: false, batch: { maxEvents: 10, flushIntervalMs: 1 }, onWarning: () => {} })
    open.push(logger)
    const ids = Array.from({ length: 200 }, (_, i) => logger.info('env', { i }) as string)
    await logger.flush()
    expect(storedOnce(rxs, ids)).toEqual({ missing: 0, extra: 0 })
    expect(rxs[0].events.size).toBeGreaterThan(0)
    expect(rxs[1].events.size).toBeGreaterThan(0)
  })

  it('a refused connection, a 503 storm and a stalled instance: their batches go to the others at once, the bad ones are backed off, nothing lost or doubled', async () => {
    const [good, storm, stalled] = await receivers(3)
    storm.failures = [{ status: 503, times: 1_000_000 }]
    stalled.stall = true
    const dead = `http://127.0.0.1:${await deadPort()}`
    const logger = createEventLogger({
      eventManager: { url: [dead, storm.url, stalled.url, good.url], timeoutMs: 300 },
      spool: false,
      env: {},
      batch: { maxEvents: 50, flushIntervalMs: 1 },
      // A pipeline retry would show as a delay: failover happens inside one write.
      retry: { baseMs: 5_000, maxMs: 5_000 },
      onWarning: () => {},
    })
    open.push(logger)
    const ids: string[] = []
    const t0 = Date.now()
    for (let i = 0; i < 2000; i++) {
      ids.push(logger.info('failover', { i }) as string)
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 2))
    }
    await logger.flush({ timeoutMs: 30_000 })
    const elapsed = Date.now() - t0
    expect(storedOnce([good, storm, stalled], ids)).toEqual({ missing: 0, extra: 0 })
    expect(good.events.size).toBe(2000)
    const s = logger.stats().sinks[0]
    const byName = new Map(s.instances?.map((x) => [x.name, x]))
    expect(byName.get(`${good.url}/`)?.failures).toBe(0)
    for (const bad of [dead, storm.url, stalled.url]) {
      const x = byName.get(`${bad}/`)
      expect(x?.events).toBe(0)
      expect(x?.failures).toBeGreaterThanOrEqual(1)
      expect(x?.lastError).toBeTruthy()
    }
    // Backed off: 40+ batches went out, the 503 instance saw only a few of them (probes).
    expect(storm.log.filter((l) => l.path === '/events/batch').length).toBeLessThan(15)
    // No pipeline retry (5 s each) was needed.
    expect(s.retried).toBe(0)
    expect(elapsed).toBeLessThan(5_000)
  })

  it('an instance that dies mid-stream and comes back: its share moves to the others, then it takes batches again', async () => {
    const rxs = await receivers(2)
    const [a, b] = rxs
    const port = a.port
    const logger = createEventLogger({ eventManager: [a.url, b.url], spool: false, env: {}, batch: { maxEvents: 20, flushIntervalMs: 1 }, onWarning: () => {} })
    open.push(logger)
    const ids: string[] = []
    const log = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        ids.push(logger.info('kill', { i }) as string)
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 2))
      }
      await logger.flush()
    }
    await log(500)
    await a.close()
    open.splice(open.indexOf(a), 1)
    const beforeB = b.events.size
    await log(500)
    expect(b.events.size - beforeB).toBe(500)
    const back = await Receiver.start({ batch: true, port })
    open.push(back)
    // Past its backoff (at most 30 s; a couple of failures → well under 2 s), it is probed and used again.
    await new Promise((r) => setTimeout(r, 2_000))
    await log(500)
    expect(back.events.size).toBeGreaterThan(0)
    expect(storedOnce([a, b, back], ids)).toEqual({ missing: 0, extra: 0 })
    const inst = logger.stats().sinks[0].instances ?? []
    expect(inst[0].failures).toBeGreaterThanOrEqual(1)
    expect(inst[0].healthy).toBe(true)
  })

  it('every instance down: the pipeline retries (with the wait until the first comes back), then delivers', async () => {
    const [a] = await receivers(1)
    const port = a.port
    await a.close()
    open.pop()
    const other = `http://127.0.0.1:${await deadPort()}`
    const logger = createEventLogger({ eventManager: [`http://127.0.0.1:${port}`, other], spool: false, env: {}, retry: { baseMs: 20, maxMs: 200 }, onWarning: () => {} })
    open.push(logger)
    const ids = Array.from({ length: 100 }, (_, i) => logger.info('later', { i }) as string)
    await new Promise((r) => setTimeout(r, 700))
    expect(logger.stats().retried).toBeGreaterThanOrEqual(1)
    const back = await Receiver.start({ batch: true, port })
    open.push(back)
    await logger.flush({ timeoutMs: 20_000 })
    expect(storedOnce([back], ids)).toEqual({ missing: 0, extra: 0 })
  })

  it('reads go to an instance that answers', async () => {
    const srv = await startServer('file', 'spread-read')
    open.push(srv)
    const id = (await call(srv.url, 'POST', '/event', { event_type: 'test', event_data: { read: true } })).json<{ _id: string }>()._id
    await srv.server.flush()
    const store = new HttpStore([`http://127.0.0.1:${await deadPort()}`, srv.url])
    open.push(store)
    expect((await store.getEvent(id))?.event_id).toBe(id)
    expect((await store.queryEvents({ event_type: 'test' })).map((e) => e.event_id)).toEqual([id])
    const streamed = []
    for await (const e of store.streamEvents({ orderBy: 'event_id' })) streamed.push(e.event_id)
    expect(streamed).toEqual([id])
  })
})

describe('InstanceSet', () => {
  it('picks the least busy healthy instance round-robin, backs off a failed one, probes it one request at a time', () => {
    let now = 1000
    const set = new InstanceSet(['a', 'b', 'c'], { baseMs: 100, maxMs: 1000, now: () => now, random: () => 0.5 })
    // Round-robin from a random first instance (random 0.5 of 3: the second).
    const order = [set.pick(), set.pick(), set.pick(), set.pick()]
    expect(order).toEqual([1, 2, 0, 1])
    set.begin(0)
    set.begin(0)
    set.begin(1)
    expect(set.pick()).toBe(2)
    set.failed(0, new Error('boom'))
    expect(set.stats()[0]).toMatchObject({ healthy: false, failures: 1, consecutiveFailures: 1, lastError: 'boom', inFlight: 1 })
    // 100 ms ceiling, at least half of it: 75 ms with random 0.5.
    expect(set.waitMs()).toBe(0) // b and c may be used now
    expect(set.pick(new Set([1, 2]))).toBeUndefined()
    now += 75
    set.abandoned(0)
    expect(set.pick(new Set([1, 2]))).toBe(0)
    set.begin(0)
    // Recovering: a second request is not sent to it while the probe is out.
    expect(set.pick(new Set([1, 2]))).toBeUndefined()
    set.failed(0, new Error('again'), 500)
    expect(set.stats()[0].retryAt).toBe(now + 500)
    now += 500
    set.begin(0)
    set.succeeded(0, 10, 3)
    expect(set.stats()[0]).toMatchObject({ healthy: true, consecutiveFailures: 0, requests: 1, events: 10 })
    expect(() => new InstanceSet([])).toThrow(RangeError)
  })
})
