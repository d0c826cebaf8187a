import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, scratch, startCli } from './helpers.js'

/**
 * `serve --file PATH` stores in that NDJSON file and says so; the store flags are checked as
 * the reading commands check them.
 */
const dir = scratch('serve-store')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('serve --file', () => {
  it('stores in the named file and says where', { timeout: 30_000 }, async () => {
    const file = join(dir, 'lab', 'events.ndjson')
    const run = startCli(['serve', '--port', '0', '--file', 'lab/events.ndjson'], { cwd: dir })
    try {
      await run.printed('API docs at')
      expect(run.stdout()).toContain(`storing in the embedded file store ${file};`)
      const url = /server at (http:\/\/\S+) /.exec(run.stdout())?.[1] as string
      const res = await fetch(`${url}/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event_type: 'log_info', event_data: { message: 'kept' } }) })
      expect(res.status).toBe(200)
    } finally {
      run.child.kill('SIGTERM')
      await run.done
    }
    expect(readFileSync(file, 'utf8')).toContain('"message":"kept"')
    expect(existsSync(join(dir, '.madsci', 'events', 'events.ndjson'))).toBe(false)
  })

  it('refuses --file with --db-url, and --database without a database URL', async () => {
    const both = await runCli(['serve', '--file', 'x.ndjson', '--db-url', 'mongodb://127.0.0.1:9/x'], { cwd: dir })
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('give one store: --db-url and --file were both given')
    const noDb = await runCli(['serve', '--port', '0', '--database', 'labdb'], { cwd: dir })
    expect(noDb.code).toBe(2)
    expect(noDb.stderr).toContain('--database is for MongoDB: give --db-url (or set EVENT_DB_URL)')
  })
})
