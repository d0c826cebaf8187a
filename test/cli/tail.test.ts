import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type MadsciServer } from '../../adapters/server/index.js'
import { runCli, scratch, startCli } from './helpers.js'

/**
 * `tail` follows a server: it says which one, prints events as they arrive (filtered by
 * --min-level and --type), and when nothing answers it says so and how to name the server.
 */
const dir = scratch('tail')
let server: MadsciServer
let url: string
beforeAll(async () => {
  server = createServer({ env: { HOME: dir, MADSCI_SETTINGS_DIR: dir }, settings: { data_file: join(dir, 'events.ndjson') } })
  url = (await server.listen(0, '127.0.0.1')).url
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

const post = (body: Record<string, unknown>): Promise<Response> => fetch(`${url}/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

describe('tail', () => {
  it('prints new events at or above --min-level and of --type, as JSON lines with --json', { timeout: 30_000 }, async () => {
    const run = startCli(['tail', '--url', url, '--min-level', 'WARNING', '--type', 'log_error,log_warning', '--json'], { cwd: dir })
    try {
      await run.printed(`following ${url}/ (Ctrl-C to stop)`)
      // Probe until tail prints one: its stream is then open (however loaded the machine).
      for (let i = 0; !run.stdout().includes('"probe'); i++) {
        expect(i).toBeLessThan(100)
        await post({ event_type: 'log_warning', log_level: 30, event_data: { message: `probe ${i}` } })
        await new Promise((r) => setTimeout(r, 200))
      }
      for (const [type, level, message] of [
        ['log_info', 20, 'too low'],
        ['log_error', 40, 'pump stalled'],
        ['node_error', 40, 'other type'],
        ['log_warning', 30, 'pressure high'],
      ] as const) {
        expect((await post({ event_type: type, log_level: level, event_data: { message } })).status).toBe(200)
      }
      await run.printed('pressure high')
      const lines = run.stdout().trim().split('\n').map((l) => JSON.parse(l) as { event_data: { message: string } })
      expect(lines.map((e) => e.event_data.message).filter((m) => !m.startsWith('probe'))).toEqual(['pump stalled', 'pressure high'])
    } finally {
      run.child.kill('SIGTERM')
      await run.done
    }
  })

  it('a server that does not answer: exit 1, and how to name the right one', async () => {
    const res = await runCli(['tail', '--url', 'http://127.0.0.1:9'], { cwd: dir })
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/^madsci-events tail: cannot reach http:\/\/127\.0\.0\.1:9\/ \(.+\); is the server running\? Give its address with --url or EVENT_SERVER_URL\n$/)
  })
})
