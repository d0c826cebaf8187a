import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { eventToDocument, parseEvent } from '../../src/event/index.js'
import { MongoStore } from '../../src/stores/mongo.js'
import { databaseName, databases, dropDatabases, runCli, scratch, urlWithDatabase } from './helpers.js'

/**
 * Reading commands (export, report, backup) create nothing in the store: not the database, the
 * collection, an index nor the `schema_versions` record a writer adds; reading a database or a
 * file that does not exist is an error, not an empty result. `MongoStore({ readOnly: true })`
 * is what they use; it refuses changes.
 */
const dir = scratch('read-only')
const ghost = databaseName('ghost')
const existing = databaseName('existing')
const client = new MongoClient(inject('mongoUrl'))
afterAll(async () => {
  await dropDatabases([ghost, existing])
  await client.close()
  rmSync(dir, { recursive: true, force: true })
})

/** What a database holds besides its documents: collections and their indexes. */
async function layout(db: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const c of await client.db(db).listCollections().toArray()) {
    out[c.name] = (await client.db(db).collection(c.name).indexes()).map((i) => String(i.name)).sort()
  }
  return out
}

beforeAll(async () => {
  // A database written by someone else: events only, no indexes, no schema_versions.
  const docs = Array.from({ length: 30 }, (_, i) =>
    eventToDocument(parseEvent({ event_id: `01JH${String(i).padStart(22, '0')}`, event_type: 'log_info', event_timestamp: `2025-01-06T10:00:${String(i).padStart(2, '0')}.000000`, event_data: { message: `m${i}` } })),
  )
  await client.db(existing).collection('events').insertMany(docs as never[])
})

describe('read commands create nothing', () => {
  const reads = (url: string): string[][] => [
    ['export', '--db-url', url],
    ['report', 'sessions', '--db-url', url],
    ['report', 'periods', '--from', '2025-01-06', '--to', '2025-01-07', '--db-url', url],
    ['backup', '--db-url', url, '--dir', join(dir, 'backups')],
  ]

  it('on a database that does not exist: an error naming it, and no database appears', async () => {
    for (const args of reads(urlWithDatabase(ghost))) {
      const res = await runCli(args, { cwd: dir })
      expect([args[0], res.code]).toEqual([args[0], 1])
      expect(res.stderr).toContain(`nothing is stored in ${ghost}.events on `)
      expect(res.stdout).toBe('')
    }
    expect(await databases()).not.toContain(ghost)
    expect(existsSync(join(dir, 'backups'))).toBe(false)
  })

  it('on an existing database: they read it, and add no index, collection or schema_versions record', async () => {
    const before = await layout(existing)
    expect(before).toEqual({ events: ['_id_'] })
    for (const args of reads(urlWithDatabase(existing))) {
      const res = await runCli(args, { cwd: dir })
      expect([args.slice(0, 2).join(' '), res.code, res.stderr]).toEqual([args.slice(0, 2).join(' '), 0, expect.any(String)])
    }
    expect(await layout(existing)).toEqual(before)
    expect(await client.db(existing).collection('events').countDocuments()).toBe(30)
  })

  it('an event file that does not exist is an error (exit 1), and nothing is created', async () => {
    const missing = join(dir, 'no-such-dir', 'events.ndjson')
    const before = readdirSync(dir).sort()
    for (const args of [['export', '--file', missing], ['report', 'users', '--file', missing], ['backup', '--file', missing, '--dir', join(dir, 'b2')]]) {
      const res = await runCli(args, { cwd: dir })
      expect([args[0], res.code, res.stderr.trim()]).toEqual([args[0], 1, `madsci-events ${args[0]}: no event file at ${missing}`])
    }
    expect(readdirSync(dir).sort()).toEqual(before)
    // Without --file, the default file: the message says which it is and how to choose another.
    const res = await runCli(['export'], { cwd: dir })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain(`no event file at ${join(dir, '.madsci', 'events', 'events.ndjson')} (the default store`)
    expect(res.stderr).toContain('give --file, --db-url or --url')
    expect(readdirSync(join(dir, '.madsci'))).toEqual([])
    // A directory is not an event file.
    const asDir = await runCli(['export', '--file', dir], { cwd: dir })
    expect(asDir.code).toBe(2)
    expect(asDir.stderr).toContain('is a directory; --file names the event file')
  })
})

describe('MongoStore({ readOnly: true })', () => {
  it('reads without creating, and refuses writes, archiving, purging and the retention index', async () => {
    const store = new MongoStore(urlWithDatabase(ghost), { readOnly: true })
    try {
      expect(await store.getEvents()).toEqual([])
      expect(await store.countEvents()).toBe(0)
      const event = parseEvent({ event_type: 'log_info', event_data: 'x' })
      await expect(store.write([event])).rejects.toThrow(ConfigError)
      await expect(store.write([event])).rejects.toThrow(/opened read-only; writing events is refused/)
      await expect(store.archiveEvents({ eventIds: [event.event_id] })).rejects.toThrow(/archiving is refused/)
      await expect(store.purgeArchived(1)).rejects.toThrow(/purging is refused/)
      await expect(store.ensureRetentionIndex(30)).rejects.toThrow(/creating the retention index is refused/)
    } finally {
      await store.close()
    }
    expect(await databases()).not.toContain(ghost)
  })
})
