import { MongoClient } from 'mongodb'
import { afterAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script
import { startFerretDB } from '../../scripts/lib/ferretdb.mjs'
import { LoggedEvent } from '../../src/pipeline/record.js'
import { MongoStore } from '../../src/stores/mongo.js'
import { StoreUnavailableError } from '../../src/errors.js'
import { newUlid } from '../../src/event/ulid.js'
import { createEventLogger } from '../../src/index.js'

/**
 * The database gone while a connection pool still exists: the driver reports the refused
 * connection of an unordered insertMany as a bulk write error with no per-document errors. The
 * store must call that "unavailable" (retry), never "delivered" (bench/soak.mjs lost half of
 * 100 000 events this way before the fix). Short version of the soak's database case.
 */

type Db = { url: string; kill(sig?: string): Promise<void>; restart(): Promise<void>; stop(): Promise<void> }
const dbs: Db[] = []
afterAll(async () => {
  for (const d of dbs) await d.stop()
})

const event = (i: number) => new LoggedEvent(newUlid(), 'log_info', 20, false, new Date().toISOString(), {}, JSON.stringify({ i }), null, null)

async function count(url: string, database: string): Promise<{ total: number; ids: Set<string> }> {
  const client = await MongoClient.connect(url)
  try {
    const docs = await client.db(database).collection('events').find({}, { projection: { _id: 1 } }).toArray()
    return { total: docs.length, ids: new Set(docs.map((d) => String(d._id))) }
  } finally {
    await client.close()
  }
}

describe('MongoStore while the database is down', () => {
  it('a write to a killed database is StoreUnavailableError, not delivered; after the restart it is stored once', async () => {
    const db: Db = await startFerretDB({ binary: inject('ferretdbBinary') })
    dbs.push(db)
    const store = new MongoStore(db.url, { database: 'outage', clientOptions: { serverSelectionTimeoutMS: 500 } })
    try {
      const first = Array.from({ length: 50 }, (_, i) => event(i))
      expect((await store.write(first)).delivered).toBe(50)
      await db.kill('SIGKILL')
      const batch = Array.from({ length: 50 }, (_, i) => event(100 + i))
      // Two tries: the first may meet the dead pooled connection, the second a refused one.
      for (let k = 0; k < 2; k++) await expect(store.write(batch)).rejects.toBeInstanceOf(StoreUnavailableError)
      await db.restart()
      let delivered = 0
      for (let k = 0; k < 20 && delivered === 0; k++) {
        delivered = await store.write(batch).then(
          (r) => r.delivered,
          (err) => {
            expect(err).toBeInstanceOf(StoreUnavailableError)
            return 0
          },
        )
      }
      expect(delivered).toBe(50)
      // The same batch again (a retry after an unknown outcome): duplicates, counted as delivered.
      expect((await store.write(batch)).delivered).toBe(50)
      const stored = await count(db.url, 'outage')
      expect(stored.total).toBe(100)
      for (const e of [...first, ...batch]) expect(stored.ids.has(e.event_id)).toBe(true)
    } finally {
      await store.close({ force: true })
    }
  }, 30_000)

  it('through the logger: FerretDB SIGKILLed three times in 15 000 events, each restarted after 1 s; 0 lost, 0 duplicated', async () => {
    const db: Db = await startFerretDB({ binary: inject('ferretdbBinary') })
    dbs.push(db)
    const logger = createEventLogger({
      mongodb: { url: db.url, database: 'outage2', clientOptions: { serverSelectionTimeoutMS: 500 } },
      spool: false,
      queue: { maxEvents: 50_000 },
      retry: { baseMs: 20, maxMs: 300 },
      env: {},
      onWarning: () => {},
    })
    const ids = new Set<string>()
    for (let i = 0; i < 15_000; i++) {
      ids.add(logger.info('outage', { i }) as string)
      if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 10))
      if (i === 3000 || i === 7000 || i === 11000) {
        // Killed right after a burst: batches are in flight or about to be sent.
        await db.kill('SIGKILL')
        for (let k = 0; k < 500; k++) ids.add(logger.info('while down', { k, at: i }) as string)
        await new Promise((r) => setTimeout(r, 1000))
        await db.restart()
      }
    }
    await logger.flush({ timeoutMs: 20_000 })
    const stats = logger.stats()
    await logger.close()
    expect(stats.retried).toBeGreaterThan(0)
    expect(stats.dropped).toEqual({})
    const stored = await count(db.url, 'outage2')
    expect(stored.total).toBe(ids.size)
    for (const id of ids) expect(stored.ids.has(id)).toBe(true)
  }, 30_000)
})
