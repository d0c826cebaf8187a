import { envValue } from '../../src/config/env.js'
import { LEVEL_NAMES } from '../../src/event/levels.js'
import type { Event } from '../../src/event/model.js'
import { parseEvent } from '../../src/event/validate.js'
import { type Command, HELP_FLAG, UsageError } from './flags.js'
import { minLevelFlag, parseMinLevel } from './levels.js'

function formatLine(e: Event): string {
  const name = LEVEL_NAMES[e.log_level] ?? String(e.log_level)
  const color = e.log_level >= 40 ? '\x1b[31m' : e.log_level >= 30 ? '\x1b[33m' : e.log_level >= 20 ? '\x1b[36m' : '\x1b[90m'
  const tty = process.stdout.isTTY
  const data = e.event_data as Record<string, unknown> | string
  const message = typeof data === 'object' && data && 'message' in data ? String(data.message) : JSON.stringify(data)
  const source = Object.entries(e.source)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
  const level = tty ? `${color}${name.padEnd(8)}\x1b[0m` : name.padEnd(8)
  return `${e.event_timestamp} ${level} ${e.alert ? '[ALERT] ' : ''}${e.event_type} ${message}${source ? `  (${source})` : ''}`
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export const tail: Command = {
  summary: 'follow events live from a server (SSE; polls a Python Event Manager)',
  synopsis: 'tail [options]',
  description: `Prints events as they arrive, one line each (or JSON with --json), until interrupted. Uses the
live stream of a madsci-events server and polls GET /events on a Python Event Manager. Reconnects
after a lost connection, resuming after the last event printed.`,
  flags: {
    url: { type: 'string', value: 'URL', help: 'The server. Default: EVENT_SERVER_URL, else http://localhost:8001.' },
    token: { type: 'string', value: 'TOKEN', help: 'Bearer token (default: EVENT_SERVER_TOKEN).' },
    'min-level': minLevelFlag,
    type: { type: 'string', value: 'T1,T2', help: 'Only these event types (comma-separated), e.g. log_error,node_error.' },
    json: { type: 'boolean', help: 'Print each event as one line of JSON.' },
    ...HELP_FLAG,
  },
  async run(values) {
    const raw = (values.url as string | undefined) ?? envValue(process.env, 'EVENT_SERVER_URL') ?? 'http://localhost:8001'
    let base: URL
    try {
      base = new URL(raw.replace(/\/?$/, '/'))
      if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('scheme')
    } catch {
      throw new UsageError(`--url ${JSON.stringify(raw)} is not an http(s) URL such as http://localhost:8001`)
    }
    const minLevel = parseMinLevel(values['min-level'])
    const types = (values.type as string | undefined)?.split(',').map((t) => t.trim()).filter(Boolean)
    const token = (values.token as string | undefined) ?? envValue(process.env, 'EVENT_SERVER_TOKEN')
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
    const print = (e: Event): void => {
      process.stdout.write((values.json ? JSON.stringify(e) : formatLine(e)) + '\n')
    }
    let health: Response
    try {
      health = await fetch(new URL('health', base), { headers })
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      throw new Error(`cannot reach ${base.href} (${cause?.code ?? cause?.message ?? (err as Error).message}); is the server running? Give its address with --url or EVENT_SERVER_URL`)
    }
    if (health.status === 401 || health.status === 403) throw new Error(`${base.href} refused the token (HTTP ${health.status}); give one with --token or EVENT_SERVER_TOKEN`)
    process.stderr.write(`following ${base.href} (Ctrl-C to stop)\n`)
    if ((health.headers.get('x-madsci-events') ?? '').includes('stream')) {
      const q = new URLSearchParams({ min_level: String(minLevel) })
      if (types) q.set('event_type', types.join(','))
      let last: string | undefined
      for (;;) {
        try {
          const res = await fetch(new URL(`events/stream?${q}`, base), { headers: { ...headers, ...(last ? { 'last-event-id': last } : {}) } })
          if (!res.ok || !res.body) throw new Error(`the stream answered ${res.status}`)
          const decoder = new TextDecoder()
          let buf = ''
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buf += decoder.decode(chunk, { stream: true })
            let i
            while ((i = buf.indexOf('\n\n')) !== -1) {
              const frame = buf.slice(0, i)
              buf = buf.slice(i + 2)
              const data = frame.split('\n').find((l) => l.startsWith('data: '))
              const id = frame.split('\n').find((l) => l.startsWith('id: '))
              if (id) last = id.slice(4)
              if (data) print(parseEvent(JSON.parse(data.slice(6))))
            }
          }
        } catch (err) {
          process.stderr.write(`madsci-events tail: ${(err as Error).message}; reconnecting\n`)
        }
        await pause(1000)
      }
    }
    // A Python Event Manager: poll the newest events.
    const seen = new Set<string>()
    let first = true
    for (;;) {
      try {
        const res = await fetch(new URL(`events?number=100&level=${minLevel}`, base), { headers })
        if (res.ok) {
          const events = Object.values((await res.json()) as Record<string, unknown>).map((e) => parseEvent(e)).reverse()
          for (const e of events) {
            if (seen.has(e.event_id)) continue
            seen.add(e.event_id)
            if (!first && (!types || types.includes(e.event_type))) print(e)
          }
          first = false
        }
      } catch (err) {
        process.stderr.write(`madsci-events tail: ${(err as Error).message}; retrying\n`)
      }
      await pause(1000)
    }
  },
}
