import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'
import { Retention } from '../../adapters/server/retention.js'
import { loadSettings, type ServerSettings } from '../../adapters/server/index.js'
import { FileStore, MongoStore, parseEvent } from '../../src/index.js'
import type { ManagedStore } from '../../src/stores/types.js'
import { call, databaseName, dropDatabase, eventually, naiveDaysAgo, type StoreKind, startServer, STORE_KINDS, tempDir } from './helpers.js'

/**
 * Retention as MADSci's background task (SPEC §2.16, §12 items 20-23): archive events older than
 * soft_delete_after_days in batches (at most max_batches_per_run per pass), and, where the database
 * has no TTL index (FerretDB v1, the embedded store), purge archived events older than
 * hard_delete_after_days in the same periodic pass.
 */

async function withStore<T>(kind: StoreKind, fn: (store: ManagedStore) => Promise<T>): Promise<T> {
  const db = databaseName('retention')
  const store = kind === 'ferretdb' ? new MongoStore(inject('mongoUrl'), { database: db, onWarning: () => undefined }) : new FileStore(join(tempDir('retention'), 'events.ndjson'))
  await store.open()
  try {
    return await fn(store)
  } finally {
    await store.close()
    if (kind === 'ferretdb') await dropDatabase(db)
  }
}

function settings(overrides: Partial<ServerSettings>): ServerSettings {
  const home = tempDir('retention-settings')
  return loadSettings({ retention_enabled: true, ...overrides }, { HOME: home, MADSCI_SETTINGS_DIR: home })
}

const old = (n: number, days: number) => Array.from({ length: n }, (_, i) => parseEvent({ event_type: 'test', event_timestamp: naiveDaysAgo(days, Date.now() - i * 1000), event_data: { i } }))

describe.each(STORE_KINDS)('retention passes on the %s store', (kind) => {
  it('20: 3 events two days old are archived by a pass (soft_delete_after_days=1, archive_batch_size=10); a fresh one is not', async () => {
    await withStore(kind, async (store) => {
      const aged = old(3, 2)
      const fresh = parseEvent({ event_type: 'test' })
      await store.write([...aged, fresh])
      const errors: Error[] = []
      const r = new Retention(store, settings({ soft_delete_after_days: 1, archive_batch_size: 10 }), (e) => errors.push(e))
      expect(await r.runOnce()).toEqual({ archived: 3, purged: 0 })
      for (const e of aged) expect((await store.getEvent(e.event_id))?.archived).toBe(true)
      expect((await store.getEvent(fresh.event_id))?.archived).toBe(false)
      expect(errors).toEqual([])
      expect(r.lastRun).toMatchObject({ archived: 3, purged: 0 })
    })
  })

  it('21: archive_batch_size=2 and max_batches_per_run=2 archive 4 of 10 old events per pass: 4, then 8', async () => {
    await withStore(kind, async (store) => {
      await store.write(old(10, 5))
      const r = new Retention(store, settings({ soft_delete_after_days: 1, archive_batch_size: 2, max_batches_per_run: 2 }), () => undefined)
      expect((await r.runOnce()).archived).toBe(4)
      expect(await store.countEvents({ archived: true })).toBe(4)
      expect((await r.runOnce()).archived).toBe(4)
      expect(await store.countEvents({ archived: true })).toBe(8)
      expect((await r.runOnce()).archived).toBe(2)
    })
  })

  it('22: with only recent events a pass archives nothing', async () => {
    await withStore(kind, async (store) => {
      await store.write([parseEvent({}), parseEvent({ event_timestamp: naiveDaysAgo(0.5) })])
      const r = new Retention(store, settings({ soft_delete_after_days: 1 }), () => undefined)
      expect(await r.runOnce()).toEqual({ archived: 0, purged: 0 })
    })
  })

  it('without a TTL index, the same pass purges archived events older than hard_delete_after_days', async () => {
    await withStore(kind, async (store) => {
      const aged = old(2, 3)
      await store.write(aged)
      // A hard delete after ~0.9 s of being archived.
      const r = new Retention(store, settings({ soft_delete_after_days: 1, hard_delete_after_days: 0.00001 }), () => undefined)
      expect(await r.runOnce()).toEqual({ archived: 2, purged: 0 })
      await new Promise((resolve) => setTimeout(resolve, 1200))
      expect(await r.runOnce()).toEqual({ archived: 0, purged: 2 })
      expect(await store.getEvent(aged[0].event_id)).toBeNull()
    })
  })
})

describe.each(STORE_KINDS)('the retention loop of a running server on the %s store', (kind) => {
  it('runs a pass at startup and then every retention_check_interval_hours: old events are archived, then purged; fresh ones stay', async () => {
    // Events written before the retention server starts.
    const seed = await startServer(kind, 'retloop-seed', { keepDatabase: true })
    const aged = await call(seed.url, 'POST', '/events/batch', old(3, 2).map((e) => ({ ...e, archived: false })))
    expect(aged.status).toBe(200)
    const ids = aged.json<Array<{ event_id: string }>>().map((x) => x.event_id)
    const fresh = (await call(seed.url, 'POST', '/event', { event_type: 'test' })).json()._id
    await seed.server.close()
    const r = await startServer(kind, 'retloop', {
      database: seed.database,
      dir: seed.dir,
      // A pass every ~1.8 s; archived events are purged ~0.9 s after being archived.
      settings: { retention_enabled: true, soft_delete_after_days: 1, hard_delete_after_days: 0.00001, retention_check_interval_hours: 0.0005 },
    })
    try {
      // The startup pass archives (the same pass finds nothing old enough to purge yet).
      await eventually(async () => ((await call(r.url, 'GET', `/event/${ids[0]}`)).json().archived === true ? true : undefined))
      // A later pass purges them.
      await eventually(async () => ((await call(r.url, 'GET', `/event/${ids[2]}`)).status === 404 ? true : undefined))
      for (const id of ids) expect((await call(r.url, 'GET', `/event/${id}`)).status).toBe(404)
      const f = (await call(r.url, 'GET', `/event/${fresh}`)).json()
      expect(f.archived).toBe(false)
      if (kind === 'ferretdb') expect(r.warnings.map((w) => w.code)).toContain('MADSCI_WARN_NO_TTL')
      expect(r.errors).toEqual([])
    } finally {
      await r.close()
      rmSync(seed.dir, { recursive: true, force: true })
    }
  })
})

describe('retention errors', () => {
  it('a failing pass is reported and the loop goes on; with fail_on_retention_error the loop stops and the server keeps serving', async () => {
    for (const failOn of [false, true]) {
      const dir = tempDir('retfail')
      // A data file that is a directory: every pass fails inside the store.
      mkdirSync(join(dir, 'events-dir'))
      const r = await startServer('file', 'retfail', {
        dir,
        settings: { data_file: join(dir, 'events-dir'), retention_enabled: true, retention_check_interval_hours: 0.0001, fail_on_retention_error: failOn },
      })
      try {
        const retention = r.server.context.retention
        if (failOn) {
          await eventually(() => retention.stoppedBy)
          expect(r.errors.filter((e) => e.where === 'retention')).toHaveLength(1)
        } else {
          await eventually(() => (r.errors.filter((e) => e.where === 'retention').length >= 3 ? true : undefined))
          expect(retention.stoppedBy).toBeUndefined()
        }
        expect((await call(r.url, 'GET', '/health')).status).toBe(200)
      } finally {
        await r.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }
  })
})
