import type { ServerResponse } from 'node:http'
import type { Event } from '../../src/event/model.js'
import { eventToJson } from '../../src/event/serialize.js'
import type { ServerContext } from './context.js'
import { detail, QueryParser, type Request, type Router } from './http.js'
import { filterFromQuery, type LiveFilter } from './live.js'
import { loadViewerAssets, type ViewerAssets } from './viewer/assets.js'

/**
 * The live event viewer: `GET /` and `GET /ui` serve a self-contained page (no CDN; its script and
 * stylesheet are built into the package) that tails `/events/stream`, pages back through history,
 * shows one event's JSON, and charts `/events/aggregate`.
 *
 * Routes: `/`, `/ui`, `/ui/` (the page), `/ui/app.js`, `/ui/app.css`, `/favicon.ico` (public: the
 * page asks for the token itself), and `GET /ui/api/events` (behind the token like every API route).
 *
 * `GET /ui/api/events` is the page's history query: the same filters as the live stream
 * (`min_level`, `event_type`, `source.<field>`, `alerts_only`, parsed by the same function),
 * newest first by id, `number` per page (default 200, at most 1000), `before=<event_id>` for the
 * next page. It answers `{"events": [...], "more": bool, "live_cursor": id|null}`. `live_cursor` is
 * the last event this server's live stream had published when the query started, and every event
 * published up to then was flushed to the store before the query ran: a stream opened with
 * `last_event_id=<live_cursor>` therefore continues exactly where the history page ends, with
 * nothing missed in between (the page drops the few duplicates by id).
 */

/** Page size of the history query: a screenful and a half by default, bounded against huge answers. */
export const VIEWER_PAGE = { default: 200, max: 1000 } as const
/** How long a history query waits for events already accepted to reach the store (then queries anyway). */
const FLUSH_TIMEOUT_MS = 2000

const SECURITY_HEADERS = {
  // Self-contained by construction: the page may load nothing from elsewhere.
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

/** A small SVG mark (a flask) served as the favicon; browsers accept SVG under /favicon.ico. */
const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M12 3h8v2h-1v7l8 14a2 2 0 0 1-2 3H7a2 2 0 0 1-2-3l8-14V5h-1z" fill="#1f6feb"/><path d="M9 22h14l3 5H6z" fill="#e5534b"/></svg>'

function send(req: Request, res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers })
  res.end(req.method === 'HEAD' ? undefined : body)
}

/** The selector for the history query: the live stream's filter, as a MongoDB selector. */
export function filterSelector(f: LiveFilter, options: { before?: string; includeArchived?: boolean } = {}): Record<string, unknown> {
  const sel: Record<string, unknown> = {}
  if (f.minLevel > 0) sel.log_level = { $gte: f.minLevel }
  if (f.types) sel.event_type = { $in: [...f.types] }
  for (const [k, v] of Object.entries(f.source)) sel[`source.${k}`] = v
  if (f.alertsOnly) sel.alert = true
  if (!options.includeArchived) sel.archived = { $ne: true }
  if (options.before) sel._id = { $lt: options.before }
  return sel
}

export function viewerPlugin(router: Router, ctx: ServerContext): void {
  let assets: Promise<ViewerAssets> | undefined
  const load = (): Promise<ViewerAssets> => (assets ??= loadViewerAssets().catch((err: unknown) => {
    assets = undefined
    throw err
  }))

  // The newest event the live stream has published (arrival order), for `live_cursor`.
  let lastPublished: string | null = null
  ctx.live.observe((e: Event) => {
    lastPublished = e.event_id
  })

  const page = async (req: Request, res: ServerResponse): Promise<void> => {
    const a = await load()
    // Asset URLs relative to the page, so the viewer also works behind a reverse proxy's path prefix.
    const base = req.path.endsWith('/ui/') ? '../' : ''
    const html = a.html.replaceAll('%BASE%', base).replaceAll('%VERSION%', a.version)
    send(req, res, 200, 'text/html; charset=utf-8', html, { ...SECURITY_HEADERS, 'cache-control': 'no-cache' })
  }
  const asset = (pick: (a: ViewerAssets) => string, type: string) => async (req: Request, res: ServerResponse): Promise<void> => {
    const a = await load()
    const etag = `"${a.version}"`
    if (req.raw.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'cache-control': 'no-cache' })
      res.end()
      return
    }
    send(req, res, 200, type, pick(a), { etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' })
  }

  router.add('GET', '/', page)
  router.add('GET', '/ui', page)
  router.add('GET', '/ui/app.js', asset((a) => a.js, 'text/javascript; charset=utf-8'))
  router.add('GET', '/ui/app.css', asset((a) => a.css, 'text/css; charset=utf-8'))
  router.add('GET', '/favicon.ico', (req, res) => send(req, res, 200, 'image/svg+xml', FAVICON, { 'cache-control': 'max-age=86400' }))

  router.add('GET', '/ui/api/events', async (req, res) => {
    const q = new QueryParser(req.query)
    const number = q.int('number', VIEWER_PAGE.default, { min: 0 })
    const includeArchived = q.bool('include_archived', false)
    q.check()
    const before = req.query.get('before') || undefined
    if (number > VIEWER_PAGE.max) throw detail(422, `number is at most ${VIEWER_PAGE.max} per page; ask for the next page with before=<the last event_id>`)
    const filter = filterFromQuery(req.query)
    let cursor: string | null = null
    if (!before) {
      cursor = lastPublished
      // Everything published up to the cursor is in the store before the query reads it.
      await ctx.pipeline.flush({ timeoutMs: FLUSH_TIMEOUT_MS }).catch(() => undefined)
    }
    const events = number === 0 ? [] : await ctx.store.queryEvents(filterSelector(filter, { before, includeArchived }), { limit: number + 1, sort: { _id: -1 } })
    const more = events.length > number
    if (more) events.length = number
    const body = `{"events":[${events.map((e) => eventToJson(e, '_id')).join(',')}],"more":${more},"live_cursor":${JSON.stringify(cursor)}}`
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
}
