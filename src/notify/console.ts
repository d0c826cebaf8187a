import { ConfigError } from '../errors.js'
import type { PluginContext } from '../plugins.js'
import { alertPayload, alertSubject, alertText } from './format.js'
import { checkKeys } from './options.js'
import type { Alert, Notifier } from './types.js'

/**
 * Alerts on stderr, for development: the subject line and the body as the email has it (`text`),
 * or one JSON line per alert (`json`, the webhook's generic payload).
 */
export interface ConsoleNotifierOptions {
  format?: 'text' | 'json'
  /** Where to write (in-process only). Default `process.stderr`. */
  stream?: { write(chunk: string): unknown }
}

export class ConsoleNotifier implements Notifier {
  readonly name: string
  readonly format: 'text' | 'json'
  readonly #stream: { write(chunk: string): unknown }

  constructor(options: ConsoleNotifierOptions = {}, _context?: PluginContext, meta: { name?: string; option?: string } = {}) {
    const name = meta.name ?? 'console'
    const option = meta.option ?? name
    checkKeys(option, options as Record<string, unknown>, ['format', 'stream'])
    const format = options.format ?? 'text'
    if (format !== 'text' && format !== 'json') throw new ConfigError(`${option}.format`, `${JSON.stringify(format)} is not one of text, json`)
    if (options.stream !== undefined && typeof options.stream?.write !== 'function') throw new ConfigError(`${option}.stream`, 'must have a write(chunk) method')
    this.name = name
    this.format = format
    this.#stream = options.stream ?? process.stderr
  }

  async send(alert: Alert): Promise<void> {
    const out = this.format === 'json' ? JSON.stringify(alertPayload(alert)) + '\n' : `${alertSubject(alert)}\n${alertText(alert)}\n\n`
    this.#stream.write(out)
  }

  describe(): Record<string, unknown> {
    return { type: 'console', format: this.format }
  }
}
