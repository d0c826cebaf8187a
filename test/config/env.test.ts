import { mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'
import { ConfigError, createEventLogger, resolveMadsciDir } from '../../src/index.js'

describe('configuration from MADSci environment variables', () => {
  it('EVENT_DB_URL (and its aliases) → MongoDB; EVENT_SERVER_URL → Event Manager; neither → the NDJSON file', async () => {
    const home = await mkdtemp(join(tmpdir(), 'madsci-home-'))
    const base = { HOME: home, MADSCI_SETTINGS_DIR: home }
    const mongo = createEventLogger({ env: { ...base, EVENT_DB_URL: inject('mongoUrl'), EVENT_CLIENT_SPOOL_DIR: join(home, 'sp') }, onWarning: () => {} })
    expect(mongo.stats().sinks.map((s) => s.sink)).toEqual(['mongodb'])
    expect(mongo.stats().sinks[0].target).toContain('madsci_events.events')
    await mongo.close()
    const alias = createEventLogger({ env: { ...base, MONGO_DB_URL: 'mongodb://127.0.0.1:1/', EVENT_DATABASE_NAME: 'x', EVENT_CLIENT_SPOOL_DIR: join(home, 'sp2') }, onWarning: () => {} })
    expect(alias.stats().sinks[0].target).toContain('x.events')
    await alias.close({ timeoutMs: 10 })
    const http = createEventLogger({ env: { ...base, EVENT_SERVER_URL: 'http://127.0.0.1:1/em', EVENT_CLIENT_SPOOL_DIR: join(home, 'sp3') }, onWarning: () => {} })
    expect(http.stats().sinks.map((s) => [s.sink, s.target])).toEqual([['http', 'http://127.0.0.1:1/em/']])
    await http.close({ timeoutMs: 10 })
    const file = createEventLogger({ env: base })
    expect(file.stats().sinks.map((s) => [s.sink, s.target])).toEqual([['file', join(home, '.madsci', 'events', 'events.ndjson')]])
    await file.close()
  })

  it('a generic DB_URL that is not MongoDB is ignored; an EVENT_DB_URL that is not is an error naming the variable', async () => {
    const home = await mkdtemp(join(tmpdir(), 'madsci-home-'))
    const logger = createEventLogger({ env: { HOME: home, MADSCI_SETTINGS_DIR: home, DB_URL: 'postgres://x/y' } })
    expect(logger.stats().sinks[0].sink).toBe('file')
    await logger.close()
    expect(() => createEventLogger({ env: { HOME: home, EVENT_DB_URL: 'postgres://x/y' } })).toThrow(/EVENT_DB_URL/)
  })

  it('level and source come from EVENT_CLIENT_LOG_LEVEL and EVENT_CLIENT_SOURCE__<FIELD>; options win', async () => {
    const home = await mkdtemp(join(tmpdir(), 'madsci-home-'))
    const env = { HOME: home, MADSCI_SETTINGS_DIR: home, EVENT_CLIENT_LOG_LEVEL: 'WARNING', EVENT_CLIENT_SOURCE__NODE_ID: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' }
    const a = createEventLogger({ env })
    expect(a.level).toBe(30)
    await a.close()
    const b = createEventLogger({ env, level: 'debug' })
    expect(b.level).toBe(10)
    await b.close()
    expect(() => createEventLogger({ env: { ...env, EVENT_CLIENT_SOURCE__NODE_ID: 'nope' } })).toThrow(/node_id/)
  })

  it('invalid options fail at construction, naming the option and the accepted values', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ level: 'loud' }, /`level`.*DEBUG/],
      [{ overflow: 'explode' }, /`overflow`.*drop-oldest/],
      [{ mongodb: 'http://not-mongo' }, /`mongodb`/],
      [{ eventManager: 'ftp://x' }, /`eventManager`/],
      [{ batch: { maxEvents: 0 } }, /`batch.maxEvents`/],
      [{ timestamps: 'martian' }, /`timestamps`/],
      [{ spool: { dir: '/tmp/x', fsync: 'sometimes' } }, /`spool.fsync`/],
    ]
    for (const [options, re] of cases) {
      let err: unknown
      try {
        createEventLogger({ env: {}, file: '/tmp/madsci-config-test.ndjson', ...options } as never)
      } catch (e) {
        err = e
      }
      expect(err, JSON.stringify(options)).toBeInstanceOf(ConfigError)
      expect((err as Error).message).toMatch(re)
    }
  })

  it('finds the project .madsci directory as MADSci does', async () => {
    const root = await mkdtemp(join(tmpdir(), 'madsci-project-'))
    await mkdir(join(root, '.madsci'))
    await mkdir(join(root, 'a', 'b'), { recursive: true })
    expect(resolveMadsciDir({ HOME: '/nonexistent' }, join(root, 'a', 'b'))).toBe(join(root, '.madsci'))
    const git = await mkdtemp(join(tmpdir(), 'madsci-git-'))
    await mkdir(join(git, '.git'))
    await mkdir(join(git, 'sub'))
    expect(resolveMadsciDir({ HOME: '/nonexistent' }, join(git, 'sub'))).toBe(join(git, '.madsci'))
  })
})
