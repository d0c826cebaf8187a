import { readdirSync, realpathSync, statSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { envMongoUrl, envValue, redactUrl } from '../../src/config/env.js'
import { StoreUnavailableError } from '../../src/errors.js'
import type { ManagedStore, Reader, Sink } from '../../src/stores/types.js'
import { type Flags, UsageError, type Values } from './flags.js'

/**
 * The store a command works on: `--db-url` (MongoDB), `--file` (an NDJSON event file) or, for
 * reading, `--url` (an Event Manager over HTTP); without them EVENT_DB_URL (and its aliases),
 * else the default event file (the one the library writes and `serve` uses). A read opens MongoDB
 * read-only (nothing is created) and fails, instead of reading nothing, when the file or the
 * collection does not exist. The stores' modules (the MongoDB driver, undici) load only when used,
 * so `--help` and mistakes are answered at once.
 */

export const STORE_FLAGS: Flags = {
  'db-url': { type: 'string', value: 'URL', help: 'MongoDB URL, e.g. mongodb://localhost:27017/labdb (default: EVENT_DB_URL).' },
  database: {
    type: 'string',
    value: 'NAME',
    help: 'MongoDB database. Default: EVENT_DATABASE_NAME, else the database named in the URL path, else madsci_events.',
  },
  file: {
    type: 'string',
    value: 'PATH',
    help: 'NDJSON event file, as the library and the embedded server store write it (rotated PATH.1, PATH.2, ... included). Default without --db-url or EVENT_DB_URL: EVENT_DATA_FILE, else the library\'s default file (EVENT_CLIENT_FILE, else .madsci/events/events.ndjson).',
  },
}

export const HTTP_READ_FLAGS: Flags = {
  url: { type: 'string', value: 'URL', help: 'Read from an Event Manager over HTTP instead (madsci-events serve or MADSci\'s), e.g. http://localhost:8001.' },
  token: { type: 'string', value: 'TOKEN', help: 'Bearer token for --url (default: EVENT_SERVER_TOKEN).' },
}

export interface OpenedStore {
  store: ManagedStore | (Sink & Reader & { close(): Promise<void> })
  /** Where, for messages (no secrets). */
  where: string
  /** The event file (a file store), its links resolved: an output must not replace it. */
  file?: string
}

/** Does the file store at `path` hold anything to read (the file or a rotated one)? */
function fileStoreExists(path: string): boolean {
  try {
    const st = statSync(path)
    if (st.isDirectory()) throw new UsageError(`${path} is a directory; --file names the event file (e.g. ${resolve(path, 'events.ndjson')})`)
    return true
  } catch (err) {
    if (err instanceof UsageError) throw err
  }
  try {
    return readdirSync(dirname(path)).some((n) => n.startsWith(`${basename(path)}.`) && /^\d+$/.test(n.slice(basename(path).length + 1)))
  } catch {
    return false
  }
}

/** The store named by the flags (or the environment). `read`: opened read-only, and it must exist. */
export async function openStore(values: Values, mode: 'read' | 'write'): Promise<OpenedStore> {
  const given = ['url', 'db-url', 'file'].filter((k) => values[k] !== undefined)
  if (given.length > 1) throw new UsageError(`give one store: ${given.map((k) => `--${k}`).join(' and ')} were both given`)
  if (values.token !== undefined && values.url === undefined) throw new UsageError('--token is for --url (an Event Manager); MongoDB and files take no token')
  if (values.url !== undefined) {
    if (values.database !== undefined) throw new UsageError('--database is for MongoDB (--db-url or EVENT_DB_URL), not --url')
    const url = values.url as string
    try {
      const u = new URL(url)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme')
    } catch {
      throw new UsageError(`--url ${JSON.stringify(url)} is not an http(s) URL such as http://localhost:8001`)
    }
    const { HttpStore } = await import('../../src/stores/http.js')
    const store = new HttpStore(url, { token: (values.token as string | undefined) ?? envValue(process.env, 'EVENT_SERVER_TOKEN'), onWarning: () => {} })
    return { store, where: redactUrl(url) }
  }
  const { loadSettings } = await import('../server/settings.js')
  const settings = loadSettings()
  const dbUrl = (values['db-url'] as string | undefined) ?? (values.file === undefined ? envMongoUrl(process.env)?.url : undefined)
  if (dbUrl !== undefined) {
    if (!/^mongodb(\+srv)?:\/\//i.test(dbUrl)) throw new UsageError(`--db-url ${JSON.stringify(redactUrl(dbUrl))} is not a MongoDB URL such as mongodb://localhost:27017/labdb`)
    const { MongoStore } = await import('../../src/stores/mongo.js')
    const store = new MongoStore(dbUrl, {
      database: (values.database as string | undefined) ?? envValue(process.env, 'EVENT_DATABASE_NAME'),
      collection: settings.collection_name,
      readOnly: mode === 'read',
      onWarning: () => {},
    })
    const where = `${store.databaseName}.${store.collectionName} on ${redactUrl(dbUrl)}`
    if (mode === 'read') {
      let found: unknown[] | undefined
      try {
        found = await store.client.db(store.databaseName).listCollections({ name: store.collectionName }, { nameOnly: true }).toArray()
      } catch (err) {
        // A server's refusal (a user allowed to read the collection but not to list it): read anyway.
        if ((err as Error).name !== 'MongoServerError') {
          await store.close({ force: true }).catch(() => undefined)
          throw new StoreUnavailableError('MongoDB', `cannot read ${where}: ${(err as Error).message}`, { cause: err })
        }
      }
      if (found?.length === 0) {
        await store.close()
        throw new Error(
          `nothing is stored in ${where} (no such collection). The database is --database, else EVENT_DATABASE_NAME, else the one named in the URL path, else madsci_events`,
        )
      }
    }
    return { store, where }
  }
  if (values.database !== undefined) throw new UsageError('--database is for MongoDB: give --db-url (or set EVENT_DB_URL)')
  const path = resolve((values.file as string | undefined) ?? settings.data_file)
  if (mode === 'read' && !fileStoreExists(path)) {
    throw new Error(
      values.file !== undefined
        ? `no event file at ${path}`
        : `no event file at ${path} (the default store: EVENT_DATA_FILE, else EVENT_CLIENT_FILE, else .madsci/events/events.ndjson); give --file, --db-url or --url`,
    )
  }
  const { FileStore } = await import('../../src/stores/file.js')
  let file = path
  try {
    file = realpathSync(path)
  } catch {
    /* only rotated files, or not there yet (restore) */
  }
  return { store: new FileStore(path, { maxFiles: 0 }), where: path, file }
}
