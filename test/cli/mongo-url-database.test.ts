import { rmSync } from 'node:fs'
import { MongoClient } from 'mongodb'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { createServer } from '../../adapters/server/index.js'
import { createEventLogger } from '../../src/index.js'
import { mongoUrlDatabase } from '../../src/config/mongo-url.js'
import { databaseName, dropDatabases, runCli, scratch, startCli, urlWithDatabase } from './helpers.js'

/**
 * The database named in a MongoDB URL's path (`mongodb://host/labdb`) is used, as the driver
 * does, by the library, the server and the CLI alike: an explicit database (option, flag or
 * EVENT_DATABASE_NAME) first, then the URL's path, then `madsci_events`. Against FerretDB.
 */
const dir = scratch('mongo-url-db')
const fromPath = databaseName('path')
const explicit = databaseName('explicit')
const client = new MongoClient(inject('mongoUrl'))
afterAll(async () => {
  await dropDatabases([fromPath, explicit])
  await client.close()
  rmSync(dir, { recursive: true, force: true })
})

const count = (db: string, filter: Record<string, unknown> = {}): Promise<number> => client.db(db).collection('events').countDocuments(filter)

describe('mongoUrlDatabase reads the path as the driver does', () => {
  it.each([
    ['mongodb://host/labdb', 'labdb'],
    ['mongodb://host:27017/labdb?authSource=admin', 'labdb'],
    ['mongodb://h1:1,h2:2/labdb?replicaSet=rs', 'labdb'],
    ['mongodb+srv://cluster.example.net/labdb', 'labdb'],
    ['mongodb://user:pa%2Fss@host/labdb', 'labdb'],
    ['mongodb://user:pa/ss@host/labdb', 'labdb'],
    ['mongodb://host/lab%20db', 'lab db'],
    ['mongodb://host/', undefined],
    ['mongodb://host', undefined],
    ['mongodb://host/?w=majority', undefined],
    ['mongodb://host?w=majority', undefined],
  ])('%s → %s', (url, db) => {
    expect(mongoUrlDatabase(url)).toBe(db)
  })
})

describe('one URL, one database: library, server and CLI agree', () => {
  it('createEventLogger({ mongodb: url }) writes to the database in the path', async () => {
    const logger = createEventLogger({ mongodb: urlWithDatabase(fromPath), spool: false, env: {}, onWarning: () => {} })
    for (let i = 0; i < 5; i++) logger.info(`from the library ${i}`, { i })
    await logger.close()
    expect(await count(fromPath, { 'event_data.message': /^from the library/ })).toBe(5)
    expect(await count('madsci_events', { 'event_data.message': /^from the library/ }).catch(() => 0)).toBe(0)
  })

  it('an explicit database (option or EVENT_DATABASE_NAME) wins over the path', async () => {
    const a = createEventLogger({ mongodb: { url: urlWithDatabase(fromPath), database: explicit }, spool: false, env: {}, onWarning: () => {} })
    a.info('explicit option')
    await a.close()
    const b = createEventLogger({ spool: false, env: { EVENT_DB_URL: urlWithDatabase(fromPath), EVENT_DATABASE_NAME: explicit }, onWarning: () => {} })
    b.info('explicit variable')
    await b.close()
    expect(await count(explicit, { 'event_data.message': /^explicit/ })).toBe(2)
    expect(await count(fromPath, { 'event_data.message': /^explicit/ })).toBe(0)
  })

  it('the server: EVENT_DB_URL or a URL given in code names the database; EVENT_DATABASE_NAME wins', async () => {
    const env = { HOME: dir, MADSCI_SETTINGS_DIR: dir }
    const byEnv = createServer({ env: { ...env, EVENT_DB_URL: urlWithDatabase(fromPath) } })
    const byCode = createServer({ env, settings: { document_db_url: urlWithDatabase(fromPath) } })
    const named = createServer({ env: { ...env, EVENT_DB_URL: urlWithDatabase(fromPath), EVENT_DATABASE_NAME: explicit } })
    const both = createServer({ env, settings: { document_db_url: urlWithDatabase(fromPath), database_name: explicit } })
    try {
      expect(byEnv.settings.database_name).toBe(fromPath)
      expect(byCode.settings.database_name).toBe(fromPath)
      expect(named.settings.database_name).toBe(explicit)
      expect(both.settings.database_name).toBe(explicit)
      const { url } = await byEnv.listen(0, '127.0.0.1')
      const res = await fetch(`${url}/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event_type: 'log_info', event_data: { message: 'from the server' } }) })
      expect(res.status).toBe(200)
      await byEnv.flush()
      expect(await count(fromPath, { 'event_data.message': 'from the server' })).toBe(1)
    } finally {
      await Promise.all([byEnv, byCode, named, both].map((s) => s.close()))
    }
  })

  it('the CLI reads the database in --db-url or EVENT_DB_URL; --database and EVENT_DATABASE_NAME win', async () => {
    const viaFlag = await runCli(['export', '--db-url', urlWithDatabase(fromPath), '--format', 'ndjson'], { cwd: dir })
    expect(viaFlag.code, viaFlag.stderr).toBe(0)
    const messages = viaFlag.stdout.trim().split('\n').map((l) => JSON.parse(l).event_data.message as string)
    expect(messages.filter((m) => m.startsWith('from the library'))).toHaveLength(5)
    expect(messages).toContain('from the server')
    expect(viaFlag.stderr).toContain(`exported 6 events from ${fromPath}.events on `)

    const viaEnv = await runCli(['export', '--format', 'ndjson'], { cwd: dir, env: { EVENT_DB_URL: urlWithDatabase(fromPath) } })
    expect(viaEnv.stdout).toBe(viaFlag.stdout)

    for (const [args, env] of [
      [['--db-url', urlWithDatabase(fromPath), '--database', explicit], {}],
      [['--db-url', urlWithDatabase(fromPath)], { EVENT_DATABASE_NAME: explicit }],
      [[], { EVENT_DB_URL: urlWithDatabase(fromPath), EVENT_DATABASE_NAME: explicit }],
    ] as const) {
      const res = await runCli(['export', '--format', 'ndjson', ...args], { cwd: dir, env })
      expect(res.code, res.stderr).toBe(0)
      expect(res.stdout.trim().split('\n').map((l) => JSON.parse(l).event_data.message)).toEqual(['explicit option', 'explicit variable'])
    }
  })

  it('serve --db-url <url with a database> stores there and says so', async () => {
    const run = startCli(['serve', '--port', '0', '--db-url', urlWithDatabase(fromPath)], { cwd: dir })
    try {
      await run.printed('madsci-events server at ')
      await new Promise((r) => setTimeout(r, 50))
      expect(run.child.exitCode).toBe(null)
    } finally {
      run.child.kill('SIGTERM')
    }
    const r = await run.done
    expect(r.stdout).toContain(`(${fromPath}.events)`)
  })
})
