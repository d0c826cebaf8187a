import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { afterAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script
import { startFerretDB } from '../../scripts/lib/ferretdb.mjs'
import { createEventLogger } from '../../src/index.js'

let db: { url: string; kill(sig?: string): Promise<void>; restart(): Promise<void>; stop(): Promise<void> } | undefined
afterAll(async () => {
  await db?.stop()
})

describe('the database killed with SIGKILL mid-stream and restarted', () => {
  it('every event arrives, none twice', async () => {
    db = await startFerretDB({ binary: inject('ferretdbBinary') })
    const spool = await mkdtemp(join(tmpdir(), 'madsci-spool-'))
    const logger = createEventLogger({
      mongodb: { url: db!.url, database: 'restart', clientOptions: { serverSelectionTimeoutMS: 1000 } },
      spool,
      retry: { baseMs: 50, maxMs: 500 },
      env: {},
      onWarning: () => {},
    })
    const errors: string[] = []
    logger.on('error', (e) => errors.push(e.name))
    const total = 20_000
    const ids = new Set<string>()
    for (let i = 0; i < total; i++) {
      ids.add(logger.info('tick', { i }) as string)
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5))
      if (i === 5_000 || i === 12_000) {
        await db!.kill('SIGKILL')
        // Keep logging while it is down...
        for (let k = 0; k < 1000; k++) ids.add(logger.info('while down', { k, at: i }) as string)
        await new Promise((r) => setTimeout(r, 1500))
        await db!.restart()
      }
    }
    await logger.flush({ timeoutMs: 240_000 })
    const stats = logger.stats()
    await logger.close()
    expect(errors.length).toBeGreaterThan(0) // the outages were noticed
    expect(stats.retried).toBeGreaterThan(0)
    expect(stats.dropped).toEqual({})
    const client = await MongoClient.connect(db!.url)
    try {
      const docs = await client.db('restart').collection('events').find({}, { projection: { _id: 1 } }).toArray()
      const stored = docs.map((d) => String(d._id))
      expect(stored.length).toBe(ids.size)
      expect(new Set(stored)).toEqual(ids)
    } finally {
      await client.close()
    }
  }, 300_000)
})
