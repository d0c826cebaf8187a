import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createBackup } from '../../adapters/server/backup.js'
import { call, startServer, STORE_KINDS } from './helpers.js'

/**
 * Concurrent backups (issue 21, item 6). 40 concurrent `POST /backup` produced 5 distinct dump
 * directories and told up to 15 requests the same path: each directory written by several
 * requests at once. Now a server runs one backup at a time and answers the others 409 (a clear
 * refusal); backups made at the same moment anyway (two servers on one backup directory) each get
 * their own directory.
 */

describe.each(STORE_KINDS)('concurrent backups (%s store)', (kind) => {
  it('40 concurrent POST /backup: each answer is its own complete backup (200) or a clear 409; no path is given twice', async () => {
    const r = await startServer(kind, 'backup-concurrency', { settings: { backup_max_count: 100 } })
    try {
      expect((await call(r.url, 'POST', '/events/batch', Array.from({ length: 300 }, (_, i) => ({ event_type: 'test', event_data: { i } })))).status).toBe(200)
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => call(r.url, 'POST', '/backup', { description: `concurrent ${i % 3}` })))
      const done = answers.filter((a) => a.status === 200).map((a) => a.json().backup_path as string)
      const refused = answers.filter((a) => a.status === 409)
      expect(done.length + refused.length).toBe(40)
      expect(done.length).toBeGreaterThanOrEqual(1)
      for (const a of refused) expect(a.json().detail).toMatch(/^A backup is already running \(since .+\); try again when it has finished$/)
      expect(new Set(done).size).toBe(done.length)
      // Every directory in the backup dir is one of the answered paths, complete and valid.
      const dirs = readdirSync(r.server.settings.backup_dir).map((n) => join(r.server.settings.backup_dir, n))
      expect(dirs.sort()).toEqual([...done].sort())
      const status = (await call(r.url, 'GET', '/backup/status')).json()
      expect(status.available_backups).toHaveLength(done.length)
      for (const b of status.available_backups) expect(b.is_valid).toBe(true)
      for (const d of done) expect(JSON.parse(readFileSync(join(d, 'backup_metadata.json'), 'utf8')).event_count).toBe(300)
      // Once they have finished, the next one is made.
      expect((await call(r.url, 'POST', '/backup')).status).toBe(200)
    } finally {
      await r.close()
    }
  })

  it('backups made at the same moment anyway (two servers, one backup directory) each get their own directory', async () => {
    const r = await startServer(kind, 'backup-same-moment', { listen: false })
    try {
      await r.server.store.open()
      const paths = await Promise.all(
        Array.from({ length: 12 }, () => createBackup(r.server.store, { backupDir: r.server.settings.backup_dir, database: r.server.settings.database_name, description: 'same', maxCount: 100 })),
      )
      expect(new Set(paths).size).toBe(12)
      expect(readdirSync(r.server.settings.backup_dir)).toHaveLength(12)
      for (const p of paths) expect(JSON.parse(readFileSync(join(p, 'backup_metadata.json'), 'utf8')).event_count).toBe(0)
      // A database name that is not one plain directory name is refused, inside or out.
      for (const database of ['..', '../x', 'a/b']) {
        await expect(createBackup(r.server.store, { backupDir: r.server.settings.backup_dir, database, maxCount: 100 })).rejects.toThrow(/outside the allowed directory/)
      }
      expect(readdirSync(r.server.settings.backup_dir)).toHaveLength(12)
    } finally {
      await r.close()
    }
  })
})
