import { commands } from './commands.js'
import { helpText, parseCommandLine, UsageError } from './flags.js'

/**
 * `madsci-events <command>`: thin wrappers over the library. Exit codes: 0 done, 1 failed (store
 * unreachable, nothing to read, a write failed), 2 a mistake in the command line (the message says
 * which; `--help` lists every flag).
 */
function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 2
  const list = Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`)
    .join('\n')
  return `Usage: madsci-events <command> [options]

Commands:
${list}

Configuration comes from MADSci's environment variables (EVENT_SERVER_URL, EVENT_DB_URL,
EVENT_DATABASE_NAME, ...); flags win. Without a database the commands use the event file the library
writes with no configuration: .madsci/events/events.ndjson in the nearest directory up from the
working directory that has a .madsci/ folder (else in the git repository's root), else
~/.madsci/events/events.ndjson.

Run \`madsci-events <command> --help\` for a command's flags. --version prints the version.`
}

async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    ;(name ? process.stdout : process.stderr).write(`${usage()}\n`)
    return name ? 0 : 2
  }
  if (name === '--version' || name === '-v') {
    const { VERSION } = await import('../server/version.js')
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  const command = Object.prototype.hasOwnProperty.call(commands, name) ? commands[name] : undefined
  if (!command) {
    process.stderr.write(`madsci-events: unknown command ${JSON.stringify(name)}\n\n${usage()}\n`)
    return 2
  }
  try {
    const { values, positionals } = parseCommandLine(command, rest)
    if (values.help) {
      process.stdout.write(helpText(name, command))
      return 0
    }
    return await command.run(values, positionals)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`madsci-events ${name}: ${err.message}\nRun \`madsci-events ${name} --help\` for the flags.\n`)
      return 2
    }
    throw err
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code
  },
  (err: NodeJS.ErrnoException) => {
    // The reader of stdout went away (`export | head`): what it wanted was written; end quietly.
    if (err.code === 'EPIPE') return
    const name = process.argv[2]
    process.stderr.write(`madsci-events${name && !name.startsWith('-') ? ` ${name}` : ''}: ${err.message}\n`)
    process.exitCode = 1
  },
)
