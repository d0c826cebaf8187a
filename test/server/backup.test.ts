import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, inject, it } from 'vitest'
import { restoreBackup } from '../../adapters/server/index.js'
import { FileStore, MongoStore } from '../../src/index.js'
import { call, databaseName, dropDatabase, type Running, startServer, type StoreKind, STORE_KINDS, tempDir } from './helpers.js'

/**
 * Backups (SPEC §2.8-2.9, §12 items 29, 30, 41): `POST /backup` writes a restorable NDJSON dump in
 * MADSci's directory layout, `GET /backup/status` lists it, and `restoreBackup` / the CLI `restore`
 * load it into a fresh database (either store) giving back the same events, archived ones with their
 * archive time. Descriptions cannot make a backup escape the backup directory.
 */

const run = promisify(execFile)
const cli = join(process.cwd(), 'dist', 'cli.js')

/** Every event as the API shows it, including archived ones, keyed by id. */
async function everything(r: Running): Promise<Record<string, unknown>> {
  return (await call(r.url, 'POST', '/events/query', {})).json()
}

async function seed(r: Running): Promise<void> {
  const events = Array.from({ length: 30 }, (_, i) => ({
    event_id: `bk-${String(i).padStart(2, '0')}`,
    event_type: ['test', 'node_error', 'workflow_start'][i % 3],
    log_level: [10, 20, 30, 40, 50][i % 5],
    event_timestamp: `2026-02-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00.${String(i).padStart(6, '0')}`,
    source: i % 2 ? { node_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA' } : {},
    event_data: { i, 'dotted.key': i, nested: { $dollar: true, list: [1, 'two', null] }, text: 'ünïcødé ✓ "quoted"' },
  }))
  expect((await call(r.url, 'POST', '/events/batch', events)).status).toBe(200)
  // Some archived by the server (a Date in MongoDB), one posted already archived by a client (a string).
  expect((await call(r.url, 'POST', '/events/archive', { event_ids: ['bk-00', 'bk-01', 'bk-02'] })).json().archived_count).toBe(3)
  await call(r.url, 'POST', '/event', { event_id: 'bk-client-archived', archived: true, archived_at: '2026-01-01T00:00:00+01:00' })
}

describe.each(STORE_KINDS)('backup and restore from the %s store', (kind: StoreKind) => {
  it('29, 30, 41: POST /backup writes <database>_backup_<stamp>_<description>, listed by GET /backup/status', async () => {
    const r = await startServer(kind, 'backup', { env: { EVENT_DATABASE_NAME: 'madsci_events' }, settings: kind === 'ferretdb' ? { database_name: databaseName('backup') } : {} })
    try {
      await seed(r)
      const res = await call(r.url, 'POST', '/backup', { description: 'test_backup' })
      expect(res.status).toBe(200)
      const { backup_path, status } = res.json()
      expect(status).toBe('completed')
      const db = r.server.settings.database_name
      expect(basename(backup_path)).toMatch(new RegExp(`^${db}_backup_\\d{8}_\\d{6}_\\d{6}_test_backup$`))
      if (kind === 'file') expect(basename(backup_path)).toContain('madsci_events_backup_')
      expect(dirname(backup_path)).toBe(r.server.settings.backup_dir)
      const meta = JSON.parse(readFileSync(join(backup_path, 'backup_metadata.json'), 'utf8'))
      expect(meta).toMatchObject({ event_count: 31, format: 'ndjson', database_version: '1.0.0' })
      expect(Object.keys(meta)).toEqual(expect.arrayContaining(['timestamp', 'backup_size', 'checksum', 'database_version']))
      expect(readFileSync(join(backup_path, db, 'events.ndjson'), 'utf8').trim().split('\n')).toHaveLength(31)
      // Without a body: the manual_backup suffix.
      const manual = (await call(r.url, 'POST', '/backup')).json().backup_path
      expect(manual).toMatch(/_manual_backup$/)

      const st = await call(r.url, 'GET', '/backup/status')
      expect(st.status).toBe(200)
      const body = st.json()
      expect(body).toMatchObject({ backup_enabled: false, backup_dir: r.server.settings.backup_dir })
      expect(body.available_backups.map((b: { path: string }) => b.path)).toEqual([manual, backup_path])
      for (const b of body.available_backups) {
        expect(Object.keys(b)).toEqual(['path', 'created_at', 'size_bytes', 'is_valid'])
        expect(b.is_valid).toBe(true)
        expect(b.size_bytes).toBeGreaterThan(0)
      }
      // A damaged dump is listed as invalid.
      writeFileSync(join(manual, db, 'events.ndjson'), '{}\n', { flag: 'a' })
      expect((await call(r.url, 'GET', '/backup/status')).json().available_backups[0].is_valid).toBe(false)
    } finally {
      await r.close()
    }
  })

  it('restoreBackup into a fresh database of either store gives back the same events, archived ones still purgeable', async () => {
    const r = await startServer(kind, 'restore-src')
    try {
      await seed(r)
      const before = await everything(r)
      const path = (await call(r.url, 'POST', '/backup', { description: 'full' })).json().backup_path
      for (const target of STORE_KINDS) {
        const fresh = await startServer(target, 'restore-dst', { listen: false, keepDatabase: true, dir: tempDir('restore-dst') })
        const store = target === 'ferretdb' ? new MongoStore(inject('mongoUrl'), { database: fresh.database, onWarning: () => undefined }) : new FileStore(join(fresh.dir, 'events.ndjson'))
        expect(await restoreBackup(store, path)).toBe(31)
        // Idempotent: a second restore adds nothing.
        expect(await restoreBackup(store, path)).toBe(31)
        await store.close()
        await fresh.close()
        const check = await startServer(target, 'restore-check', { database: fresh.database, dir: fresh.dir })
        try {
          const after = await everything(check)
          expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort())
          for (const id of Object.keys(before)) expect([id, after[id]]).toEqual([id, before[id]])
          // Server-archived events keep a real archive time: purge finds them (the client-posted string one is
          // never compared with the purge time by MongoDB, as in MADSci).
          const purged = (await call(check.url, 'DELETE', '/events/archived?older_than_days=0')).json().deleted_count
          expect(purged).toBe(target === 'ferretdb' ? 3 : 4)
        } finally {
          await check.close()
        }
      }
    } finally {
      await r.close()
    }
  })

  it.runIf(existsSync(cli))('the CLI `restore` loads a backup into a fresh database or file', async () => {
    const r = await startServer(kind, 'cli-src')
    const database = databaseName('cli_restore')
    const dir = tempDir('cli-restore')
    try {
      await seed(r)
      const path = (await call(r.url, 'POST', '/backup')).json().backup_path
      const env = { PATH: process.env.PATH, HOME: dir, MADSCI_SETTINGS_DIR: dir }
      const toDb = await run(process.execPath, [cli, 'restore', path, '--db-url', inject('mongoUrl'), '--database', database], { env })
      expect(toDb.stdout).toBe(`restored 31 events from ${path}\n`)
      const file = join(dir, 'restored.ndjson')
      const toFile = await run(process.execPath, [cli, 'restore', path, '--file', file], { env })
      expect(toFile.stdout).toBe(`restored 31 events from ${path}\n`)
      const mongo = new MongoStore(inject('mongoUrl'), { database, onWarning: () => undefined })
      const fileStore = new FileStore(file)
      const expected = Object.keys(await everything(r)).sort()
      for (const store of [mongo, fileStore]) {
        const ids: string[] = []
        for await (const e of store.streamEvents({ includeArchived: true })) ids.push(e.event_id)
        expect(ids.sort()).toEqual(expected)
        await store.close()
      }
      // A directory that is not a backup is an error that says so.
      const bad = await run(process.execPath, [cli, 'restore', dir, '--file', file], { env }).catch((e: { code: number; stderr: string }) => e)
      expect((bad as { code: number }).code).toBe(1)
      expect((bad as { stderr: string }).stderr).toMatch(/is it a madsci-events backup/)
    } finally {
      await r.close()
      await dropDatabase(database)
    }
  })
})

