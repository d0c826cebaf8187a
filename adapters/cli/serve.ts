import { resolve } from 'node:path'
import type { ServerSettings } from '../server/settings.js'
import { type Command, HELP_FLAG, UsageError } from './flags.js'

export const serve: Command = {
  summary: 'run the Event Manager API (MADSci\'s routes, live streams, export, metrics)',
  synopsis: 'serve [options]',
  description: `Serves MADSci's Event Manager API, plus live streaming, batch ingest, export and metrics, on
EVENT_SERVER_URL's host and port (default http://localhost:8001). Stores in MongoDB when a database
URL is given (--db-url or EVENT_DB_URL), otherwise in an NDJSON file: by default the file the
library writes with no configuration, so events logged there show up live. Every EVENT_* variable
of MADSci's Event Manager applies; the flags win over them. Stops cleanly on Ctrl-C or SIGTERM.`,
  flags: {
    port: { type: 'string', short: 'p', value: 'N', help: 'Port to listen on (default: EVENT_SERVER_URL\'s, else 8001; 0 picks a free one).' },
    host: { type: 'string', value: 'HOST', help: 'Address to listen on (default: EVENT_SERVER_URL\'s host; a non-loopback address needs EVENT_SERVER_TOKEN).' },
    'db-url': { type: 'string', value: 'URL', help: 'MongoDB URL, e.g. mongodb://localhost:27017/labdb (default: EVENT_DB_URL).' },
    database: { type: 'string', value: 'NAME', help: 'MongoDB database. Default: EVENT_DATABASE_NAME, else the database named in the URL path, else madsci_events.' },
    file: {
      type: 'string',
      value: 'PATH',
      help: 'The NDJSON event file when there is no database. Default: EVENT_DATA_FILE, else the library\'s default file (EVENT_CLIENT_FILE, else .madsci/events/events.ndjson).',
    },
    ...HELP_FLAG,
  },
  async run(values) {
    const port = values.port !== undefined ? Number(values.port) : undefined
    if (port !== undefined && !(/^\d+$/.test(values.port as string) && port < 65536)) throw new UsageError(`--port ${JSON.stringify(values.port)} is not a port number (0 to 65535)`)
    if (values.file !== undefined && values['db-url'] !== undefined) throw new UsageError('give one store: --db-url and --file were both given')
    const settings: Partial<ServerSettings> = {}
    if (values['db-url'] !== undefined) settings.document_db_url = values['db-url'] as string
    if (values.database !== undefined) settings.database_name = values.database as string
    if (values.file !== undefined) settings.data_file = resolve(values.file as string)
    const { createServer } = await import('../server/server.js')
    const server = createServer({ settings })
    if (values.database !== undefined && !server.settings.document_db_url) {
      await server.close()
      throw new UsageError('--database is for MongoDB: give --db-url (or set EVENT_DB_URL)')
    }
    let url: string
    try {
      ;({ url } = await server.listen(port, values.host as string | undefined))
    } catch (err) {
      await server.close()
      const e = err as NodeJS.ErrnoException & { address?: string; port?: number }
      if (e.code === 'EADDRINUSE') {
        const other = e.port !== undefined && e.port < 65535 ? e.port + 1 : 8002
        throw new Error(`${e.address ?? 'the address'}:${e.port ?? port} is already in use (another madsci-events serve or Event Manager?). Stop it, or choose another port with --port (e.g. --port ${other}) or EVENT_SERVER_URL`)
      }
      if (e.code === 'EACCES') throw new Error(`not allowed to listen on ${e.address ?? ''}:${e.port ?? port} (ports below 1024 need privileges); choose another with --port`)
      if (e.code === 'EADDRNOTAVAIL') throw new Error(`${e.address ?? values.host} is not an address of this machine; use --host 127.0.0.1 (or 0.0.0.0 for every interface, with EVENT_SERVER_TOKEN)`)
      throw err
    }
    process.stdout.write(`madsci-events server at ${url} — storing in ${server.describe()}; live viewer at ${url}/, API docs at ${url}/docs\n`)
    const { handleShutdown } = await import('../../src/pipeline/shutdown.js')
    handleShutdown(server)
    return undefined
  },
}
