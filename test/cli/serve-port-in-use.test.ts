import { rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, scratch } from './helpers.js'

/**
 * `serve` on a port already taken explains it and suggests --port (it printed a bare
 * `listen EADDRINUSE`), exits 1, and leaves nothing running.
 */
const dir = scratch('port-in-use')
let taken: Server
let port: number
beforeAll(async () => {
  taken = createServer()
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r))
  port = (taken.address() as AddressInfo).port
})
afterAll(async () => {
  await new Promise<void>((r) => taken.close(() => r()))
  rmSync(dir, { recursive: true, force: true })
})

describe('serve on a port in use', () => {
  it('says the address is in use and how to choose another port', { timeout: 30_000 }, async () => {
    for (const [args, env] of [
      [['--port', String(port)], {}],
      [[], { EVENT_SERVER_URL: `http://127.0.0.1:${port}` }],
    ] as const) {
      const res = await runCli(['serve', ...args], { cwd: dir, env })
      expect(res.code).toBe(1)
      expect(res.stderr).toBe(
        `madsci-events serve: 127.0.0.1:${port} is already in use (another madsci-events serve or Event Manager?). Stop it, or choose another port with --port (e.g. --port ${port + 1}) or EVENT_SERVER_URL\n`,
      )
      expect(res.stdout).toBe('')
    }
  })
})
