import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ValidationIssue } from '../../src/errors.js'
import { safeJsonStringify, toJsonSafe } from '../../src/event/json-safe.js'
import { isTimestampProblem, parseTimestamp } from '../../src/event/timestamp.js'

/**
 * HTTP plumbing shaped like FastAPI's, so Python clients parse our errors: `{"detail": "..."}`
 * for explicit errors, `{"detail": [{type, loc, msg, input}]}` with 422 for validation.
 */

export class HttpError extends Error {
  readonly status: number
  readonly body: unknown
  readonly headers: Record<string, string>
  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    super(typeof body === 'string' ? body : safeJsonStringify(body))
    this.status = status
    this.body = body
    this.headers = headers
  }
}

export function detail(status: number, message: string, headers?: Record<string, string>): HttpError {
  return new HttpError(status, { detail: message }, headers)
}

/**
 * A 422 with FastAPI's detail list. Each `input` is echoed JSON-safe: an input nested deeper than
 * 64 levels is cut there (`"[MaxDepth]"`); echoing it whole overflowed the stack and answered 500.
 */
export function validationError(issues: ValidationIssue[]): HttpError {
  return new HttpError(422, { detail: issues.map((i) => ('input' in i ? { ...i, input: toJsonSafe(i.input) } : i)) })
}

export interface Request {
  raw: IncomingMessage
  method: string
  path: string
  query: URLSearchParams
  params: Record<string, string>
  requestId: string
  ip: string
  /** The body, read on demand with the size limit. */
  body(): Promise<Buffer>
}

/** Read a body up to `limit` bytes; past it, 413. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) {
      req.resume()
      reject(detail(413, `Request body too large: ${declared} bytes; the limit is ${limit} bytes`))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    req.on('data', (c: Buffer) => {
      if (failed) return
      size += c.length
      if (size > limit) {
        failed = true
        reject(detail(413, `Request body too large: more than ${limit} bytes`))
        req.resume()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks))
    })
    req.on('error', (err) => {
      if (!failed) reject(err)
    })
  })
}

/**
 * Parse a JSON body as FastAPI does: an empty body is "Field required" (when `required`), invalid
 * JSON or invalid UTF-8 is `json_invalid`. Keys named `__proto__` stay plain data (JSON.parse never
 * sets prototypes).
 */
export function parseJson(buf: Buffer, required = true): unknown {
  if (buf.length === 0) {
    if (!required) return undefined
    throw validationError([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }])
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf)
  } catch {
    throw validationError([{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {}, ctx: { error: 'Invalid UTF-8 in the request body' } }])
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message)
    throw validationError([{ type: 'json_invalid', loc: ['body', m ? Number(m[1]) : 0], msg: 'JSON decode error', input: {}, ctx: { error: (err as Error).message } }])
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/**
 * The path and query of a request target (RFC 9112 §3.2), never throwing anything but a 400.
 * `new URL(target, base)` reads `//host...` as a scheme-relative URL and throws on `//`, `//x:99999`
 * or `//[`: one such request line (a browser sends `GET //` for `<img src="http://host//">`) killed
 * the server. Origin-form targets are read under a fixed origin, so `//x` is the path `//x`;
 * absolute-form (`http://host/p`, sent to proxies) gives its path; anything else (`*`) is refused.
 */
