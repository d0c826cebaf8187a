import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir } from 'node:fs/promises'
import { ConfigError, EventValidationError, QueryRefusedError, StoreUnavailableError } from '../../src/errors.js'
import { createLoggerCore, type EventLoggerOptions } from '../../src/logger/create.js'
import type { LoggerCore } from '../../src/logger/logger.js'
import type { CloseReport } from '../../src/pipeline/pipeline.js'
import { FileStore } from '../../src/stores/file.js'
import { MongoStore } from '../../src/stores/mongo.js'
import type { ManagedStore } from '../../src/stores/types.js'
import { newUlid } from '../../src/event/ulid.js'
import { parseEvent } from '../../src/event/validate.js'
import type { EventInput } from '../../src/event/model.js'
import { type AlertDispatcher, type AlertOptions, createAlertDispatcher, redactAlertOptions } from '../../src/notify/index.js'
import { makeWarning, type MadsciWarning } from '../../src/warnings.js'
import type { ServerContext } from './context.js'
import { corsHeaders, RateLimiter, TokenAuth } from './guard.js'
import { detail, HttpError, readBody, type Request, requestTarget, Router, sendJson } from './http.js'
import { LiveHub } from './live.js'
import { Metrics } from './metrics.js'
import { Retention } from './retention.js'
import { adminRoutes } from './routes-admin.js'
import { eventRoutes } from './routes-events.js'
import { createWebSocketHandler, streamRoutes } from './routes-stream.js'
import { describeStore, loadSettings, type ServerSettings, settingsFromEnv } from './settings.js'
import { VERSION } from './version.js'
import { viewerPlugin } from './viewer.js'
import { WriteOutcomes } from './write-outcomes.js'
import { analysisRoutes } from './routes-analysis.js'

/**
 * `createServer(options)`: MADSci's Event Manager HTTP API in Node, over the same pipeline and
 * stores as the logger (MongoDB when a database URL is set, otherwise the embedded file store).
 */

export interface ServerOptions {
  /** Settings over the environment's (`EVENT_*`, as MADSci). */
  settings?: Partial<ServerSettings>
  env?: NodeJS.ProcessEnv
  /** A store of your own instead of MongoDB / the file store. */
  store?: ManagedStore
  /** In-process consumers of every ingested event (notifier dispatchers, analyzers). */
  consumers?: EventLoggerOptions['consumers']
  /**
   * Alerts beyond MADSci's email (webhooks, console, plugins; storm control). The email notifier of
   * `email_alerts` (EVENT_EMAIL_ALERTS) is added to these; `alert_level` applies unless set here.
   */
  alerts?: AlertOptions
  /** Extra routes (the analysis and viewer modules register theirs here). */
  plugins?: Array<(router: Router, ctx: ServerContext) => void>
  /** Serve the live viewer page at `/` and `/ui`. Default true. */
  viewer?: boolean
  /** Serve the analysis routes (`/utilization/*`, `/events/export`, `/events/aggregate`, charts). Default true. */
  analysis?: boolean
  /** Degraded-mode notices. Default: stderr, once each. */
  onWarning?: (w: MadsciWarning) => void
  /** Unexpected errors (a 500, a failed background pass). Default: stderr. */
  onError?: (err: Error, where: string) => void
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1'])
/** A database that has not answered by then is said on stderr (the driver itself waits 5 s). */
const STORE_NOTICE_MS = 1500
/** How often the server tries a database that did not answer at start. */
const STORE_RETRY_MS = 2000
/** Events the ingest queue holds while the database does not answer. */
const INGEST_QUEUE_EVENTS = 100_000

export class MadsciServer {
  readonly settings: ServerSettings
  readonly store: ManagedStore
  readonly context: ServerContext
  readonly #router = new Router()
  readonly #auth: TokenAuth
  readonly #limiter: RateLimiter
  readonly #server: Server
  readonly #ws: ReturnType<typeof createWebSocketHandler>
  readonly #onError: (err: Error, where: string) => void
  readonly #onWarning: (w: MadsciWarning) => void
  #inFlight = 0
  #drained: (() => void) | undefined
  #closing: Promise<CloseReport> | undefined
  #started = false

