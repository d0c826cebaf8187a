import { describe, expect, it } from 'vitest'
import { call, startServer } from './helpers.js'

/** X-Request-ID (beyond MADSci, which reads it but never echoes it): echoed, or a new ULID, on every answer. */

describe('X-Request-ID', () => {
  it('is echoed on successes and on every kind of error; a new ULID when the client sent none; long ones are cut to 200 characters', async () => {
    const r = await startServer('file', 'reqid', { env: { EVENT_SERVER_TOKEN: 't0k', EVENT_MAX_BODY_BYTES: '1024' } })
    try {
      const auth = { authorization: 'Bearer t0k' }
      const cases: Array<[string, string, unknown, Record<string, string>, number]> = [
        ['GET', '/health', undefined, {}, 200],
        ['POST', '/event', { event_type: 'test' }, auth, 200],
        ['GET', '/event/missing', undefined, auth, 404],
        ['POST', '/event', { log_level: 25 }, auth, 422],
        ['GET', '/events', undefined, {}, 401],
        ['POST', '/event', 'x'.repeat(2000), auth, 413],
        ['PUT', '/events', undefined, auth, 405],
      ]
      for (const [method, path, body, headers, status] of cases) {
        const id = `req-${method}-${status}`
        const res = await call(r.url, method, path, body, { ...headers, 'x-request-id': id })
        expect([path, res.status, res.headers.get('x-request-id')]).toEqual([path, status, id])
      }
      const generated = await call(r.url, 'GET', '/health')
      expect(generated.headers.get('x-request-id')).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
      const other = await call(r.url, 'GET', '/health')
      expect(other.headers.get('x-request-id')).not.toBe(generated.headers.get('x-request-id'))
      const long = await call(r.url, 'GET', '/health', undefined, { 'x-request-id': 'a'.repeat(500) })
      expect(long.headers.get('x-request-id')).toBe('a'.repeat(200))
    } finally {
      await r.close()
    }
  })
})
