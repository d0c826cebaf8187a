import { chmodSync, existsSync, lstatSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, scratch, startCli, tempFiles, writeEventFile } from './helpers.js'

/**
 * Output files are written under a temporary name next to them and renamed when complete: a
 * failure (database unreachable, a store failing halfway, Ctrl-C) leaves the earlier file as it
 * was and no temporary file behind; success replaces it, keeping its permissions, and says so.
 */
const dir = scratch('output')
const events = join(dir, 'events.ndjson')
const prev = join(dir, 'prev.csv')
const PREVIOUS = 'event_id,event_type\r\n' + 'x,'.repeat(6000) + '\r\n' // ~12 KB, as in the report
let broken: Server
let brokenUrl: string

beforeAll(async () => {
  writeEventFile(events, 100_000)
  // An Event Manager that answers the health check and then sends a body that is not JSON.
  broken = createHttpServer((req, res) => {
    if (req.url?.startsWith('/health')) return res.writeHead(200, { 'content-type': 'application/json' }).end('{"healthy": true}')
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"01JH": {"event_type": "log_info", "event_id": ')
  })
  await new Promise<void>((r) => broken.listen(0, '127.0.0.1', r))
  brokenUrl = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise<void>((r) => broken.close(() => r()))
  rmSync(dir, { recursive: true, force: true })
})

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createTcpServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

describe('output files are replaced only when complete', () => {
  it('an unreachable database leaves the earlier file intact (it used to be truncated to 0 bytes)', async () => {
    writeFileSync(prev, PREVIOUS)
    const url = `mongodb://127.0.0.1:${await closedPort()}/labdb?serverSelectionTimeoutMS=300`
    const res = await runCli(['export', '--db-url', url, '-o', prev], { cwd: dir })
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/^madsci-events export: MongoDB is unavailable: cannot read labdb\.events on mongodb:\/\/127\.0\.0\.1:\d+\/labdb/)
    expect(readFileSync(prev, 'utf8')).toBe(PREVIOUS)
    expect(tempFiles(dir)).toEqual([])
  })

  it('a store failing after the output was started leaves the earlier file intact and no temporary file', async () => {
    writeFileSync(prev, PREVIOUS)
    for (const args of [
      ['export', '--url', brokenUrl, '-o', prev],
      ['report', 'sessions', '--url', brokenUrl, '-o', prev],
    ]) {
      const res = await runCli(args, { cwd: dir })
      expect([args[0], res.code]).toEqual([args[0], 1])
      expect(readFileSync(prev, 'utf8')).toBe(PREVIOUS)
      expect(tempFiles(dir)).toEqual([])
    }
  })

  it('Ctrl-C in the middle of an export removes the temporary file and keeps the earlier one (exit 130)', async () => {
    writeFileSync(prev, PREVIOUS)
    const run = startCli(['export', '--file', events, '-o', prev], { cwd: dir })
    // Interrupt once the temporary file exists and has grown (the export is under way).
    const deadline = Date.now() + 30_000
    for (;;) {
      const temp = tempFiles(dir)[0]
      if (temp && existsSync(join(dir, temp)) && statSync(join(dir, temp)).size > 0) break
      if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`the export ended before it could be interrupted:\n${(await run.done).stderr}`)
      await new Promise((r) => setTimeout(r, 5))
    }
    run.child.kill('SIGINT')
    const res = await run.done
    expect(res.code).toBe(130)
    expect(readFileSync(prev, 'utf8')).toBe(PREVIOUS)
    expect(tempFiles(dir)).toEqual([])
  })

  it('stdout closed early (`export | head -1`) ends quietly', async () => {
    const run = startCli(['export', '--file', events], { cwd: dir })
    await run.printed('event_id,')
    run.child.stdout?.destroy()
    const res = await run.done
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
  })

  it('success replaces the file, keeps its permissions, and says what was written', async () => {
    writeFileSync(prev, PREVIOUS)
    chmodSync(prev, 0o640)
    const res = await runCli(['export', '--file', events, '--to', '2025-01-06T00:00:09', '-o', prev], { cwd: dir })
    expect(res.code, res.stderr).toBe(0)
    expect(res.stderr).toBe(`exported 10 events from ${events} as CSV to ${prev}\n`)
    expect(res.stdout).toBe('')
    const text = readFileSync(prev, 'utf8')
    expect(text.startsWith('event_id,event_type,log_level')).toBe(true)
    expect(text.trim().split('\r\n')).toHaveLength(11)
    expect(statSync(prev).mode & 0o777).toBe(0o640)
    expect(tempFiles(dir)).toEqual([])
  })

  it('through a symbolic link: the file it points to is replaced, the link stays', async () => {
    const target = join(dir, 'real.csv')
    const link = join(dir, 'link.csv')
    writeFileSync(target, PREVIOUS)
    symlinkSync(target, link)
    const res = await runCli(['report', 'users', '--file', events, '--format', 'csv', '-o', link], { cwd: dir })
    expect(res.code, res.stderr).toBe(0)
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readlinkSync(link)).toBe(target)
    expect(readFileSync(target, 'utf8')).not.toBe(PREVIOUS)
    expect(res.stderr).toBe(`wrote the users report of ${events} as CSV to ${target}\n`)
  })
})
