import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync } from 'node:fs'
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { MongoClient } from 'mongodb'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createEventLogger } from '../../src/index.js'
import { startServer } from '../server/helpers.js'

/**
 * Our Event Manager (createServer on FerretDB) under faults, fed by createEventLogger → HttpStore
 * (batch route), every event counted by event_id in the database at the end:
 * - a storm of 500, 503 and 429 (Retry-After: 1) answers in front of it, then recovery;
 * - the server process SIGKILLed twice mid-stream and started again on the same port.
 * Goal: 0 lost, 0 duplicated, and every 429's Retry-After waited out.
 */

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.()
})

async function storedIds(database: string, run: string): Promise<{ ids: string[]; docs: number }> {
  const client = await MongoClient.connect(inject('mongoUrl'))
  try {
    const docs = await client.db(database).collection('events').find({ 'event_data.run': run }, { projection: { _id: 1 } }).toArray()
    return { ids: docs.map((d) => String(d._id)), docs: docs.length }
  } finally {
    await client.close()
  }
}

async function dropDb(database: string): Promise<void> {
  const client = await MongoClient.connect(inject('mongoUrl'))
  try {
    await client.db(database).dropDatabase()
  } finally {
    await client.close()
  }
}

interface Storm {
  url: string
  /** Answers still to fail, in order. */
  script: Array<{ status: number; headers?: Record<string, string> }>
  log: Array<{ at: number; status: number }>
  close(): Promise<void>
}

/** An HTTP proxy in front of `target` that answers the next ingest requests from `script`. */
async function stormProxy(target: string): Promise<Storm> {
  const t = new URL(target)
  const storm: Storm = { url: '', script: [], log: [], close: async () => {} }
  const server: Server = createHttpServer((req, res) => {
    const ingest = req.method === 'POST' && (req.url ?? '').startsWith('/event')
    const next = ingest ? storm.script.shift() : undefined
    if (next) {
      req.resume()
      req.on('end', () => {
        storm.log.push({ at: Date.now(), status: next.status })
        res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers })
        res.end(JSON.stringify({ detail: `storm ${next.status}` }))
      })
      return
    }
    const up = httpRequest({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      if (ingest) storm.log.push({ at: Date.now(), status: r.statusCode ?? 0 })
      res.writeHead(r.statusCode ?? 502, r.headers)
      r.pipe(res)
    })
    up.on('error', () => {
      res.writeHead(502)
      res.end()
    })
    req.pipe(up)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  storm.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  storm.close = async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return storm
}

