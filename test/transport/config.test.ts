import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { checkMix, cleanEnv, ensureBuilt, projectDir, readEventFiles, runApp, summaries } from './helpers.js'

/**
 * Configuration. With no options at all the transport configures itself from MADSci's
 * environment variables exactly as createEventLogger() does: EVENT_DB_URL → MongoDB, else
 * EVENT_SERVER_URL → the Event Manager, else the NDJSON file under the project's .madsci/.
 * Invalid options (or variables) fail at start: the program exits non-zero with the ConfigError
 * on the main thread, never hangs and never runs on with a dead worker.
 */
beforeAll(() => ensureBuilt())

const COUNT = 200
const LAB = '01JRB6Y0000000000000000007'
const mongoUrl = inject('mongoUrl')
const emUrl = inject('pythonEventManagerUrl')
const client = new MongoClient(mongoUrl)
const databases: string[] = []
afterAll(async () => {
  for (const d of databases) await client.db(d).dropDatabase().catch(() => undefined)
  await client.close()
})

/** The mix check, with the lab_id every event gets from EVENT_CLIENT_SOURCE__LAB_ID taken off first. */
function checkWithLab(events: Array<Record<string, unknown>>, run: string, pid: number) {
  const mine = events.filter((e) => (e.event_data as { run?: string } | null)?.run === run)
  expect(mine.every((e) => (e.source as { lab_id?: string }).lab_id === LAB)).toBe(true)
  const stripped = mine.map((e) => {
    const { lab_id, ...source } = e.source as Record<string, string>
    return { ...e, source }
  })
  return checkMix(stripped, COUNT, run, pid)
}

describe('no options: configured from MADSci environment variables', () => {
  it('EVENT_DB_URL (+ EVENT_DATABASE_NAME) → MongoDB, spooling under the project .madsci/ by default; it wins over EVENT_SERVER_URL', { timeout: 120_000 }, async () => {
    const dir = await projectDir()
    const database = `t_transport_env_${process.pid}`
    databases.push(database)
    const run = `env-db-${process.pid}`
    const env = cleanEnv({ EVENT_DB_URL: mongoUrl, EVENT_DATABASE_NAME: database, EVENT_SERVER_URL: emUrl, EVENT_CLIENT_SOURCE__LAB_ID: LAB })
    const r = await runApp({ count: COUNT, run }, { cwd: dir, env })
    expect(r.code).toBe(0)
    const events = (await client.db(database).collection('events').find({}).toArray()) as Array<Record<string, unknown>>
    const check = checkWithLab(events, run, r.pid)
    expect(check.mismatches).toEqual([])
    expect(check.distinct).toBe(COUNT)
    expect(events).toHaveLength(COUNT + 1)
    expect(summaries(events)).toHaveLength(1)
    expect(existsSync(join(dir, '.madsci', 'spool'))).toBe(true)
    // Nothing went to the Event Manager.
    const res = await fetch(`${emUrl.replace(/\/$/, '')}/events/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'event_data.run': run }) })
    expect(await res.json()).toEqual({})
  })

  it('EVENT_SERVER_URL → the Python Event Manager over HTTP', { timeout: 120_000 }, async () => {
    const dir = await projectDir()
    const run = `env-server-${process.pid}`
    const r = await runApp({ count: COUNT, run }, { cwd: dir, env: cleanEnv({ EVENT_SERVER_URL: emUrl, EVENT_CLIENT_SOURCE__LAB_ID: LAB }) })
    expect(r.code).toBe(0)
    const res = await fetch(`${emUrl.replace(/\/$/, '')}/events/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'event_data.run': run }) })
    const events = Object.values((await res.json()) as Record<string, Record<string, unknown>>)
    const check = checkWithLab(events, run, r.pid)
    expect(check.mismatches).toEqual([])
    expect(check.distinct).toBe(COUNT)
    expect(check.count).toBe(COUNT)
  })

  it('neither → the NDJSON file .madsci/events/events.ndjson of the project', { timeout: 120_000 }, async () => {
    const dir = await projectDir()
    const run = 'env-file'
    const r = await runApp({ count: COUNT, run }, { cwd: dir, env: cleanEnv({ EVENT_CLIENT_SOURCE__LAB_ID: LAB }) })
    expect(r.code).toBe(0)
    const events = readEventFiles(join(dir, '.madsci', 'events', 'events.ndjson'))
    const check = checkWithLab(events, run, r.pid)
    expect(check.mismatches).toEqual([])
    expect(check.count).toBe(COUNT)
    expect(events).toHaveLength(COUNT + 1)
    expect(existsSync(join(dir, '.madsci', 'spool'))).toBe(false)
  })
})