export function requestTarget(target: string | undefined): { pathname: string; searchParams: URLSearchParams } {
  const raw = target ?? '/'
  let url: URL | undefined
  try {
    if (raw.startsWith('/')) url = new URL(`http://localhost${raw}`)
    else if (/^https?:\/\//i.test(raw)) url = new URL(raw)
  } catch {
    url = undefined
  }
  if (!url) throw detail(400, 'Invalid request target: expected a path such as /events')
  return { pathname: url.pathname, searchParams: url.searchParams }
}

// ------------------------------------------------------------------ query parameters, FastAPI-style

const TRUE = new Set(['true', '1', 'yes', 'on', 't', 'y'])
const FALSE = new Set(['false', '0', 'no', 'off', 'f', 'n'])

export class QueryParser {
  readonly issues: ValidationIssue[] = []
  constructor(readonly query: URLSearchParams) {}

  str(name: string): string | undefined {
    const v = this.query.get(name)
    return v === null ? undefined : v
  }

  int(name: string, fallback: number, options: { min?: number; max?: number } = {}): number {
    const v = this.query.get(name)
    if (v === null) return fallback
    const n = pydanticInt(v)
    if (n === undefined) {
      this.issues.push({ type: 'int_parsing', loc: ['query', name], msg: 'Input should be a valid integer, unable to parse string as an integer', input: v })
      return fallback
    }
    if (options.min !== undefined && n < options.min) {
      this.issues.push({ type: 'greater_than_equal', loc: ['query', name], msg: `Input should be greater than or equal to ${options.min}`, input: v, ctx: { ge: options.min } })
      return fallback
    }
    if (options.max !== undefined && n > options.max) {
      this.issues.push({ type: 'less_than_equal', loc: ['query', name], msg: `Input should be less than or equal to ${options.max}`, input: v, ctx: { le: options.max } })
      return fallback
    }
    return n
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.query.get(name)
    if (v === null) return fallback
    const s = v.toLowerCase()
    if (TRUE.has(s)) return true
    if (FALSE.has(s)) return false
    this.issues.push({ type: 'bool_parsing', loc: ['query', name], msg: 'Input should be a valid boolean, unable to interpret input', input: v })
    return fallback
  }

  /**
   * A datetime as FastAPI parses it, returned as Python's `isoformat()` of the parsed value (what
   * MADSci compares `event_timestamp` strings against): naive stays naive, UTC becomes `+00:00`.
   */
  datetime(name: string): string | undefined {
    const v = this.query.get(name)
    if (v === null) return undefined
    const p = parseTimestamp(v)
    if (isTimestampProblem(p)) {
      this.issues.push({ type: p.type, loc: ['query', name], msg: p.msg, input: v })
      return undefined
    }
    return pythonIsoformat(p.text)
  }

  /** Throw the 422 when any parameter was bad. */
  check(): void {
    if (this.issues.length) throw validationError(this.issues)
  }
}

/**
 * An integer from a string as pydantic (lax mode) reads one: surrounding whitespace, a sign, `_`
 * between digits and a zero fraction (`5.0`) are accepted; `5.5`, `1e3`, `0x10` are not.
 */
export function pydanticInt(text: string): number | undefined {
  const m = /^\s*([+-]?\d(?:_?\d)*)(?:\.0*)?\s*$/.exec(text)
  if (!m) return undefined
  const n = Number(m[1].replace(/_/g, ''))
  return Number.isSafeInteger(n) ? n : undefined
}

/** Python `datetime.isoformat()` for a pydantic-rendered timestamp (`Z` → `+00:00`). */
export function pythonIsoformat(text: string): string {
  return text.endsWith('Z') ? `${text.slice(0, -1)}+00:00` : text
}

// ------------------------------------------------------------------ router

export type Handler = (req: Request, res: ServerResponse) => Promise<void> | void

/** What `/openapi.json` says about a route its module did not describe there itself. */
export interface RouteDoc {
  summary: string
  description?: string
  tags?: string[]
  /** Response media type (default application/json). */
  produces?: string
}

interface Route {
  method: string
  path: string
  pattern: RegExp
  keys: string[]
  handler: Handler
  doc?: RouteDoc
}

export class Router {
  readonly #routes: Route[] = []

  add(method: string, path: string, handler: Handler, doc?: RouteDoc): this {
    const keys: string[] = []
    const pattern = new RegExp(
      '^' +
        path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, k: string) => {
          keys.push(k)
          return '([^/]+)'
        }) +
        // An optional trailing slash, except after one (`//` is not the route `/`).
        (path.endsWith('/') ? '$' : '/?$'),
    )
    this.#routes.push({ method, path, pattern, keys, handler, doc })
    return this
  }

  /** The handler for a request, or a 404/405 error. */
  match(method: string, rawPath: string): { handler: Handler; params: Record<string, string>; route: string } {
    // Routes match the decoded path, as Starlette's do (`/event/a%2Fb` is `/event/a/b`: no route).
    let path = rawPath
    try {
      path = decodeURIComponent(rawPath)
    } catch {
      /* malformed escapes: match the raw path */
    }
    let pathMatched = false
    for (const r of this.#routes) {
      const m = r.pattern.exec(path)
      if (!m) continue
      pathMatched = true
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue
      const params: Record<string, string> = {}
      r.keys.forEach((k, i) => {
        params[k] = m[i + 1]
      })
      return { handler: r.handler, params, route: r.path }
    }
    throw pathMatched ? detail(405, 'Method Not Allowed') : detail(404, 'Not Found')
  }

  get routes(): Array<{ method: string; path: string; doc?: RouteDoc }> {
    return this.#routes.map((r) => ({ method: r.method, path: r.path, ...(r.doc ? { doc: r.doc } : {}) }))
  }
}