  constructor(options: ServerOptions = {}) {
    const env = options.env ?? process.env
    this.settings = loadSettings(options.settings, env)
    const s = this.settings
    const warned = new Set<string>()
    let storeState: string | undefined
    const onWarning = options.onWarning ?? ((w: MadsciWarning) => {
      if (w.code === 'MADSCI_WARN_STORE_UNREACHABLE' || w.code === 'MADSCI_WARN_STORE_REACHABLE') {
        // One line per change of state, however many parts of the server notice it.
        if (storeState === w.code) return
        storeState = w.code
      } else if (warned.has(w.code)) return
      warned.add(w.code)
      process.stderr.write(`madsci-events server warning ${w.code}: ${w.message}\n`)
    })
    this.#onWarning = onWarning
    this.#onError = options.onError ?? ((err, where) => process.stderr.write(`madsci-events server error (${where}): ${err.stack ?? err.message}\n`))
    this.store =
      options.store ??
      (s.document_db_url
        ? new MongoStore(s.document_db_url, { database: s.database_name, collection: s.collection_name, onWarning })
        : new FileStore(s.data_file, { onWarning }))
    // Alerts (SPEC §4): MADSci's email_alerts plus any notifiers given in code, fed every ingested
    // event. Unlike MADSci, POST /event does not wait for the SMTP sessions (lanes send them).
    let dispatcher: AlertDispatcher | undefined
    let logOwn: (e: EventInput) => void = () => undefined
    const notifiers = [...(options.alerts?.notifiers ?? [])]
    if (s.email_alerts) notifiers.push({ type: 'email', ...(s.email_alerts as Record<string, unknown>) } as never)
    if (notifiers.length) {
      dispatcher = createAlertDispatcher({ alertLevel: s.alert_level, ...options.alerts, notifiers }, { log: (e) => logOwn(e) })
    }
    const writeOutcomes = new WriteOutcomes()
    const { core } = createLoggerCore({
      sinks: [writeOutcomes.sink(this.store)],
      spool: false,
      level: 0,
      // Group commit: requests arriving together share a batch; one arriving alone waits ~1 ms.
      batch: { flushIntervalMs: 1, maxEvents: 1000, maxInFlight: 4 },
      queue: { maxEvents: INGEST_QUEUE_EVENTS, maxBytes: 256 * 1024 * 1024 },
      overflow: 'drop-newest',
      consumers: [...(dispatcher ? [dispatcher] : []), ...(options.consumers ?? [])],
      saveOnExit: false,
      otel: false,
      env: {},
      onWarning,
    })
    const live = new LiveHub(this.store, {
      capacity: s.live_buffer_events,
      pollIntervalMs: s.live_poll_interval_ms,
      orderWindowMs: s.live_order_window_ms,
      // A client fails over once an instance has held its request this long; what it then stores
      // elsewhere is that late, and a poll must still find it.
      lookbackMs: Math.max(5000, s.ingest_timeout_ms + 2000),
      onWarning,
      onError: (err) => this.#onError(err, 'live stream'),
    })
    core.pipeline.on('event', (e) => live.publish(e))
    // The dispatcher's own reports (a failed SMTP session) are events of this server.
    logOwn = (input) => {
      try {
        core.pipeline.push(parseEvent(input, { defaultSource: { manager_id: s.manager_id } }))
      } catch (err) {
        this.#onError(err as Error, 'alerts')
      }
    }
    this.context = {
      settings: s,
      settingsBaseline: settingsFromEnv(env),
      store: this.store,
      core,
      pipeline: core.pipeline,
      live,
      retention: new Retention(this.store, s, (err) => this.#onError(err, 'retention')),
      metrics: new Metrics(),
      ownership: { manager_id: s.manager_id },
      version: VERSION,
      extraMetrics: dispatcher ? [() => alertMetrics(dispatcher)] : [],
      alerts: dispatcher,
      writeOutcomes,
    }
    this.#auth = new TokenAuth(s.auth_token)
    this.#limiter = new RateLimiter(s)
    eventRoutes(this.#router, this.context)
    streamRoutes(this.#router, this.context)
    adminRoutes(this.#router, this.context)
    if (options.analysis !== false) analysisRoutes(this.#router, this.context)
    if (options.viewer !== false && !options.plugins?.includes(viewerPlugin)) viewerPlugin(this.#router, this.context)
    for (const plugin of options.plugins ?? []) plugin(this.#router, this.context)
    this.#server = createHttpServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => void this.handle(req, res))
    this.#ws = createWebSocketHandler(this.context, (req, path, query) => this.#auth.check(req, path, query))
    this.#server.on('upgrade', this.#ws.onUpgrade)
  }

  /** The logger core the server ingests through (stats, flush). */
  get core(): LoggerCore {
    return this.context.core
  }

  /** The routes served, for documentation and tests. */
  get routes(): Array<{ method: string; path: string }> {
    return this.#router.routes
  }

  /** The Node request listener, to mount the API in an existing HTTP server. */
  readonly handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now()
    this.#inFlight++
    const requestId = (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].slice(0, 200)) || newUlid()
    res.setHeader('x-request-id', requestId)
    res.setHeader('x-madsci-events', `${VERSION}; batch; stream`)
    let route = 'unmatched'
    // Everything below answers through #fail: a throw outside it was an unhandled rejection (the process exited).
    try {
      const url = requestTarget(req.url)
      for (const [k, v] of Object.entries(corsHeaders(this.settings.cors_origins, req))) res.setHeader(k, v)
      // A CORS preflight; any other OPTIONS request is routed (and gets 405, as in MADSci).
      if (req.method === 'OPTIONS' && req.headers.origin && req.headers['access-control-request-method']) {
        res.writeHead(204)
        res.end()
        return
      }
      try {
        this.#auth.check(req, url.pathname, url.searchParams)
      } catch (err) {
        this.context.metrics.authFailures++
        throw err
      }
      const ip = req.socket.remoteAddress ?? 'unknown'
      let rateHeaders: Record<string, string>
      try {
        rateHeaders = this.#limiter.hit(ip)
      } catch (err) {
        this.context.metrics.rateLimited++
        throw err
      }
      for (const [k, v] of Object.entries(rateHeaders)) res.setHeader(k, v)
      const m = this.#router.match(req.method ?? 'GET', url.pathname)
      route = m.route
      const limit = this.settings.max_body_bytes
      let body: Promise<Buffer> | undefined
      const request: Request = {
        raw: req,
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        params: m.params,
        requestId,
        ip,
        body: () => (body ??= readBody(req, limit)),
      }
      await m.handler(request, res)
    } catch (err) {
      this.#fail(err, req, res)
    } finally {
      this.context.metrics.request(req.method ?? 'GET', route, res.statusCode, (performance.now() - started) / 1000)
      this.#inFlight--
      if (this.#inFlight === 0) this.#drained?.()
    }
  }

  #fail(err: unknown, req: IncomingMessage, res: ServerResponse): void {
    if (res.headersSent) {
      res.destroy()
      return
    }
    if (err instanceof HttpError) return sendJson(res, err.status, err.body, err.headers)
    if (err instanceof EventValidationError) return sendJson(res, 422, err.toFastApiDetail('body'))
    if (err instanceof QueryRefusedError) return sendJson(res, 400, { detail: err.message })
    if (err instanceof StoreUnavailableError) {
      const e = detail(503, `The database is unavailable: ${err.message}`, { 'retry-after': '5' })
      return sendJson(res, e.status, e.body, e.headers)
    }
    // The request line without a token given in the query (`?access_token=`: the live streams').
    this.#onError(err as Error, `${req.method} ${(req.url ?? '').replace(/([?&]access_token=)[^&#]*/gi, '$1***')}`)
    // As FastAPI: an unexpected exception is a plain-text 500.
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
    res.end('Internal Server Error')
  }

  /**
   * Listen. Default host and port from `server_url` (`http://localhost:8001`). A non-loopback
   * address requires a token unless `auth_disabled` is set.
   */
  async listen(port?: number, host?: string): Promise<{ url: string; port: number; host: string }> {
    const u = new URL(this.settings.server_url)
    const h = host ?? (u.hostname === 'localhost' ? '127.0.0.1' : u.hostname.replace(/^\[|\]$/g, ''))
    const p = port ?? Number(u.port || 8001)
    if (!LOOPBACK.has(h) && !this.#auth.enabled && !this.settings.auth_disabled) {
      throw new ConfigError('auth_token', `listening on ${h} (not loopback) needs a token: set EVENT_SERVER_TOKEN, or EVENT_AUTH_DISABLED=true to serve without authentication on purpose`)
    }
    await this.#startBackground()
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(p, h, () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    const addr = this.#server.address() as AddressInfo
    const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
    return { url: `http://${shownHost}:${addr.port}`, port: addr.port, host: addr.address }
  }

  async #startBackground(): Promise<void> {
    if (this.#started) return
    this.#started = true
    // Where save_to_file may write (D14): made at start so saving works out of the box.
    if (this.settings.export_dir) await mkdir(this.settings.export_dir, { recursive: true }).catch((err) => this.#onError(err as Error, 'export dir'))
    // The live stream and retention need the database; they start once it answers.
    const startWatchers = async (): Promise<void> => {
      if (this.#closing) return
      await this.context.live.start()
      await this.context.retention.start()
    }
    const opening = this.store.open().then(
      () => undefined,
      (err: Error) => err,
    )
    if (!(this.store instanceof MongoStore)) {
      // A local store that cannot open is a configuration problem, reported as such.
      const err = await opening
      if (err) this.#onError(err, 'store open')
      return startWatchers()
    }
    let timer: NodeJS.Timeout | undefined
    const first = await Promise.race([opening, new Promise<'slow'>((r) => (timer = setTimeout(() => r('slow'), STORE_NOTICE_MS)))])
    clearTimeout(timer)
    if (first === undefined) return startWatchers()
    if (first !== 'slow' && !(first instanceof StoreUnavailableError)) this.#onError(first, 'store open')
    // Serve anyway: /health says the database is down, writes queue and answer 503.
    const since = Date.now()
    const reason = first instanceof Error ? first.message.replace(/^.{0,40}? is unavailable: /, '') : (this.store.connectError ?? `no answer within ${STORE_NOTICE_MS / 1000} s`)
    this.#onWarning(
      makeWarning(
        'MADSCI_WARN_STORE_UNREACHABLE',
        'server',
        `${this.describe()} (${reason}); serving anyway: GET /health reports it, events posted meanwhile are queued in memory (up to ${INGEST_QUEUE_EVENTS.toLocaleString('en')}) and answered 503 until it is back; trying again every ${STORE_RETRY_MS / 1000} s`,
      ),
    )
    void (async () => {
      let result: Error | 'slow' | undefined = first === 'slow' ? await opening : first
      while (result !== undefined && !this.#closing) {
        await new Promise((r) => setTimeout(r, STORE_RETRY_MS).unref())
        if (this.#closing) return
        result = await this.store.open().then(
          () => undefined,
          (err: Error) => err,
        )
      }
      if (this.#closing) return
      this.#onWarning(makeWarning('MADSCI_WARN_STORE_REACHABLE', 'server', `${this.describe()}, after ${((Date.now() - since) / 1000).toFixed(1)} s`))
      await startWatchers().catch((err) => this.#onError(err as Error, 'start'))
    })()
  }

  /** A one-line description of where events are stored. */
  describe(): string {
    return describeStore(this.settings)
  }

  /**
   * Graceful shutdown: stop accepting, let requests in flight finish (up to `timeoutMs`), end live
   * streams, flush the pipeline and close the store.
   */
  close(options: { timeoutMs?: number } = {}): Promise<CloseReport> {
    this.#closing ??= (async () => {
      const timeoutMs = options.timeoutMs ?? 10_000
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
      this.#server.closeIdleConnections()
      await this.context.live.close()
      await this.#ws.close()
      if (this.#inFlight > 0) {
        await Promise.race([new Promise<void>((r) => (this.#drained = r)), new Promise<void>((r) => setTimeout(r, timeoutMs).unref())])
      }
      this.#server.closeAllConnections()
      await closed
      await this.context.retention.stop()
      return this.context.core.close({ timeoutMs })
    })()
    return this.#closing
  }

  /** Resolves when every event accepted so far is stored. */
  flush(options?: { timeoutMs?: number }): Promise<void> {
    return this.context.core.flush(options)
  }
}

/** Create a server (not yet listening): `const s = createServer(); await s.listen()`. */
export function createServer(options?: ServerOptions): MadsciServer {
  return new MadsciServer(options)
}

/** Prometheus lines for the alert dispatcher: alerts raised, and per notifier sent / failed / dropped. */
function alertMetrics(d: AlertDispatcher): string {
  const st = d.stats()
  const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')
  const lines = [
    '# HELP madsci_alerts_total Events that met the alert condition (alert: true or log_level >= alert_level).',
    '# TYPE madsci_alerts_total counter',
    `madsci_alerts_total ${st.alerts}`,
    '# HELP madsci_alert_notifications_total Alert messages by notifier and outcome.',
    '# TYPE madsci_alert_notifications_total counter',
  ]
  for (const n of Object.values(st.notifiers)) {
    const l = `notifier="${esc(n.name)}",type="${esc(n.type)}"`
    lines.push(`madsci_alert_notifications_total{${l},outcome="sent"} ${n.sent}`, `madsci_alert_notifications_total{${l},outcome="failed"} ${n.failed}`)
  }
  return lines.join('\n')
}
