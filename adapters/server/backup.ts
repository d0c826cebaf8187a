import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { once } from 'node:events'
import { fileInDirectory } from '../../src/export/save.js'
import type { Event } from '../../src/event/model.js'
import { eventToJson } from '../../src/event/serialize.js'
import { parseEvent } from '../../src/event/validate.js'
import { MADSCI_SCHEMA_VERSION, MongoStore } from '../../src/stores/mongo.js'
import type { ManagedStore } from '../../src/stores/types.js'

/**
 * Backups as MADSci lays them out (SPEC §2.8), with an NDJSON dump instead of `mongodump` (which
 * is not installed on most machines and does not work for the embedded store):
 *
 *   <backup_dir>/<database>_backup_<YYYYMMDD_HHMMSS_ffffff>_<description>/
 *     <database>/events.ndjson     one event per line, client form (`event_id`), archived ones included
 *     backup_metadata.json         { timestamp, backup_size, checksum (sha256 of the dump), database_version, event_count, format }
 *
 * `restore` reads it back into any store, idempotently (existing ids are left as they are). Into
 * MongoDB, an `archived_at` in the form archiving writes (naive UTC, milliseconds: `…T12:00:00.123000`)
 * becomes a BSON Date again, so restored archived events are purged and TTL-expired as before.
 */

export interface BackupInfo {
  path: string
  created_at: string
  size_bytes: number
  is_valid: boolean
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0')
}

/** Descriptions become part of a directory name: keep letters, digits, `-` and `_`. */
export function safeSuffix(description: string | null | undefined): string {
  const s = (description ?? 'manual_backup').replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64)
  return s || 'manual_backup'
}

/**
 * A new directory of its own for a backup: `<database>_backup_<stamp>_<description>` made with an
 * exclusive mkdir, the microseconds counting up past a name that exists. Concurrent backups took
 * the same millisecond's name: 40 at once made 5 directories, each written by several requests.
 */
async function newBackupDir(root: string, database: string, description: string | null | undefined, now: Date): Promise<string> {
  await mkdir(root, { recursive: true })
  const day = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}_${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`
  for (let n = 0; ; n++) {
    const dir = fileInDirectory(root, `${database}_backup_${day}_${pad(now.getUTCMilliseconds() * 1000 + n, 6)}_${safeSuffix(description)}`)
    try {
      await mkdir(dir)
      return dir
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 999) throw err
    }
  }
}

export async function createBackup(store: ManagedStore, options: { backupDir: string; database: string; description?: string | null; maxCount: number }): Promise<string> {
  const now = new Date()
  const root = resolve(options.backupDir)
  const dir = await newBackupDir(root, options.database, options.description, now)
  try {
    await dump(store, dir, options.database, now)
  } catch (err) {
    // No half-written backup is left to be listed (or restored).
    await rm(dir, { recursive: true, force: true }).catch(() => undefined)
    throw err
  }
  await pruneBackups(root, options.database, options.maxCount)
  return dir
}

async function dump(store: ManagedStore, dir: string, database: string, now: Date): Promise<void> {
  // The database name is a setting; it still names one directory, inside the backup.
  await mkdir(fileInDirectory(dir, database))
  const file = join(dir, database, 'events.ndjson')
  const out = createWriteStream(file)
  const hash = createHash('sha256')
  let count = 0
  let bytes = 0
  try {
    for await (const e of store.streamEvents({ orderBy: 'event_id', includeArchived: true })) {
      const line = eventToJson(e) + '\n'
      hash.update(line)
      bytes += Buffer.byteLength(line)
      count++
      if (!out.write(line)) await once(out, 'drain')
    }
    out.end()
    await once(out, 'finish')
  } catch (err) {
    out.destroy()
    throw err
  }
  await writeFile(
    join(dir, 'backup_metadata.json'),
    JSON.stringify({ timestamp: now.toISOString(), backup_size: bytes, checksum: hash.digest('hex'), database_version: MADSCI_SCHEMA_VERSION, event_count: count, format: 'ndjson' }, null, 2),
  )
}

async function pruneBackups(root: string, database: string, keep: number): Promise<void> {
  const list = await listBackups(root, database)
  for (const b of list.slice(keep)) await rm(b.path, { recursive: true, force: true })
}

/** Backups in a directory, newest first; `is_valid` checks the dump against its checksum. */
export async function listBackups(root: string, database: string): Promise<BackupInfo[]> {
  if (!existsSync(root)) return []
  const out: BackupInfo[] = []
  // Real directories only: a symbolic link planted in the backup dir would make the server read
  // (checksum, list) and prune whatever it points to outside.
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const dir = join(root, entry.name)
    const metaPath = join(dir, 'backup_metadata.json')
    const dump = join(dir, database, 'events.ndjson')
    if (!existsSync(metaPath) || !existsSync(join(dir, database))) continue
    try {
      const meta = JSON.parse(await readFile(metaPath, 'utf8'))
      let valid = false
      if (existsSync(dump)) {
        const hash = createHash('sha256')
        for await (const chunk of createReadStream(dump)) hash.update(chunk as Buffer)
        valid = hash.digest('hex') === meta.checksum
      }
      out.push({ path: dir, created_at: meta.timestamp, size_bytes: (await stat(dump).catch(() => ({ size: 0 }))).size, is_valid: valid })
    } catch {
      /* unreadable metadata: not a backup */
    }
  }
  return out.sort((a, b) => (a.created_at < b.created_at ? 1 : -1))
}

/** Restore a backup directory (or its events.ndjson) into a store. Returns the events written. */
export async function restoreBackup(store: ManagedStore, path: string, options: { batchSize?: number; onProgress?: (n: number) => void } = {}): Promise<number> {
  let file = resolve(path)
  if ((await stat(file)).isDirectory()) {
    const entries = await readdir(file, { withFileTypes: true })
    const sub = entries.find((e) => e.isDirectory() && existsSync(join(file, e.name, 'events.ndjson')))
    if (!sub) throw new Error(`${path} holds no <database>/events.ndjson; is it a madsci-events backup?`)
    file = join(file, sub.name, 'events.ndjson')
  }
  await store.open()
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })
  let batch: Event[] = []
  let total = 0
  const flush = async (): Promise<void> => {
    if (!batch.length) return
    const r = await store.write(batch)
    if (r.rejected.length) throw new Error(`The store refused ${r.rejected.length} event(s) while restoring: ${r.rejected[0].error.message}`)
    if (store instanceof MongoStore) await restoreArchiveDates(store, batch)
    total += batch.length
    options.onProgress?.(total)
    batch = []
  }
  for await (const line of rl) {
    if (!line.trim()) continue
    batch.push(parseEvent(JSON.parse(line)))
    if (batch.length >= (options.batchSize ?? 1000)) await flush()
  }
  await flush()
  return total
}

/** The form `archived_at` takes when archiving set it (a BSON Date read back by the store). */
const ARCHIVE_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}000$/

/** Give restored archive times their BSON Date type back (purge and TTL compare Dates only). */
async function restoreArchiveDates(store: MongoStore, batch: Event[]): Promise<void> {
  const ops = batch
    .filter((e) => e.archived && typeof e.archived_at === 'string' && ARCHIVE_DATE.test(e.archived_at))
    .map((e) => ({ updateOne: { filter: { _id: e.event_id, archived_at: e.archived_at }, update: { $set: { archived_at: new Date(`${(e.archived_at as string).slice(0, 23)}Z`) } } } }))
  if (!ops.length) return
  await store.client.db(store.databaseName).collection(store.collectionName).bulkWrite(ops as never, { ordered: false })
}
