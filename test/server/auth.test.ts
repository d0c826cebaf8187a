import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { call, type Running, startServer } from './helpers.js'
import { SseClient, WsClient } from './stream-clients.js'

/**
 * Optional bearer-token auth (beyond MADSci, which has none): off by default, so MADSci clients
 * work unchanged on loopback; with a token every route but the public ones needs
 * `Authorization: Bearer <token>` (live streams also `?access_token=`), and a server refuses to
 * listen on a non-loopback address without a token unless auth is explicitly disabled.
 */

const TOKEN = 'lab-token-5f2c'

describe('auth on (EVENT_SERVER_TOKEN)', () => {
  let r: Running
  beforeAll(async () => {
    r = await startServer('file', 'auth', { env: { EVENT_SERVER_TOKEN: TOKEN } })
  })
  afterAll(async () => {
    await r?.close()
  })

  it('a missing token is 401 Not authenticated, a wrong one 401 Invalid token, both with WWW-Authenticate: Bearer', async () => {
    for (const [method, path, body] of [
      ['GET', '/events', undefined],
      ['POST', '/event', {}],
      ['POST', '/events/batch', []],
      ['GET', '/settings', undefined],
      ['GET', '/metrics', undefined],
      ['POST', '/backup', undefined],
      ['DELETE', '/events/archived', undefined],
    ] as const) {
      const missing = await call(r.url, method, path, body)
      expect([path, missing.status, missing.text]).toEqual([path, 401, '{"detail":"Not authenticated"}'])
      expect(missing.headers.get('www-authenticate')).toBe('Bearer')
      const wrong = await call(r.url, method, path, body, { authorization: `Bearer ${TOKEN}x` })
      expect([path, wrong.status, wrong.text]).toEqual([path, 401, '{"detail":"Invalid token"}'])
    }
    // Nothing was stored by the refused POSTs.
    expect((await call(r.url, 'GET', '/health')).json().total_events).toBe(0)
  })

  it('the right token works in the Authorization header (scheme in any case); access_token in the query works only for the live streams', async () => {
    expect((await call(r.url, 'POST', '/event', { event_type: 'test' }, { authorization: `Bearer ${TOKEN}` })).status).toBe(200)
    expect((await call(r.url, 'GET', '/events', undefined, { authorization: `bearer ${TOKEN}` })).status).toBe(200)
    expect((await call(r.url, 'GET', `/events?access_token=${TOKEN}`)).status).toBe(401)

    const sse = await SseClient.connect(`${r.url}/events/stream?access_token=${TOKEN}`)
    await sse.waitLive()
    sse.close()
    const sseHeader = await SseClient.connect(`${r.url}/events/stream`, { authorization: `Bearer ${TOKEN}` })
    await sseHeader.waitLive()
    sseHeader.close()
    const sseNone = await SseClient.connect(`${r.url}/events/stream`)
    expect(sseNone.status).toBe(401)
    sseNone.close()

    const ws = await WsClient.connect(`${r.url.replace('http', 'ws')}/events/ws?access_token=${TOKEN}`)
    await ws.waitLive()
    ws.close()
    for (const q of ['', `?access_token=${TOKEN}x`]) {
      const err = await WsClient.connect(`${r.url.replace('http', 'ws')}/events/ws${q}`).catch((e: { status: number; body: string }) => e)
      expect((err as { status: number }).status).toBe(401)
    }
  })

  it('health, the OpenAPI document and the docs page stay public; CORS preflights need no token', async () => {
    for (const path of ['/health', '/openapi.json', '/docs']) expect([path, (await call(r.url, 'GET', path)).status]).toEqual([path, 200])
    const pre = await call(r.url, 'OPTIONS', '/events', undefined, { origin: 'https://ui.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' })
    expect(pre.status).toBe(204)
  })

  it('refusals are counted in /metrics', async () => {
    const m = (await call(r.url, 'GET', '/metrics', undefined, { authorization: `Bearer ${TOKEN}` })).text
    expect(Number(/^madsci_auth_failures_total (\d+)$/m.exec(m)?.[1])).toBeGreaterThanOrEqual(15)
  })
})

describe('auth off (the default)', () => {
  it('every route answers without a token, as MADSci', async () => {
    const r = await startServer('file', 'noauth')
    try {
      expect((await call(r.url, 'POST', '/event', {})).status).toBe(200)
      expect((await call(r.url, 'GET', '/events')).status).toBe(200)
      expect((await call(r.url, 'GET', '/settings')).json().settings.auth_token).toBeNull()
    } finally {
      await r.close()
    }
  })
})

describe('binding to a non-loopback address', () => {
  it('needs a token, unless auth is explicitly disabled', async () => {
    const plain = await startServer('file', 'bind', { listen: false })
    try {
      await expect(plain.server.listen(0, '0.0.0.0')).rejects.toThrow(ConfigError)
      await expect(plain.server.listen(0, '0.0.0.0')).rejects.toThrow(/EVENT_SERVER_TOKEN.*EVENT_AUTH_DISABLED/)
    } finally {
      await plain.close()
    }
    // Loopback names need nothing.
    for (const host of ['127.0.0.1', 'localhost', '::1']) {
      const r = await startServer('file', 'bind-lo', { host })
      expect((await call(r.url, 'GET', '/health')).status).toBe(200)
      await r.close()
    }
    const withToken = await startServer('file', 'bind-tok', { host: '0.0.0.0', env: { EVENT_SERVER_TOKEN: TOKEN } })
    try {
      const port = new URL(withToken.url).port
      expect((await call(`http://127.0.0.1:${port}`, 'GET', '/events')).status).toBe(401)
    } finally {
      await withToken.close()
    }
    const optedOut = await startServer('file', 'bind-off', { host: '0.0.0.0', env: { EVENT_AUTH_DISABLED: 'true' } })
    try {
      const port = new URL(optedOut.url).port
      expect((await call(`http://127.0.0.1:${port}`, 'GET', '/events')).status).toBe(200)
    } finally {
      await optedOut.close()
    }
  })

  it('EVENT_SERVER_URL on a non-loopback host is refused the same way when no host is given to listen()', async () => {
    const r = await startServer('file', 'bind-env', { listen: false, env: { EVENT_SERVER_URL: 'http://0.0.0.0:0' } })
    try {
      await expect(r.server.listen()).rejects.toThrow(ConfigError)
    } finally {
      await r.close()
    }
  })
})
