import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script without type declarations
import { startPythonEventManager } from '../../scripts/lib/python-peer.mjs'
import { call, databaseName, dropDatabase, python, startServer } from './helpers.js'

/**
 * MADSci's rate limiter, reproduced: per-client sliding windows (long and burst), 429 with MADSci's
 * body and `Retry-After` / `X-RateLimit-*` headers, headers on successful answers to limited
 * clients, loopback exempt by default. Checked side by side with the Python Event Manager under
 * the same settings. Windows are long (30-60 s) so no assertion depends on timing.
 */

interface Answer {
  status: number
  body: string
  headers: Record<string, string>
}

/** A GET from a chosen local address (127.0.0.2 is loopback but not in MADSci's exempt list). */
function get(url: string, localAddress?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => {
        const headers: Record<string, string> = {}
        for (const [k, v] of Object.entries(res.headers)) if (k.startsWith('x-ratelimit') || k === 'retry-after') headers[k] = String(v)
        resolve({ status: res.statusCode ?? 0, body, headers })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

const LIMITS = {
  EVENT_RATE_LIMIT_REQUESTS: '8',
  EVENT_RATE_LIMIT_WINDOW: '60',
  EVENT_RATE_LIMIT_SHORT_REQUESTS: '5',
  EVENT_RATE_LIMIT_SHORT_WINDOW: '30',
}

/** Seven requests from 127.0.0.2: five pass the burst window, the sixth and seventh get 429. */
async function burst(url: string): Promise<Answer[]> {
  const out: Answer[] = []
  for (let i = 0; i < 7; i++) out.push(await get(`${url}/health`, '127.0.0.2'))
  return out
}

/** What must match between MADSci and ours: everything but the reset epoch and the exact Retry-After. */
function shape(a: Answer): unknown {
  const { 'x-ratelimit-reset': reset, 'retry-after': retry, ...rest } = a.headers
  return { status: a.status, body: a.status === 429 ? a.body : undefined, headers: rest, hasReset: reset !== undefined, hasRetry: retry !== undefined }
}

describe('rate limiting like MADSci', () => {
  let py: { url: string; stop(): Promise<void> }
  const pyDb = databaseName('rate_python')
  beforeAll(async () => {
    py = await startPythonEventManager({ python: python(), mongoUrl: inject('mongoUrl'), databaseName: pyDb, env: LIMITS })
  }, 120_000)
  afterAll(async () => {
    await py?.stop()
    await dropDatabase(pyDb)
  })

  it('the burst window: same statuses, 429 body and X-RateLimit-* headers as the Python Event Manager', async () => {
    const r = await startServer('file', 'rate-burst', { env: LIMITS })
    try {
      const ours = await burst(r.url)
      const theirs = await burst(py.url)
      expect(ours.map(shape)).toEqual(theirs.map(shape))
      expect(ours.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429, 429])
      expect(ours[0].headers).toMatchObject({ 'x-ratelimit-limit': '8', 'x-ratelimit-remaining': '7', 'x-ratelimit-burst-limit': '5', 'x-ratelimit-burst-remaining': '4' })
      expect(ours[4].headers).toMatchObject({ 'x-ratelimit-remaining': '3', 'x-ratelimit-burst-remaining': '0' })
      expect(ours[5].body).toBe('{"detail":"Rate limit exceeded: 5 requests per 30 seconds (burst limit)"}')
      expect(ours[5].headers).toMatchObject({ 'x-ratelimit-limit': '8', 'x-ratelimit-remaining': '0', 'x-ratelimit-burst-limit': '5', 'x-ratelimit-burst-remaining': '0' })
      const retry = Number(ours[5].headers['retry-after'])
      expect(Number.isInteger(retry) && retry >= 1 && retry <= 30).toBe(true)
      const reset = Number(ours[5].headers['x-ratelimit-reset'])
      expect(reset).toBeGreaterThan(Date.now() / 1000)
      // The exempt address (127.0.0.1, the default) is never limited and gets no headers.
      const local = await get(`${r.url}/health`, '127.0.0.1')
      expect(local.status).toBe(200)
      expect(local.headers).toEqual({})
      expect(Number(/^madsci_rate_limited_total (\d+)$/m.exec((await call(r.url, 'GET', '/metrics')).text)?.[1])).toBe(2)
    } finally {
      await r.close()
    }
  })

  it('the long window (burst window off with the string null): 429 after rate_limit_requests, MADSci body', async () => {
    const env = { ...LIMITS, EVENT_RATE_LIMIT_SHORT_REQUESTS: 'null', EVENT_RATE_LIMIT_EXEMPT_IPS: '[]' }
    const r = await startServer('file', 'rate-long', { env })
    try {
      const answers: Answer[] = []
      // rate_limit_exempt_ips: [] → even 127.0.0.1 is limited.
      for (let i = 0; i < 9; i++) answers.push(await get(`${r.url}/health`, '127.0.0.1'))
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429])
      expect(answers[0].headers['x-ratelimit-burst-limit']).toBeUndefined()
      expect(answers[7].headers).toMatchObject({ 'x-ratelimit-limit': '8', 'x-ratelimit-remaining': '0' })
      expect(answers[8].body).toBe('{"detail":"Rate limit exceeded: 8 requests per 60 seconds"}')
      expect(answers[8].headers).toMatchObject({ 'x-ratelimit-limit': '8', 'x-ratelimit-remaining': '0' })
      expect(Number(answers[8].headers['retry-after'])).toBeGreaterThanOrEqual(1)
      // The limit is per client address: another address still has its full window.
      expect((await get(`${r.url}/health`, '127.0.0.3')).status).toBe(200)
    } finally {
      await r.close()
    }
  })

  it('EVENT_RATE_LIMIT_ENABLED=false turns it off', async () => {
    const r = await startServer('file', 'rate-off', { env: { ...LIMITS, EVENT_RATE_LIMIT_ENABLED: 'false', EVENT_RATE_LIMIT_EXEMPT_IPS: '[]' } })
    try {
      const answers: Answer[] = []
      for (let i = 0; i < 12; i++) answers.push(await get(`${r.url}/health`, '127.0.0.2'))
      expect(answers.every((a) => a.status === 200 && Object.keys(a.headers).length === 0)).toBe(true)
    } finally {
      await r.close()
    }
  })
})