describe.concurrent('invalid configuration fails at start, on the main thread', () => {
  const cases: Array<{ name: string; options?: Record<string, unknown>; env?: Record<string, string>; option: string; says: RegExp; transport?: Record<string, unknown> }> = [
    { name: 'an unknown option', options: { mongoURL: 'mongodb://x' }, option: 'mongoURL', says: /unknown transport option; the options are mongodb, eventManager, file/ },
    { name: 'a MongoDB URL that is not one', options: { mongodb: 'http://localhost:27017' }, option: 'mongodb', says: /must be a MongoDB URL/ },
    { name: 'an Event Manager URL that is not http', options: { eventManager: 'ftp://em' }, option: 'eventManager', says: /is not an http\(s\) URL/ },
    { name: 'a level that does not exist', options: { minLevel: 'LOUD' }, option: 'minLevel', says: /"LOUD"; use 0, 10, 20, 30, 40, 50 or a level name/ },
    { name: 'an overflow policy that does not exist', options: { overflow: 'sometimes' }, option: 'overflow', says: /"sometimes"; use spool, drop-oldest, drop-newest or block/ },
    { name: 'a misspelt nested option', options: { queue: { maxEvent: 10 } }, option: 'queue.maxEvent', says: /unknown option; queue accepts \{ maxEvents, maxBytes \}/ },
    { name: 'a number given as text', options: { batch: { maxEvents: 'many' } }, option: 'batch.maxEvents', says: /"many" is not a number/ },
    { name: 'a close timeout past pino\'s exit window', options: { closeTimeoutMs: 20_000 }, option: 'closeTimeoutMs', says: /use a number of milliseconds from 0 to 9000/ },
    { name: 'ownership values that are not ULIDs', options: { source: { node_id: 'robot-1' } }, option: 'source', says: /node_id/ },
    { name: 'an event file that cannot be written', options: { file: '/etc/hostname/events.ndjson' }, option: 'file', says: /cannot write the event file \/etc\/hostname\/events\.ndjson/ },
    { name: 'EVENT_DB_URL that is not a MongoDB URL (no options)', env: { EVENT_DB_URL: 'postgres://db/events' }, option: 'EVENT_DB_URL', says: /is not a MongoDB URL/ },
    { name: 'EVENT_CLIENT_OVERFLOW that does not exist (no options)', env: { EVENT_CLIENT_OVERFLOW: 'sometimes' }, option: 'EVENT_CLIENT_OVERFLOW', says: /"sometimes"; use one of spool, drop-oldest/ },
    {
      name: 'a bad option of the transport in pino targets: [...] next to pino/file',
      transport: { targets: [{ target: 'pino/file', options: { destination: 1 } }, { target: 'madsci-events/transport', options: { overflow: 'never' } }] },
      option: 'overflow',
      says: /"never"; use spool, drop-oldest/,
    },
  ]
  for (const c of cases) {
    it(c.name, { timeout: 60_000 }, async () => {
      const dir = await projectDir()
      const r = await runApp({ options: c.options, transport: c.transport, count: 10, run: 'bad', then: 'wait' }, { cwd: dir, env: cleanEnv(c.env ?? {}) })
      // The main thread ends with the error: exit code 1, the ConfigError naming the option.
      expect(r.code).toBe(1)
      expect(r.stdout).not.toContain('READY\nREADY')
      const escaped = c.option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      expect(r.stderr).toMatch(new RegExp(`ConfigError: Invalid option \`${escaped}\`: `))
      expect(r.stderr).toMatch(c.says)
      // And the worker's own line, which a program exiting at once would still show.
      expect(r.stderr).toMatch(new RegExp(`madsci-events transport: cannot start: Invalid option \`${escaped}\``))
    })
  }

  it('a program that just returns gets the same error and exit code', { timeout: 60_000 }, async () => {
    const dir = await projectDir()
    const r = await runApp({ options: { overflow: 'sometimes' }, count: 10, run: 'bad', then: 'normal' }, { cwd: dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/ConfigError: Invalid option `overflow`/)
  })
})
