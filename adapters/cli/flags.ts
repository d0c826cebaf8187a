import { parseArgs } from 'node:util'

/**
 * Commands and their flags, described once: the parser, the `--help` text and the checks of
 * values all read the same table, so a flag cannot exist without being documented, and a value
 * outside `choices` is refused with the accepted ones listed.
 */

export interface Flag {
  type: 'string' | 'boolean'
  short?: string
  /** The value's placeholder in the help (`--from ISO`). */
  value?: string
  /** What it does, one or two sentences (default and environment variable included). */
  help: string
  /** The only accepted values. */
  choices?: readonly string[]
}

export type Flags = Record<string, Flag>
export type Values = Record<string, string | boolean | undefined>

export interface Command {
  /** One line for `madsci-events --help`. */
  summary: string
  /** After `madsci-events `: `export [options]`, `restore <backup-dir> [options]`. */
  synopsis: string
  /** Paragraphs after the synopsis. */
  description: string
  flags: Flags
  /** Exit code; `undefined` keeps the process running (serve, tail). */
  run(values: Values, positionals: string[]): Promise<number | undefined>
}

/** A mistake in the command line: exit code 2, the message and a pointer to `--help`. */
export class UsageError extends Error {
  override name = 'UsageError'
}

export const HELP_FLAG: Flags = { help: { type: 'boolean', short: 'h', help: 'Show this help.' } }

/** Words of `text` in lines that fit `width` columns after `indent`. */
function wrap(text: string, indent: number, width = 100): string[] {
  const lines: string[] = []
  let line = ''
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (line && indent + line.length + 1 + w.length > width) {
      lines.push(line)
      line = w
    } else line = line ? `${line} ${w}` : w
  }
  if (line) lines.push(line)
  return lines
}

/** `  -o, --output FILE   text…` lines, the texts aligned in one column. */
function flagLines(flags: Flags): string[] {
  const entries = Object.entries(flags)
  const heads = entries.map(([name, f]) => `  ${f.short ? `-${f.short}, ` : '    '}--${name}${f.value ? ` ${f.value}` : ''}`)
  const col = Math.min(34, Math.max(...heads.map((h) => h.length)) + 2)
  const out: string[] = []
  entries.forEach(([, f], i) => {
    const text = f.choices ? `${f.help} One of: ${f.choices.join(', ')}.` : f.help
    const body = wrap(text, col)
    const pad = ' '.repeat(col)
    if (heads[i].length + 2 > col) out.push(heads[i], ...body.map((l) => pad + l))
    else out.push(heads[i].padEnd(col) + body[0], ...body.slice(1).map((l) => pad + l))
  })
  return out
}

export function helpText(name: string, command: Command): string {
  return `Usage: madsci-events ${command.synopsis}\n\n${command.description.trim()}\n\nOptions:\n${flagLines(command.flags).join('\n')}\n`
}

/** Parse a command line against the command's flags; bad flags and values throw `UsageError`. */
export function parseCommandLine(command: Command, args: string[]): { values: Values; positionals: string[] } {
  const options = Object.fromEntries(Object.entries(command.flags).map(([k, f]) => [k, { type: f.type, ...(f.short ? { short: f.short } : {}) }]))
  let parsed
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (err) {
    // node's messages end with advice about '--' that does not apply here; keep the first sentence.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, '.'))
  }
  const values = parsed.values as Values
  for (const [name, f] of Object.entries(command.flags)) {
    const v = values[name]
    if (typeof v === 'string' && f.choices && !f.choices.includes(v)) throw new UsageError(`--${name} ${JSON.stringify(v)} is not accepted; use one of: ${f.choices.join(', ')}`)
    if (typeof v === 'string' && v === '' && f.type === 'string') throw new UsageError(`--${name} needs a value`)
  }
  return { values, positionals: parsed.positionals }
}
