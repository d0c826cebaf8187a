/**
 * Malformed request targets (issue 21, item 1). `GET // HTTP/1.1` (also `//x:99999/...`, `//[/`)
 * made `new URL(target, base)` throw outside the request's error handling: an unhandled rejection
 * in the request listener and an uncaught exception in the WebSocket upgrade listener; either
 * ended the process. A browser sends `GET //` for `<img src="http://127.0.0.1:8001//">`.
 *
 * Every request here goes over a raw `net.Socket` exactly as written (a URL-normalising client
 * would repair `//` before sending it). Each must get an answer below 500 and leave the server
 * running, with or without a token; fast-check then fuzzes request lines, headers and upgrade
 * requests the same way.
 */
import { connect } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Running, startServer } from '../server/helpers.js'

const TOKEN = 'target-token-7f3a'

interface Answer {
  /** The status of the response head, or undefined when the socket closed without one. */
  status?: number
  head: string
}

/** Send `bytes` as they are; resolve with the response head (or none, when the server closes first). */
function exchange(url: string, bytes: Buffer | string, timeoutMs = 5000): Promise<Answer> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let got = Buffer.alloc(0)
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const head = got.toString('latin1').split('\r\n\r\n')[0]
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head)
      resolve({ status: m ? Number(m[1]) : undefined, head })
    }
    const timer = setTimeout(() => {
      done = true
      socket.destroy()
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(String(bytes).slice(0, 200))}`))
    }, timeoutMs)
    socket.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c])
      if (got.includes('\r\n\r\n')) finish()
    })
    socket.on('close', finish)
    socket.on('error', finish)
    socket.write(bytes)
  })
}

const request = (target: string, headers: string[] = []): string => [`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...headers, 'Connection: close', '', ''].join('\r\n')
const upgrade = (target: string, headers: string[] = []): string =>
  [`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...headers, '', ''].join('\r\n')

/** Unhandled rejections and uncaught exceptions while a test runs (either would end a server process). */
function watchProcess(): { failures: unknown[]; stop(): void } {
  const failures: unknown[] = []
  const onFailure = (err: unknown): void => {
    failures.push(err)
  }
  process.on('unhandledRejection', onFailure)
  process.on('uncaughtException', onFailure)
  return {
    failures,
    stop() {
      process.off('unhandledRejection', onFailure)
      process.off('uncaughtException', onFailure)
    },
  }
}

/** The request targets of the issue and their relatives. */
const ISSUE_TARGETS = ['//', '//x:99999/', '//[/', '//x:99999/events?number=1', '//[::1', '//@', '//:', '//a:b@', '//x:-1/', '//%zz', '///', '\\\\', '//\\']

describe.each([
  ['without a token', {}],
  ['with a token', { EVENT_SERVER_TOKEN: TOKEN }],
])('malformed request targets (%s)', (_name, env) => {
  let r: Running
  let watch: ReturnType<typeof watchProcess>
  beforeAll(async () => {
    r = await startServer('file', 'request-target', { env })
    watch = watchProcess()
  })
  afterAll(async () => {
    watch?.stop()
    await r?.close()
  })

  it('GET // and the issue\'s other targets: a 4xx each, over plain requests and WebSocket upgrades; the server keeps running', async () => {
    for (const target of ISSUE_TARGETS) {
      for (const send of [request, upgrade]) {
        const a = await exchange(r.url, send(target))
        expect([target, send.name, a.status !== undefined && a.status >= 400 && a.status < 500], a.head).toEqual([target, send.name, true])
      }
    }
    // The issue's request, in a browser's words: an image at http://host// (no token is sent).
    const img = await exchange(r.url, request('//', ['Accept: image/avif,image/webp,*/*', 'Referer: http://evil.example/']))
    expect(img.status).toBe('EVENT_SERVER_TOKEN' in env ? 401 : 404)
    expect((await exchange(r.url, request('/health'))).status).toBe(200)
    expect(watch.failures).toEqual([])
    expect(r.errors).toEqual([])
  })

  it('a target that is no path at all (`*`, `x`) is 400 with a JSON detail; an absolute-form target is served by its path', async () => {
    for (const target of ['*', 'x', 'mailto:a@b', 'http:/', 'http://[/']) {
      const a = await exchange(r.url, request(target))
      expect([target, a.status]).toEqual([target, 400])
    }
    const absolute = await exchange(r.url, request('http://elsewhere.example/health'))
    expect(absolute.status).toBe(200)
    expect(watch.failures).toEqual([])
  })
})

// ------------------------------------------------------------------ fuzz

/** Mostly what a parser accepts (so requests reach our handler), with some of what it refuses. */
const method = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PUT') },
  { weight: 1, arbitrary: fc.constantFrom('PATCH', 'CONNECT', 'TRACE', 'get', 'G ET', 'GET\t', '') },
)
const pieces = fc.oneof(
  {
    weight: 40,
    arbitrary: fc.constantFrom(
      '/', '//', '///', '[', ']', ':', '@', '?', '#', '%', '%zz', '%00', '%2F', '%ff', '..', '.', '\\', ':99999', ':-1', '[::1]', 'x', 'events', 'event', 'ws',
      'health', 'stream', 'utilization', 'periods', 'archived', '?number=', '&', '=', 'access_token', '*', 'http:', 'https://', '~',
    ),
  },
  // What the parser refuses in a target: spaces, controls, bytes above ASCII.
  { weight: 1, arbitrary: fc.constantFrom('\u00e9', '\u00ff', ' ', '\t', '\u0000', '\u007f') },
)
const target = fc.oneof(
  { weight: 3, arbitrary: fc.array(pieces, { maxLength: 12 }).map((p) => '//' + p.join('')) },
  { weight: 3, arbitrary: fc.array(pieces, { maxLength: 12 }).map((p) => '/' + p.join('')) },
  { weight: 1, arbitrary: fc.array(pieces, { maxLength: 12 }).map((p) => p.join('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => '/' + s) },
  { weight: 1, arbitrary: fc.nat({ max: 4 }).map((n) => '/' + 'a'.repeat(10 ** n)) },
)
const version = fc.oneof({ weight: 8, arbitrary: fc.constant('HTTP/1.1') }, { weight: 2, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/9.9', 'http/1.1', '') })
const headerName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('X-Request-ID', 'Origin', 'Access-Control-Request-Method', 'Access-Control-Request-Headers', 'Authorization', 'Last-Event-ID', 'Content-Type', 'Accept', 'Cookie', 'Upgrade', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Sec-WebSocket-Extensions', 'Host', 'Expect') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 12 }) },
)
const headerValue = fc.oneof(
  // Latin-1 text (sent one byte per character): printable, obs-text, and rarely controls.
  { weight: 6, arbitrary: fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom('', 'Bearer ' + TOKEN, 'Bearer', '*', 'null', 'websocket', '100-continue', 'permessage-deflate; client_max_window_bits=99', 'GET', 'x'.repeat(9000)) },
)
const headers = fc.array(fc.tuple(headerName, headerValue).map(([n, v]) => `${n}: ${v}`), { maxLength: 4 })

/** Latin-1 bytes, so every generated character below 256 reaches the parser as one byte. */
const bytes = (text: string): Buffer => Buffer.from(text, 'latin1')

describe('fuzzed request lines, headers and upgrade requests over a socket', () => {
  let r: Running
  let watch: ReturnType<typeof watchProcess>
  beforeAll(async () => {
    r = await startServer('file', 'request-fuzz', { env: { EVENT_SERVER_TOKEN: TOKEN } })
    watch = watchProcess()
  })
  afterAll(async () => {
    watch?.stop()
    await r?.close()
  })

  it('never a 5xx, never an unhandled rejection or uncaught exception; the server keeps serving', async () => {
    const statuses = new Map<string, number>()
    const count = (a: Answer): void => {
      // Node's parser answers what it cannot parse itself (400 or 431 without a body): counted apart.
      const k = a.status === undefined ? 'closed' : /content-type/i.test(a.head) || a.status < 400 ? String(a.status) : `${a.status} (parser)`
      statuses.set(k, (statuses.get(k) ?? 0) + 1)
    }
    const check = (text: string, a: Answer): void => {
      count(a)
      if (a.status !== undefined && a.status >= 500) throw new Error(`${JSON.stringify(text.slice(0, 300))} answered ${a.head}`)
    }
    await fc.assert(
      fc.asyncProperty(method, target, version, headers, async (m, t, v, hs) => {
        const text = [`${m} ${t} ${v}`, 'Host: 127.0.0.1', ...hs, 'Connection: close', '', ''].join('\r\n')
        check(text, await exchange(r.url, bytes(text)))
      }),
      { numRuns: 400 },
    )
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(target, target.map((t) => `/events/ws${t}`), fc.constantFrom('/events/ws', '/events/ws?access_token=' + TOKEN, '//events/ws', '/events/ws?min_level=%zz')),
        headers,
        fc.boolean(),
        async (t, hs, withToken) => {
          const text = upgrade(t, [...hs, ...(withToken ? [`Authorization: Bearer ${TOKEN}`] : [])])
          check(text, await exchange(r.url, bytes(text)))
        },
      ),
      { numRuns: 300 },
    )
    // Raw garbage instead of a request line.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (garbage) => {
        const buf = Buffer.concat([Buffer.from(garbage), Buffer.from('\r\n\r\n')])
        check(buf.toString('latin1'), await exchange(r.url, buf))
      }),
      { numRuns: 100 },
    )
    console.log(`[request fuzz] answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
    // Both kinds of answer were reached: the parser's own 400s and ours (401 without a token, 404, 400 for a target that is no path).
    expect(statuses.get('400 (parser)') ?? 0).toBeGreaterThan(50)
    expect(statuses.get('400') ?? 0).toBeGreaterThan(0)
    expect((statuses.get('401') ?? 0) + (statuses.get('404') ?? 0)).toBeGreaterThan(200)
    expect(watch.failures).toEqual([])
    expect(r.errors).toEqual([])
    expect((await exchange(r.url, request('/health'))).status).toBe(200)
  })
})
