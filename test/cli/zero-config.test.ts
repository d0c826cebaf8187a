import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { settingsFromEnv } from '../../adapters/server/settings.js'
import { resolveSinks } from '../../src/logger/create.js'
import type { FileStore } from '../../src/stores/file.js'
import { cleanEnv, ensureBuilt, ROOT } from '../transport/helpers.js'
import { type CliRun, startCli } from './helpers.js'

/**
 * Zero configuration connects: a program that logs with `createEventLogger()` and nothing else,
 * then `madsci-events serve` with nothing else, in the same working directory and HOME — the
 * server stores in the file the library wrote, answers those events on GET /events, and a live
 * client (SSE, as the viewer uses) sees an event logged afterwards by another zero-config
 * program. The project has no `.madsci/` and no git repository, so both use ~/.madsci.
 */
const root = mkdtempSync(join(tmpdir(), 'madsci-cli-zero-'))
const home = join(root, 'home')
const project = join(home, 'lab', 'project')
mkdirSync(project, { recursive: true })
const env = { HOME: home }
let serve: CliRun | undefined
let logs = 0
afterAll(async () => {
  serve?.child.kill('SIGTERM')
  await serve?.done
  rmSync(root, { recursive: true, force: true })
})

/** A program that logs `messages` with no configuration at all, then closes the logger. */
function logZeroConfig(messages: string[]): void {
  ensureBuilt()
  const script = join(project, `log-${++logs}.mjs`)
  writeFileSync(
    script,
    `import { createEventLogger } from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))}
const logger = createEventLogger()
for (const m of ${JSON.stringify(messages)}) logger.warn(m, { probe: 'zero-config' })
await logger.close()
`,
  )
  const res = spawnSync(process.execPath, [script], { cwd: project, env: cleanEnv(env), encoding: 'utf8' })
  expect(res.stderr).toBe('')
  expect(res.status).toBe(0)
}

/** Read SSE frames until one carries `message`; resolves with that event. */
async function nextEvent(body: ReadableStream<Uint8Array>, message: string, signal: AbortSignal): Promise<Record<string, unknown>> {
  const decoder = new TextDecoder()
  let buf = ''
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    if (signal.aborted) break
    buf += decoder.decode(chunk, { stream: true })
    let i
    while ((i = buf.indexOf('\n\n')) !== -1) {
      const data = buf.slice(0, i).split('\n').find((l) => l.startsWith('data: '))
      buf = buf.slice(i + 2)
      if (!data) continue
      const event = JSON.parse(data.slice(6)) as Record<string, unknown>
      if ((event.event_data as { message?: string }).message === message) return event
    }
  }
  throw new Error(`the stream ended without ${message}`)
}

describe('zero configuration: the library and serve share one default file', () => {
  it('serve shows what the library logged, on GET /events and live', { timeout: 60_000 }, async () => {
    logZeroConfig(['first', 'second', 'third'])
    const file = join(home, '.madsci', 'events', 'events.ndjson')

    serve = startCli(['serve', '--port', '0'], { cwd: project, env })
    await serve.printed('API docs at')
    expect(serve.stdout()).toContain(`storing in the embedded file store ${file};`)
    const url = /madsci-events server at (http:\/\/\S+) /.exec(serve.stdout())?.[1] as string

    const res = await fetch(`${url}/events?number=10`)
    expect(res.status).toBe(200)
    const listed = Object.values((await res.json()) as Record<string, { event_data: { message: string; probe: string } }>)
    expect(listed.filter((e) => e.event_data.probe === 'zero-config').map((e) => e.event_data.message).sort()).toEqual(['first', 'second', 'third'])

    // A live client, then a new zero-config program: its event arrives on the stream.
    const abort = new AbortController()
    const stream = await fetch(`${url}/events/stream`, { signal: abort.signal })
    expect(stream.status).toBe(200)
    const seen = nextEvent(stream.body as ReadableStream<Uint8Array>, 'fourth, live', abort.signal)
    logZeroConfig(['fourth, live'])
    const timeout = setTimeout(() => abort.abort(), 20_000)
    try {
      const event = await seen
      expect(event).toMatchObject({ event_type: 'log_warning', log_level: 30, event_data: { message: 'fourth, live', probe: 'zero-config' } })
    } finally {
      clearTimeout(timeout)
      abort.abort()
    }
  })
})

describe('one resolution for both', () => {
  /** The file the library's zero-configuration sink writes, for an environment. */
  const libraryFile = (e: NodeJS.ProcessEnv): string => (resolveSinks({}, e, () => {}).sinks[0] as FileStore).path

  it('the server\'s default data_file is the library\'s file, for every way of choosing it', () => {
    const withMadsci = join(root, 'with-madsci')
    mkdirSync(join(withMadsci, '.madsci'), { recursive: true })
    for (const e of [
      { HOME: home, MADSCI_SETTINGS_DIR: project },
      { HOME: home, MADSCI_SETTINGS_DIR: withMadsci },
      { HOME: home, MADSCI_SETTINGS_DIR: project, EVENT_CLIENT_FILE: join(root, 'elsewhere.ndjson') },
      { HOME: home, MADSCI_SETTINGS_DIR: withMadsci, EVENT_CLIENT_FILE: '.madsci/custom/events.ndjson' },
    ]) {
      expect(settingsFromEnv(e).data_file).toBe(libraryFile(e))
    }
    expect(libraryFile({ HOME: home, MADSCI_SETTINGS_DIR: withMadsci })).toBe(join(withMadsci, '.madsci', 'events', 'events.ndjson'))
    expect(libraryFile({ HOME: home, MADSCI_SETTINGS_DIR: withMadsci, EVENT_CLIENT_FILE: '.madsci/custom/events.ndjson' })).toBe(join(withMadsci, '.madsci', 'custom', 'events.ndjson'))
  })

  it('EVENT_DATA_FILE still chooses the server\'s file', () => {
    expect(settingsFromEnv({ HOME: home, MADSCI_SETTINGS_DIR: project, EVENT_DATA_FILE: join(root, 'server.ndjson') }).data_file).toBe(join(root, 'server.ndjson'))
  })
})
