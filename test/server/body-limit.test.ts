import { request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { call, startServer, STORE_KINDS } from './helpers.js'

/** The request body limit (EVENT_MAX_BODY_BYTES, 16 MiB by default): 413 past it, declared or streamed. */

function chunked(url: string, parts: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    for (const p of parts) req.write(p)
    req.end()
  })
}

describe.each(STORE_KINDS)('body limit on the %s store', (kind) => {
  it('a body over the limit is 413 with a clear detail, by Content-Length or while streaming; at the limit it is accepted', async () => {
    const r = await startServer(kind, 'bodylimit', { env: { EVENT_MAX_BODY_BYTES: '2048' } })
    try {
      const pad = (n: number): string => {
        const base = JSON.stringify({ event_type: 'test', event_data: { s: '' } })
        return JSON.stringify({ event_type: 'test', event_data: { s: 'x'.repeat(n - base.length) } })
      }
      const exact = pad(2048)
      expect(Buffer.byteLength(exact)).toBe(2048)
      expect((await call(r.url, 'POST', '/event', exact)).status).toBe(200)
      const over = await call(r.url, 'POST', '/event', pad(3000))
      expect(over.status).toBe(413)
      expect(over.json()).toEqual({ detail: 'Request body too large: 3000 bytes; the limit is 2048 bytes' })
      const streamed = await chunked(`${r.url}/events/batch`, ['[', Array.from({ length: 40 }, () => pad(100)).join(','), ']'])
      expect(streamed.status).toBe(413)
      expect(JSON.parse(streamed.body)).toEqual({ detail: 'Request body too large: more than 2048 bytes' })
      // Only the event at the limit was stored; the server still answers.
      expect((await call(r.url, 'GET', '/health')).json().total_events).toBe(1)
      expect(Number(/madsci_http_requests_total\{method="POST",route="\/event",status="413"\} (\d+)/.exec((await call(r.url, 'GET', '/metrics')).text)?.[1])).toBe(1)
    } finally {
      await r.close()
    }
  })
})
