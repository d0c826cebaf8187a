import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { once } from 'node:events'
import { MongoClient } from 'mongodb'
import { describe, expect, inject, it } from 'vitest'
import { FileStore } from '../../src/index.js'
import { call, databaseName, dropDatabase, eventually, type Running, startServer, type StoreKind, STORE_KINDS, tempDir } from './helpers.js'
import { SseClient } from './stream-clients.js'

/**
 * Graceful shutdown: `close()` stops accepting connections, lets requests in flight finish, ends
 * live streams, flushes the pipeline (events accepted but not yet stored are stored) and closes the
 * store; `madsci-events serve` does the same on SIGTERM.
 */

async function storedIds(r: Running): Promise<string[]> {
  if (r.kind === 'file') {
    const store = new FileStore(join(r.dir, 'events.ndjson'))
    const ids: string[] = []
    for await (const e of store.streamEvents()) ids.push(e.event_id)
    await store.close()
    return ids
  }
  const client = await MongoClient.connect(inject('mongoUrl'))
  try {
    return (await client.db(r.database).collection('events').find({}, { projection: { _id: 1 } }).toArray()).map((d) => String(d._id))
  } finally {
    await client.close()
  }
}

describe.each(STORE_KINDS)('graceful shutdown on the %s store', (kind: StoreKind) => {
  it('a request in flight when close() starts is answered and stored; new connections are refused; live streams end', async () => {
    const r = await startServer(kind, 'shutdown', { keepDatabase: true, dir: tempDir('shutdown') })
    try {
      const sse = await SseClient.connect(`${r.url}/events/stream`)
      await sse.waitLive()
      const body = JSON.stringify({ event_id: 'in-flight-1', event_type: 'test', event_data: { slow: true } })
      // Headers and half the body now, the rest after close() has begun.
      const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(`${r.url}/event`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => (text += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        })
        req.on('error', reject)
        req.write(body.slice(0, 20))
        setTimeout(() => req.end(body.slice(20)), 300)
      })
      await new Promise((resolve) => setTimeout(resolve, 50))
      const closing = r.server.close()
      await eventually(() => (sse.closed ? true : undefined))
      await expect(call(r.url, 'GET', '/health')).rejects.toThrow()
      const res = await answer
      expect(res.status).toBe(200)
      expect(JSON.parse(res.text)._id).toBe('in-flight-1')
      await closing
      expect(await storedIds(r)).toContain('in-flight-1')
    } finally {
      await r.close()
      if (r.database) await dropDatabase(r.database)
    }
  })

  it('events accepted but not stored yet (answered 503 "not stored yet", held in memory, by a zero ingest timeout) are flushed by close()', async () => {
    const r = await startServer(kind, 'flush', { keepDatabase: true, dir: tempDir('flush'), settings: { ingest_timeout_ms: 0 } })
    try {
      const ids: string[] = []
      const statuses = new Set<number>()
      for (let i = 0; i < 40; i++) {
        const id = `queued-${i}`
        const res = await call(r.url, 'POST', '/event', { event_id: id, event_type: 'test' })
        statuses.add(res.status)
        if (res.status === 503) expect(res.json().detail).toMatch(/not stored yet.*holds it in memory.*loses it if it stops first/)
        ids.push(id)
      }
      expect([...statuses].every((s) => s === 200 || s === 503)).toBe(true)
      // The timeout fires before any store write completes: these events are still queued. (The
      // file store writes synchronously when the batch timer fires, which can come first.)
      if (kind !== 'file') expect(statuses.has(503)).toBe(true)
      await r.server.close()
      expect((await storedIds(r)).sort()).toEqual(ids.sort())
    } finally {
      await r.close()
      if (r.database) await dropDatabase(r.database)
    }
  })
})

describe('madsci-events serve', () => {
  const cli = join(process.cwd(), 'dist', 'cli.js')
  it.runIf(existsSync(cli))('serves on the given port, and on SIGTERM stores what it accepted, then exits', async () => {
    const dir = tempDir('cli-serve')
    const database = databaseName('cli_serve')
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--db-url', inject('mongoUrl'), '--database', database], {
      env: { PATH: process.env.PATH, HOME: dir, MADSCI_SETTINGS_DIR: dir, EVENT_INGEST_TIMEOUT_MS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
      child.stderr.setEncoding('utf8').on('data', () => undefined)
      const url = await eventually(() => /madsci-events server at (http:\/\/\S+) /.exec(out)?.[1])
      expect(out).toContain(`MongoDB`)
      expect(out).toContain(`${database}.events`)
      for (let i = 0; i < 20; i++) await call(url, 'POST', '/event', { event_id: `cli-${i}`, event_type: 'test' })
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const [code, signal] = await exited
      expect(code === 0 || signal === 'SIGTERM').toBe(true)
      const client = await MongoClient.connect(inject('mongoUrl'))
      try {
        expect(await client.db(database).collection('events').countDocuments({ _id: { $regex: '^cli-' } } as never)).toBe(20)
      } finally {
        await client.close()
      }
    } finally {
      child.kill('SIGKILL')
      await dropDatabase(database)
    }
  })
})
