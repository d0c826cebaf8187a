import { type IncomingMessage, STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Event } from '../../src/event/model.js'
import { eventToJson } from '../../src/event/serialize.js'
import type { ServerContext } from './context.js'
import { detail, HttpError, requestTarget, type Router } from './http.js'
import { filterFromQuery } from './live.js'

/**
 * Live streaming, which MADSci's server lacks: `GET /events/stream` (Server-Sent Events) and
 * `/events/ws` (WebSocket). Filters: `min_level`, `event_type` (comma list), `source.<field>`,
 * `alerts_only`. Resume: the SSE `Last-Event-ID` header (browsers send it on reconnect) or
 * `?last_event_id=`. A client that stops reading (more than 4 MiB unsent) is disconnected; it
 * reconnects with its last id and misses nothing still in the server's buffer.
 */

const MAX_BUFFERED = 4 * 1024 * 1024
const HEARTBEAT_MS = 15_000

const frame = (e: Event): string => `id: ${e.event_id}\nevent: event\ndata: ${eventToJson(e, '_id')}\n\n`

/** Resolves when a writable drains, or closes (then nothing more will be written). */
function drained(w: NodeJS.WritableStream & { once(ev: string, fn: () => void): unknown; off(ev: string, fn: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      w.off('drain', done)
      w.off('close', done)
      resolve()
    }
    w.once('drain', done)
    w.once('close', done)
  })
}

export function streamRoutes(router: Router, ctx: ServerContext): void {
  router.add('GET', '/events/stream', async (req, res) => {
    const filter = filterFromQuery(req.query)
    const last = (req.raw.headers['last-event-id'] as string | undefined) ?? req.query.get('last_event_id') ?? undefined
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    res.write('retry: 1000\n\n')
    ctx.metrics.streamClients++
    let closed = false
    const send = (e: Event): void => {
      if (closed) return
      if (res.writableLength > MAX_BUFFERED) {
        closed = true
        res.destroy()
        return
      }
      res.write(frame(e))
    }
    // The catch-up after a reconnect goes at the client's pace (it may be far more than 4 MiB).
    const replay = async (e: Event): Promise<boolean> => {
      if (closed) return false
      if (!res.write(frame(e))) await drained(res)
      return !closed
    }
    let unsubscribe: (() => void) | undefined
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS)
    heartbeat.unref()
    const cleanup = (): void => {
      closed = true
      clearInterval(heartbeat)
      unsubscribe?.()
      ctx.metrics.streamClients--
    }
    req.raw.on('close', cleanup)
    unsubscribe = await ctx.live.subscribe(filter, send, last || undefined, replay)
    if (closed) unsubscribe()
    else res.write(': live\n\n')
  })
}

/** WebSocket upgrades for `/events/ws`. Messages are `{"type":"event","event":{...}}` (`_id` form). */
export function createWebSocketHandler(ctx: ServerContext, authorize: (req: IncomingMessage, path: string, query: URLSearchParams) => void) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
  /** A refusal written on the raw socket (no HTTP response object exists for an upgrade). */
  const refuse = (socket: Duplex, err: unknown): void => {
    const status = err instanceof HttpError ? err.status : 400
    const body = err instanceof HttpError ? JSON.stringify(err.body) : '{"detail":"Bad Request"}'
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
  }
  // An 'upgrade' listener runs outside any request handling: a throw here was an uncaught
  // exception (the process exited), and a socket error without a listener is one too.
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy())
    try {
      upgrade(req, socket, head)
    } catch (err) {
      if (socket.writable) refuse(socket, err)
      else socket.destroy()
    }
  }
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = requestTarget(req.url)
    if (url.pathname !== '/events/ws') throw detail(404, 'Not Found')
    authorize(req, url.pathname, url.searchParams)
    const filter = filterFromQuery(url.searchParams)
    const last = url.searchParams.get('last_event_id') ?? undefined
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      ctx.metrics.streamClients++
      let unsubscribe: (() => void) | undefined
      let open = true
      const send = (e: Event): void => {
        if (!open) return
        if (ws.bufferedAmount > MAX_BUFFERED) {
          open = false
          ws.terminate()
          return
        }
        ws.send(`{"type":"event","event":${eventToJson(e, '_id')}}`)
      }
      const alive = setInterval(() => ws.ping(), HEARTBEAT_MS)
      alive.unref()
      ws.on('close', () => {
        open = false
        clearInterval(alive)
        unsubscribe?.()
        ctx.metrics.streamClients--
      })
      ws.on('error', () => ws.terminate())
      // The catch-up after a reconnect goes at the client's pace: past 1 MiB queued, wait for the socket.
      const replay = async (e: Event): Promise<boolean> => {
        if (!open) return false
        const text = `{"type":"event","event":${eventToJson(e, '_id')}}`
        if (ws.bufferedAmount < 1024 * 1024) ws.send(text)
        else await new Promise<void>((resolve) => ws.send(text, () => resolve()))
        return open
      }
      void ctx.live.subscribe(filter, send, last, replay).then(
        (u) => {
          unsubscribe = u
          if (!open) u()
          else ws.send('{"type":"live"}')
        },
        () => ws.terminate(),
      )
    })
  }
  return { onUpgrade, close: () => new Promise<void>((resolve) => wss.close(() => resolve())) }
}
