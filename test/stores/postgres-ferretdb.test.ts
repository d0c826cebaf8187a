import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { MongoClient, MongoServerError } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM scripts without type declarations
import { startFerretDB } from '../../scripts/lib/ferretdb.mjs'
// @ts-expect-error plain ESM scripts without type declarations
import { startPostgres } from '../../scripts/lib/postgres.mjs'
import { eventually } from '../server/helpers.js'

/**
 * The shared store of the scale-out runs: PostgreSQL 15 (scripts/lib/postgres.mjs) under two
 * FerretDB front ends (`startFerretDB({ postgresqlUrl })`). What one front end writes, the other
 * reads; a duplicate `_id` is refused whichever front end it comes through; front ends and the
 * database survive SIGKILL and restart; a killed owner leaves nothing running.
 */

let pg: any
let f1: any
let f2: any
const clients: MongoClient[] = []
const connect = async (url: string): Promise<MongoClient> => {
  const c = await MongoClient.connect(url, { serverSelectionTimeoutMS: 10_000 })
  clients.push(c)
  return c
}

beforeAll(async () => {
  pg = await startPostgres()
  const binary = inject('ferretdbBinary')
  ;[f1, f2] = await Promise.all([startFerretDB({ binary, postgresqlUrl: pg.url }), startFerretDB({ binary, postgresqlUrl: pg.url })])
})

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined)
  await f1?.stop()
  await f2?.stop()
  await pg?.stop()
})

describe('two FerretDB front ends on one PostgreSQL', () => {
  it('share one store: a write through one is read through the other; a duplicate _id is refused through either', async () => {
    expect(pg.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/madsci$/)
    expect(f1.backend).toBe('postgresql')
    expect(f1.dataDir).toBeUndefined()
    expect(f1.version).toBe('1.24.2')
    const a = await connect(f1.url)
    // The collection and its indexes are created through one front end before the other reads anything.
    const events = a.db('shared').collection<{ _id: string; n: number }>('events')
    await events.createIndex({ n: 1 })
    await events.insertMany(Array.from({ length: 100 }, (_, n) => ({ _id: `a${String(n).padStart(3, '0')}`, n })))
    const b = await connect(f2.url)
    const viaB = b.db('shared').collection<{ _id: string; n: number }>('events')
    expect(await viaB.countDocuments({})).toBe(100)
    await viaB.insertMany(Array.from({ length: 50 }, (_, n) => ({ _id: `b${n}`, n })))
    expect(await events.countDocuments({})).toBe(150)
    for (const c of [events, viaB]) {
      const err = await c.insertOne({ _id: 'a000', n: -1 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(MongoServerError)
      expect((err as MongoServerError).code).toBe(11000)
    }
    expect((await events.findOne({ _id: 'a000' }))?.n).toBe(0)
    // PostgreSQL holds it: one schema, the rows in one table.
    expect((await pg.query("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'shared'"))[0][0]).toBe('1')
  })

  it("a front end does not see a collection created through another after it read the catalogue (FerretDB v1 caches it); a restart does", async () => {
    const a = await connect(f1.url)
    const b = await connect(f2.url)
    // f2 has read the catalogue (previous test); a new database through f1 is unknown to it.
    await a.db('later').collection<{ _id: string }>('events').insertOne({ _id: 'x' })
    expect(await b.db('later').collection('events').countDocuments({})).toBe(0)
    const err = await b.db('later').collection('events').insertOne({ _id: 'y' } as never).catch((e: unknown) => e)
    expect((err as MongoServerError).code).toBe(1)
    expect(String((err as Error).message)).toMatch(/already exists/)
    await f2.restart()
    expect(await b.db('later').collection('events').countDocuments({})).toBe(1)
  })

  it('a front end SIGKILLed and restarted on its port, and PostgreSQL itself: nothing written is lost', async () => {
    const b = await connect(f2.url)
    const coll = b.db('shared').collection<{ _id: string; n: number }>('events')
    const before = await coll.countDocuments({})
    const pid = f2.pid
    await f2.kill('SIGKILL')
    expect(f2.running).toBe(false)
    await f2.restart()
    expect(f2.pid).not.toBe(pid)
    await eventually(async () => ((await coll.countDocuments({}).catch(() => -1)) === before ? true : undefined))
    await coll.insertOne({ _id: 'after-kill', n: 1 })
    await pg.kill('SIGKILL')
    await pg.restart()
    await eventually(async () => ((await coll.countDocuments({}).catch(() => -1)) === before + 1 ? true : undefined))
    const a = await connect(f1.url)
    expect(await a.db('shared').collection('events').countDocuments({})).toBe(before + 1)
    expect(pg.cpuSeconds()).toBeGreaterThan(0)
  })
})

describe('the PostgreSQL test service', () => {
  it('stops the server and removes its directory when its owner is SIGKILLed', async () => {
    const script = `
      import { startPostgres } from ${JSON.stringify(new URL('../../scripts/lib/postgres.mjs', import.meta.url).pathname)}
      const pg = await startPostgres()
      process.stdout.write(JSON.stringify({ dir: pg.dataDir, pid: pg.pid }) + '\\n')
      setInterval(() => {}, 1000)
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    const started = await eventually(() => (out.includes('\n') ? (JSON.parse(out) as { dir: string; pid: number }) : undefined))
    expect(existsSync(started.dir)).toBe(true)
    child.kill('SIGKILL')
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    await eventually(() => (!alive(started.pid) && !existsSync(started.dir) ? true : undefined))
  })
})
