/// <reference lib="dom" />
/**
 * The server's HTTP API as the page uses it: the base URL (the page may sit behind a path prefix),
 * the bearer token (asked once, kept in sessionStorage only), JSON requests.
 */

const TOKEN_KEY = 'madsci-events.token'

/** The server root, from where the script was loaded: `<root>ui/app.js`. */
export const BASE: string = (() => {
  const src = (document.currentScript as HTMLScriptElement | null)?.src
  if (src) return new URL('../', src).href
  return new URL('/', location.href).href
})()

export class AuthRequiredError extends Error {
  constructor(readonly invalid: boolean) {
    super(invalid ? 'The token was refused' : 'This server needs a token')
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY)
  } catch {
    return null
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token)
    else sessionStorage.removeItem(TOKEN_KEY)
  } catch {
    // Storage disabled: the token lives as long as the page.
  }
  memoryToken = token
}

let memoryToken: string | null = null
const token = (): string | null => getToken() ?? memoryToken

export function apiUrl(path: string, params?: URLSearchParams): string {
  const u = new URL(path.replace(/^\//, ''), BASE)
  if (params) u.search = params.toString()
  return u.href
}

/** A JSON request with the token. Throws AuthRequiredError on 401, ApiError on other failures. */
export async function api<T>(path: string, init: { method?: string; params?: URLSearchParams; body?: unknown; signal?: AbortSignal; raw?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  const t = token()
  if (t) headers.authorization = `Bearer ${t}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(apiUrl(path, init.params), {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
    cache: 'no-store',
  })
  if (res.status === 401) throw new AuthRequiredError(t !== null)
  const text = await res.text()
  if (!res.ok) {
    let message = text
    try {
      const d = (JSON.parse(text) as { detail?: unknown }).detail
      message = typeof d === 'string' ? d : JSON.stringify(d)
    } catch {
      // not JSON: keep the text
    }
    throw new ApiError(res.status, `${res.status}: ${message || res.statusText}`)
  }
  return (init.raw ? text : JSON.parse(text)) as T
}

/** The live stream's URL; EventSource cannot send headers, so the token goes as `access_token`. */
export function streamUrl(params: URLSearchParams, lastEventId: string | null): string {
  const p = new URLSearchParams(params)
  if (lastEventId) p.set('last_event_id', lastEventId)
  const t = token()
  if (t) p.set('access_token', t)
  return apiUrl('/events/stream', p)
}