describe('backup descriptions', () => {
  it('cannot make a backup escape the backup directory', async () => {
    const r = await startServer('file', 'backup-escape')
    try {
      await call(r.url, 'POST', '/event', { event_type: 'test' })
      const root = r.server.settings.backup_dir
      const around = readdirSync(r.dir).filter((n) => n !== 'backups').sort()
      for (const description of ['../../escaped', '/etc/passwd', '..', 'a/../../b', '..\\..\\win', '%2e%2e%2f', '\u0000x', 'ok name']) {
        const res = await call(r.url, 'POST', '/backup', { description })
        expect(res.status).toBe(200)
        const p = res.json().backup_path as string
        expect(dirname(p)).toBe(root)
        expect(basename(p)).toMatch(/^madsci_events_backup_\d{8}_\d{6}_\d{6}_[A-Za-z0-9_-]+$/)
      }
      // Nothing was written next to the backup directory or above it.
      expect(readdirSync(r.dir).filter((n) => n !== 'backups').sort()).toEqual(around)
      expect(readdirSync(root).every((n) => n.startsWith('madsci_events_backup_'))).toBe(true)
      expect(existsSync(join(r.dir, 'escaped'))).toBe(false)
    } finally {
      await r.close()
    }
  })

  it('only the newest backup_max_count backups are kept', async () => {
    const r = await startServer('file', 'backup-prune', { env: { EVENT_BACKUP_MAX_COUNT: '2' } })
    try {
      const paths: string[] = []
      for (let i = 0; i < 4; i++) paths.push((await call(r.url, 'POST', '/backup', { description: `n${i}` })).json().backup_path)
      const listed = (await call(r.url, 'GET', '/backup/status')).json().available_backups.map((b: { path: string }) => b.path)
      expect(listed).toEqual([paths[3], paths[2]])
      expect(existsSync(paths[0])).toBe(false)
    } finally {
      await r.close()
    }
  })
})