describe('our Event Manager under faults: 0 lost, 0 duplicated (counted by event_id in FerretDB)', () => {
  it('a storm of 500, 503 and 429 with Retry-After, then recovery; each Retry-After waited out', async () => {
    const srv = await startServer('ferretdb', 'rel-storm')
    cleanup.push(() => srv.close())
    const storm = await stormProxy(srv.url)
    cleanup.push(() => storm.close())
    for (let i = 0; i < 12; i++) storm.script.push({ status: 500 }, { status: 503, headers: { 'retry-after': '0' } })
    for (let i = 0; i < 3; i++) storm.script.push({ status: 429, headers: { 'retry-after': '1' } })
    for (let i = 0; i < 12; i++) storm.script.push({ status: i % 2 ? 503 : 500 })
    const spool = mkdtempSync(join(tmpdir(), 'madsci-storm-'))
    // One batch in flight, so "the next request after a 429" is the retry of that batch.
    const logger = createEventLogger({
      eventManager: { url: storm.url, mode: 'batch' },
      spool,
      batch: { maxEvents: 250, maxInFlight: 1 },
      retry: { baseMs: 10, maxMs: 100 },
      env: {},
      onWarning: () => {},
    })
    cleanup.push(() => logger.close({ timeoutMs: 1000 }))
    const total = 6000
    const ids = new Set<string>()
    for (let i = 0; i < total; i++) {
      ids.add(logger.info(`storm ${i}`, { i, run: 'storm' }) as string)
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    await logger.flush({ timeoutMs: 25_000 })
    const stats = logger.stats()
    expect(storm.script).toHaveLength(0) // the whole storm was answered
    const statuses = storm.log.map((l) => l.status)
    for (const code of [500, 503, 429]) expect(statuses).toContain(code)
    for (let k = 0; k < storm.log.length - 1; k++) {
      if (storm.log[k].status === 429) expect(storm.log[k + 1].at - storm.log[k].at).toBeGreaterThanOrEqual(950)
    }
    expect(stats.retried).toBeGreaterThanOrEqual(39)
    expect(stats.dropped).toEqual({})
    expect(stats.failed).toBe(0)
    const stored = await storedIds(srv.database!, 'storm')
    expect(stored.docs).toBe(total)
    expect(new Set(stored.ids)).toEqual(ids)
  }, 30_000)

  it('the server process SIGKILLed twice mid-stream and restarted on the same port', async () => {
    const database = `t_rel_restart_${process.pid}`
    cleanup.push(() => dropDb(database))
    const home = mkdtempSync(join(tmpdir(), 'madsci-rel-em-'))
    mkdirSync(join(home, '.madsci'))
    const cli = fileURLToPath(new URL('../../adapters/cli/index.ts', import.meta.url))
    let child: ChildProcess | undefined
    const start = async (port: number): Promise<number> => {
      const c = spawn(process.execPath, ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, cli, 'serve', '--port', String(port), '--host', '127.0.0.1', '--db-url', inject('mongoUrl'), '--database', database], {
        env: { PATH: process.env.PATH, HOME: home, MADSCI_SETTINGS_DIR: home },
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: home,
      })
      child = c
      let out = ''
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      c.stderr!.on('data', (d: Buffer) => (out += d.toString()))
      return new Promise((resolve, reject) => {
        const timer = setInterval(() => {
          const m = /server at http:\/\/[^:]+:(\d+)/.exec(out)
          if (m) {
            clearInterval(timer)
            resolve(Number(m[1]))
          } else if (c.exitCode !== null) {
            clearInterval(timer)
            reject(new Error(`serve exited:\n${out}`))
          }
        }, 20)
      })
    }
    const kill = async (): Promise<void> => {
      const c = child!
      const exited = new Promise((r) => c.once('exit', r))
      c.kill('SIGKILL')
      await exited
    }
    cleanup.push(() => (child && child.exitCode === null && child.signalCode === null ? kill() : undefined))
    const port = await start(0)
    const spool = mkdtempSync(join(tmpdir(), 'madsci-rel-spool-'))
    const logger = createEventLogger({
      eventManager: { url: `http://127.0.0.1:${port}`, mode: 'batch', timeoutMs: 2000 },
      spool,
      batch: { maxEvents: 200 },
      retry: { baseMs: 20, maxMs: 300 },
      env: {},
      onWarning: () => {},
    })
    cleanup.push(() => logger.close({ timeoutMs: 1000 }))
    const errors: string[] = []
    logger.on('error', (e) => errors.push(e.message))
    const total = 12_000
    const ids = new Set<string>()
    const kills = [3000, 7000]
    for (let i = 0; i < total; i++) {
      ids.add(logger.info(`restart ${i}`, { i, run: 'restart' }) as string)
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5))
      if (kills.includes(i)) {
        await kill()
        // Keep logging while it is down, then bring it back on the same port.
        for (let k = 0; k < 500; k++) ids.add(logger.info(`while down ${k}`, { k, at: i, run: 'restart' }) as string)
        await start(port)
      }
    }
    await logger.flush({ timeoutMs: 20_000 })
    const stats = logger.stats()
    expect(errors.length).toBeGreaterThan(0) // the restarts were noticed
    expect(stats.retried).toBeGreaterThan(0)
    expect(stats.dropped).toEqual({})
    expect(stats.failed).toBe(0)
    const stored = await storedIds(database, 'restart')
    expect(stored.docs).toBe(ids.size)
    expect(new Set(stored.ids)).toEqual(ids)
  }, 30_000)
})
