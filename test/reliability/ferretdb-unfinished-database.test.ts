import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { afterAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script
import { startFerretDB } from '../../scripts/lib/ferretdb.mjs'

// FerretDB's SQLite backend creates <database>.sqlite, then its metadata table. A SIGKILL between
// the two (the soak's database kills hit it once) leaves a file FerretDB refuses to start with:
// "no such table: _ferretdb_collections". restart() sets such a file aside (it holds nothing).

type Server = { url: string; dataDir: string; kill(sig?: string): Promise<unknown>; restart(): Promise<void>; stop(): Promise<void> }
const servers: Server[] = []
afterAll(async () => {
  for (const s of servers) await s.stop()
})

/** A SQLite file in WAL mode with no table at all: what FerretDB leaves when killed right after creating it. */
function unfinishedDatabase(path: string): void {
  const python = inject('python')
  const r = spawnSync(python, ['-c', 'import sqlite3, sys\ncon = sqlite3.connect(sys.argv[1])\ncon.execute("PRAGMA journal_mode=WAL")\ncon.close()', path], { encoding: 'utf8' })
  expect(r.status, r.stderr).toBe(0)
}

describe('FerretDB restarted after a kill during a database creation', () => {
  it('sets the empty database file aside, keeps the other databases, and serves again', async () => {
    const binary = inject('ferretdbBinary')
    const db: Server = await startFerretDB({ binary })
    servers.push(db)
    const client = await MongoClient.connect(db.url, { serverSelectionTimeoutMS: 5000 })
    await client.db('kept').collection('events').insertMany([{ _id: 'a' as never, n: 1 }, { _id: 'b' as never, n: 2 }])
    await client.close()
    await db.kill('SIGKILL')
    unfinishedDatabase(join(db.dataDir, 'unfinished.sqlite'))

    // Without the repair FerretDB does not start on this directory (a second server, same files).
    const refused = await startFerretDB({ binary, dataDir: db.dataDir, timeoutMs: 20_000 }).then(
      async (s: Server) => {
        await s.stop()
        return ''
      },
      (err: Error) => String((err as Error & { output?: string }).output ?? err.message),
    )
    expect(refused).toMatch(/no such table: _ferretdb_collections/)

    await db.restart()
    const files = readdirSync(db.dataDir)
    expect(existsSync(join(db.dataDir, 'unfinished.sqlite'))).toBe(false)
    expect(files.some((f) => /^unfinished\.sqlite\.unfinished-/.test(f))).toBe(true)
    const again = await MongoClient.connect(db.url, { serverSelectionTimeoutMS: 5000 })
    try {
      const docs = await again.db('kept').collection('events').find().sort({ _id: 1 }).toArray()
      expect(docs.map((d) => [d._id, d.n])).toEqual([
        ['a', 1],
        ['b', 2],
      ])
      // The set-aside name is a database again, created afresh.
      await again.db('unfinished').collection('events').insertOne({ n: 3 })
      expect(await again.db('unfinished').collection('events').countDocuments()).toBe(1)
    } finally {
      await again.close()
    }
  })
})
