import { parseArgs } from 'node:util'
import { commands } from './commands.js'

/**
 * `madsci-events <command>`: thin wrappers over the library.
 *   serve     run the Event Manager API (MADSci's routes and ours)
 *   tail      follow events live from a server (SSE; polls a Python Event Manager)
 *   export    write stored events as CSV or NDJSON
 *   report    utilization reports as JSON, CSV or SVG
 *   backup    dump a store to a backup directory
 *   restore   load a backup into a store
 */
const USAGE = `Usage: madsci-events <command> [options]

Commands:
  serve     [--port 8001] [--host 127.0.0.1] [--db-url mongodb://...]
  tail      [--url http://localhost:8001] [--min-level WARNING] [--type node_error,...] [--json]
  export    [--from ISO] [--to ISO] [--format csv|ndjson] [--output FILE] [--db-url URL | --file PATH | --url URL]
  report    sessions|periods|users [--from ISO] [--to ISO] [--type daily] [--timezone ZONE] [--format json|csv|svg]
  backup    [--db-url URL | --file PATH] [--dir DIR] [--description TEXT]
  restore   <backup-dir> [--db-url URL | --file PATH]

Configuration comes from MADSci's environment variables (EVENT_SERVER_URL, EVENT_DB_URL, ...);
flags win. Run \`madsci-events <command> --help\` for a command's details.`

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return name ? 0 : 2
  }
  if (name === '--version' || name === '-v') {
    const { VERSION } = await import('../server/version.js')
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  const command = commands[name]
  if (!command) {
    process.stderr.write(`madsci-events: unknown command ${JSON.stringify(name)}\n\n${USAGE}\n`)
    return 2
  }
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true })
  } catch (err) {
    process.stderr.write(`madsci-events ${name}: ${(err as Error).message}\n${command.usage}\n`)
    return 2
  }
  if ((parsed.values as Record<string, unknown>).help) {
    process.stdout.write(`${command.usage}\n`)
    return 0
  }
  return command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals)
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code
  },
  (err: Error) => {
    process.stderr.write(`madsci-events: ${err.message}\n`)
    process.exitCode = 1
  },
)
