import { describe, expect, it } from 'vitest'
import { call, startServer } from './helpers.js'

/**
 * CORS: every origin by default (as MADSci: `*`, no credentials), or a configured list of origins
 * (EVENT_CORS_ORIGINS), with preflights answered before auth and routing.
 */

describe('CORS', () => {
  it('default: any origin gets Access-Control-Allow-Origin: *, no credentials; requests without Origin get no CORS headers', async () => {
    const r = await startServer('file', 'cors-any')
    try {
      const res = await call(r.url, 'GET', '/health', undefined, { origin: 'https://anywhere.example' })
      expect(res.headers.get('access-control-allow-origin')).toBe('*')
      expect(res.headers.get('access-control-allow-credentials')).toBeNull()
      expect(res.headers.get('access-control-expose-headers')).toContain('x-request-id')
      expect((await call(r.url, 'GET', '/health')).headers.get('access-control-allow-origin')).toBeNull()
      const pre = await call(r.url, 'OPTIONS', '/event', undefined, { origin: 'https://anywhere.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-request-id' })
      expect(pre.status).toBe(204)
      expect(pre.headers.get('access-control-allow-origin')).toBe('*')
      expect(pre.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE, OPTIONS')
      expect(pre.headers.get('access-control-allow-headers')).toBe('content-type, x-request-id')
      expect(pre.headers.get('access-control-max-age')).toBe('600')
      // A cross-origin POST works and carries the header too.
      const post = await call(r.url, 'POST', '/event', { event_type: 'test' }, { origin: 'https://anywhere.example' })
      expect(post.status).toBe(200)
      expect(post.headers.get('access-control-allow-origin')).toBe('*')
    } finally {
      await r.close()
    }
  })

  it('a configured list: listed origins are echoed with Vary: Origin, others get no CORS headers', async () => {
    const r = await startServer('file', 'cors-list', { env: { EVENT_CORS_ORIGINS: 'https://lab.example, https://ops.example' } })
    try {
      for (const origin of ['https://lab.example', 'https://ops.example']) {
        const res = await call(r.url, 'GET', '/events', undefined, { origin })
        expect(res.headers.get('access-control-allow-origin')).toBe(origin)
        expect(res.headers.get('vary')).toBe('Origin')
      }
      const other = await call(r.url, 'GET', '/events', undefined, { origin: 'https://evil.example' })
      expect(other.status).toBe(200)
      expect(other.headers.get('access-control-allow-origin')).toBeNull()
      const pre = await call(r.url, 'OPTIONS', '/events', undefined, { origin: 'https://evil.example', 'access-control-request-method': 'GET' })
      expect(pre.headers.get('access-control-allow-origin')).toBeNull()
      expect(pre.headers.get('access-control-allow-methods')).toBeNull()
    } finally {
      await r.close()
    }
  })
})
