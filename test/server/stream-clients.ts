import { type ClientRequest, type IncomingMessage, request } from 'node:http'
import WebSocket from 'ws'
import { eventually } from './helpers.js'

/**
 * Minimal live-stream clients for the tests: an SSE reader on a raw HTTP response (so a test can
 * stop reading, or drop the connection, at will) and a WebSocket client (`ws`). Both collect the
 * events they receive and know when the server said the stream is live (history sent).
 */

export interface StreamedEvent {
  /** The SSE `id:` (WebSocket: the event's `_id`). */
  id: string
  event: Record<string, any>
}

export class SseClient {
  readonly events: StreamedEvent[] = []
  status = 0
  headers: IncomingMessage['headers'] = {}
  live = false
  closed = false
  retry: number | undefined
  body = ''
  #req: ClientRequest | undefined
  #res: IncomingMessage | undefined
  #buf = ''

  static async connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const c = new SseClient()
    await new Promise<void>((resolve, reject) => {
      c.#req = request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
        c.#res = res
        c.status = res.statusCode ?? 0
        c.headers = res.headers
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => c.#feed(chunk))
        res.on('close', () => (c.closed = true))
        res.on('error', () => (c.closed = true))
        resolve()
      })
      c.#req.on('error', (err) => {
        c.closed = true
        reject(err)
      })
      c.#req.end()
    })
    return c
  }

  #feed(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk
      return
    }
    this.#buf += chunk
    let i: number
    while ((i = this.#buf.indexOf('\n\n')) !== -1) {
      const frame = this.#buf.slice(0, i)
      this.#buf = this.#buf.slice(i + 2)
      let id: string | undefined
      let data: string | undefined
      for (const line of frame.split('\n')) {
        if (line === ': live') this.live = true
        else if (line.startsWith('id: ')) id = line.slice(4)
        else if (line.startsWith('data: ')) data = line.slice(6)
        else if (line.startsWith('retry: ')) this.retry = Number(line.slice(7))
      }
      if (data !== undefined) this.events.push({ id: id ?? '', event: JSON.parse(data) })
    }
  }

  get ids(): string[] {
    return this.events.map((e) => e.id)
  }

  get lastId(): string | undefined {
    return this.events.at(-1)?.id
  }

  /** Stop reading: the kernel buffers fill and the server's writes back up. */
  pause(): void {
    this.#res?.pause()
    this.#res?.socket.pause()
  }

  /** Read again after pause(). */
  resume(): void {
    this.#res?.socket.resume()
    this.#res?.resume()
  }

  async waitLive(): Promise<void> {
    await eventually(() => (this.live || this.closed ? true : undefined))
    if (!this.live) throw new Error(`the stream closed before it was live (status ${this.status}: ${this.body})`)
  }

  waitFor(n: number): Promise<StreamedEvent[]> {
    return eventually(() => (this.events.length >= n ? this.events.slice(0, n) : undefined))
  }

  close(): void {
    this.#req?.destroy()
    this.closed = true
  }
}

export class WsClient {
  readonly events: StreamedEvent[] = []
  readonly other: unknown[] = []
  live = false
  closed = false
  closeCode: number | undefined
  readonly ws: WebSocket

  private constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; event?: Record<string, any> }
      if (m.type === 'live') this.live = true
      else if (m.type === 'event' && m.event) this.events.push({ id: m.event._id, event: m.event })
      else this.other.push(m)
    })
    ws.on('close', (code) => {
      this.closed = true
      this.closeCode = code
    })
    ws.on('error', () => (this.closed = true))
  }

  /** Connect; rejects with `{ status, body }` when the upgrade is refused. */
  static connect(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers })
      const client = new WsClient(ws)
      ws.once('open', () => resolve(client))
      ws.once('unexpected-response', (_req, res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })))
      })
      ws.once('error', (err) => reject(err))
    })
  }

  get ids(): string[] {
    return this.events.map((e) => e.id)
  }

  /** Stop reading from the socket. */
  pause(): void {
    ;(this.ws as unknown as { _socket: { pause(): void } })._socket.pause()
  }

  /** Read again after pause(). */
  resume(): void {
    ;(this.ws as unknown as { _socket: { resume(): void } })._socket.resume()
  }

  async waitLive(): Promise<void> {
    await eventually(() => (this.live || this.closed ? true : undefined))
    if (!this.live) throw new Error('the WebSocket closed before it was live')
  }

  waitFor(n: number): Promise<StreamedEvent[]> {
    return eventually(() => (this.events.length >= n ? this.events.slice(0, n) : undefined))
  }

  close(): void {
    this.ws.terminate()
  }
}
