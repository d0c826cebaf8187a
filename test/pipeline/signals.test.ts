import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanEnv, ensureBuilt } from '../transport/helpers.js'

/**
 * SIGTERM and SIGINT, decided:
 * - no handler of the program's: the loggers deliver (at most `exitTimeoutMs`), then the process
 *   ends as the signal ends it (killed by that signal, as the parent sees it);
 * - a handler of the program's, installed before or after the logger, with `on` or a `once` put
 *   first: the library does nothing on the signal; when the handler exits, what is in memory is
 *   written at exit;
 * - `handleShutdown(logger)`: explicit control, as before;
 * - `handleSignals: false` or EVENT_CLIENT_HANDLE_SIGNALS=false: the signal's default action, at once;
 * - a second signal while delivering ends the process at once, saving what is left.
 * Events stay in memory until the signal (a 60 s batch interval), so only the exit path writes them.
 */

const APP = fileURLToPath(new URL('./fixtures/signal-app.mjs', import.meta.url))
const COUNT = 20
let root: string
beforeAll(async () => {
  ensureBuilt()
  root = await mkdtemp(join(tmpdir(), 'madsci-signals-'))
})
afterAll(() => rm(root, { recursive: true, force: true }))

interface Ran {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** ms from the (first) signal to the end. */
  afterSignalMs: number
}

let n = 0
async function run(cfg: Record<string, unknown>, signals: NodeJS.Signals[], env: Record<string, string> = {}, gapMs = 300): Promise<Ran & { file: string; spool: string }> {
  const dir = join(root, String(n++))
  const file = join(dir, 'events.ndjson')
  const spool = join(dir, 'spool')
  const options: Record<string, unknown> = { file, env: {}, batch: { flushIntervalMs: 60_000 }, ...(cfg.options as object) }
  if (options.spool === '$SPOOL') options.spool = spool
  const child: ChildProcess = spawn(process.execPath, [APP, JSON.stringify({ count: COUNT, ...cfg, options })], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 30_000)
  while (!stdout.includes('READY') && child.exitCode === null) await new Promise((r) => setTimeout(r, 5))
  const signalled = Date.now()
  for (const [k, s] of signals.entries()) {
    if (k > 0) await new Promise((r) => setTimeout(r, gapMs))
    child.kill(s)
  }
  const end = await exited
  clearTimeout(watchdog)
  return { ...end, stdout, stderr, afterSignalMs: Date.now() - signalled, file, spool }
}

function written(file: string): number[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { event_data: { i: number } }).event_data.i)
}

function spooled(dir: string): number {
  let count = 0
  const walk = (d: string): void => {
    if (!existsSync(d)) return
    for (const f of readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) walk(join(d, f.name))
      else if (f.name.startsWith('seg-')) count += readFileSync(join(d, f.name), 'utf8').split('\n').filter(Boolean).length
    }
  }
  walk(dir)
  return count
}

const ALL = Array.from({ length: COUNT }, (_, i) => i)

describe('SIGTERM / SIGINT with no handler of the program', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: the events are written, then the process is killed by ${signal}`, async () => {
      const r = await run({ handler: 'none' }, [signal])
      expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal })
      expect(written(r.file)).toEqual(ALL)
    })
  }
})

describe('a program with a handler of its own keeps full control', () => {
  for (const handler of ['before', 'after', 'prepend-once'] as const) {
    it(`handler installed ${handler === 'prepend-once' ? 'with prependOnceListener (it runs first and is gone when ours runs)' : `${handler} the logger`}: its exit code, and the events written at its exit`, async () => {
      const r = await run({ handler, exitCode: 7 }, ['SIGTERM'])
      expect(r.stdout).toContain('OWN SIGTERM')
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 7, signal: null })
      // The library waited for the program's own handler (it exits 200 ms after the signal).
      expect(r.afterSignalMs).toBeGreaterThanOrEqual(150)
      expect(written(r.file)).toEqual(ALL)
    })
  }

  it('handleShutdown(logger) is still there for explicit control: it closes the logger, then the signal ends the process', async () => {
    const r = await run({ handler: 'shutdown' }, ['SIGTERM'])
    expect(r.stdout).toMatch(/CLOSED \{"delivered":20,/)
    expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal: 'SIGTERM' })
    expect(written(r.file)).toEqual(ALL)
  })
})

describe('turned off', () => {
  it('handleSignals: false: the signal ends the process at once, as without the library (events in memory are lost)', async () => {
    const r = await run({ handler: 'none', options: { handleSignals: false } }, ['SIGTERM'])
    expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal: 'SIGTERM' })
    expect(written(r.file)).toEqual([])
  })

  it('EVENT_CLIENT_HANDLE_SIGNALS=false: the same', async () => {
    const r = await run({ handler: 'none' }, ['SIGINT'], { EVENT_CLIENT_HANDLE_SIGNALS: 'false' })
    expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal: 'SIGINT' })
    expect(written(r.file)).toEqual([])
  })
})

describe('a store that does not answer (accepts connections, never replies)', () => {
  let server: Server
  let url: string
  const sockets = new Set<Socket>()
  beforeAll(async () => {
    server = createServer((s) => {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  })
  afterAll(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
  })

  it('SIGTERM: delivery gets exitTimeoutMs, then the events go to the spool and the signal ends the process', async () => {
    const r = await run({ handler: 'none', options: { file: undefined, eventManager: { url, mode: 'batch' }, spool: '$SPOOL', exitTimeoutMs: 1000 } }, ['SIGTERM'])
    expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal: 'SIGTERM' })
    expect(r.afterSignalMs).toBeGreaterThanOrEqual(900)
    expect(r.afterSignalMs).toBeLessThan(5000)
    expect(r.stderr).toMatch(/20 event\(s\) saved to the spool before the program ended/)
    expect(spooled(r.spool)).toBe(COUNT)
  })

  it('a second SIGINT while delivering ends the process at once, the events saved to the spool', async () => {
    const r = await run({ handler: 'none', options: { file: undefined, eventManager: { url, mode: 'batch' }, spool: '$SPOOL', exitTimeoutMs: 20_000 } }, ['SIGINT', 'SIGINT'])
    expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal: 'SIGINT' })
    expect(r.afterSignalMs).toBeLessThan(5000)
    expect(r.stderr).toMatch(/20 event\(s\) saved to the spool at exit/)
    expect(spooled(r.spool)).toBe(COUNT)
  })
})
