import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A real HTTP server speaking the Event Manager's ingest routes (`POST /event`, optionally
 * `POST /events/batch`, `GET /health`), storing events by id like MongoDB's unique `_id`, with a
 * script of failures to answer first. Used to test the HTTP sink and the pipeline against a real
 * socket, where the Python server cannot be told to fail.
 */
export interface Failure {
  status: number
  headers?: Record<string, string>
  /** Answer this many requests with it. */
  times: number
}

export interface ReceiverOptions {
  batch?: boolean
  port?: number
}

export class Receiver {
  readonly events = new Map<string, Record<string, unknown>>()
  duplicates = 0
  requests = 0
  /** Arrival time (ms) and status of every request. */
  readonly log: Array<{ at: number; path: string; status: number }> = []
  failures: Failure[] = []
  /** When true, requests are accepted but never answered (a network stall). */
  stall = false
  #server: Server
  #stalled: ServerResponse[] = []
  readonly batch: boolean

  private constructor(server: Server, batch: boolean) {
    this.#server = server
    this.batch = batch
  }

  static async start(options: ReceiverOptions = {}): Promise<Receiver> {
    let receiver: Receiver | undefined
    const server = createServer((req, res) => receiver?.handle(req, res))
    receiver = new Receiver(server, options.batch ?? false)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
    })
    return receiver
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  #store(e: Record<string, unknown>): 'created' | 'duplicate' {
    const id = String(e.event_id ?? e._id)
    if (this.events.has(id)) {
      this.duplicates++
      return 'duplicate'
    }
    this.events.set(id, e)
    return 'created'
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      this.requests++
      const path = (req.url ?? '').split('?')[0]
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        this.log.push({ at: Date.now(), path, status })
        res.writeHead(status, { 'content-type': 'application/json', ...headers, ...(this.batch ? { 'x-madsci-events': 'test; batch' } : {}) })
        res.end(typeof body === 'string' ? body : JSON.stringify(body))
      }
      if (this.stall) {
        this.#stalled.push(res)
        return
      }
      const f = this.failures[0]
      if (f && path !== '/health') {
        f.times--
        if (f.times <= 0) this.failures.shift()
        answer(f.status, { detail: `scripted ${f.status}` }, f.headers)
        return
      }
      if (req.method === 'GET' && path === '/health') return answer(200, { healthy: true })
      const text = Buffer.concat(chunks).toString('utf8')
      if (req.method === 'POST' && path === '/event') {
        const e = JSON.parse(text)
        this.#store(e)
        return answer(200, e)
      }
      if (req.method === 'POST' && path === '/events/batch' && this.batch) {
        const list = JSON.parse(text) as Record<string, unknown>[]
        return answer(200, list.map((e) => ({ event_id: e.event_id, status: this.#store(e) })))
      }
      answer(404, { detail: 'Not Found' })
    })
  }

  async close(): Promise<void> {
    for (const r of this.#stalled) r.destroy()
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
