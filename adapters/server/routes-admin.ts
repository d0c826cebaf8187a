import type { ServerResponse } from 'node:http'
import { createBackup, listBackups } from './backup.js'
import type { ServerContext } from './context.js'
import { detail, parseJson, QueryParser, type Router, sendJson, validationError } from './http.js'
import { docsPage, openApiDocument } from './openapi.js'
import { settingsForDisplay, settingsSchema } from './settings.js'

/** `/health`, `/settings`, `/backup`, `/backup/status`, `/metrics`, `/openapi.json`, `/docs`. */
export function adminRoutes(router: Router, ctx: ServerContext): void {
  const s = ctx.settings
  const title = s.manager_name ?? 'EventManager'
  const info = { title, description: s.manager_description ?? `${title} Manager`, version: '0.1.0' }

  router.add('GET', '/health', async (_req, res) => {
    const h = await ctx.store.health()
    sendJson(res, 200, {
      healthy: h.connected,
      description: h.connected ? 'Event Manager is running normally' : `Database connection failed: ${h.error ?? 'unknown error'}`,
      version: ctx.version,
      db_connected: h.connected,
      total_events: h.totalEvents,
      otel_enabled: null,
      otel_exporter_type: null,
      otel_endpoint: null,
    })
  })

  router.add('GET', '/settings', (req, res) => {
    const q = new QueryParser(req.query)
    const includeDefaults = q.bool('include_defaults', true)
    const includeSchema = q.bool('include_schema', false)
    q.check()
    const body: Record<string, unknown> = { settings: settingsForDisplay(s, { includeDefaults, baseline: ctx.settingsBaseline, redactEmail: ctx.redactEmail }) }
    if (includeSchema) {
      body.schema = settingsSchema()
      body.schema_title = 'EventManagerSettings'
    }
    sendJson(res, 200, body)
  })

  let backupSince: string | undefined
  router.add('POST', '/backup', async (req, res) => {
    // The body is optional; when present it must be an object (`null` included, as FastAPI).
    const raw = parseJson(await req.body(), false)
    if (raw !== undefined && (raw === null || typeof raw !== 'object' || Array.isArray(raw))) {
      throw validationError([{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: raw }])
    }
    const description = (raw as { description?: unknown } | undefined)?.description
    if (description !== undefined && description !== null && typeof description !== 'string') {
      throw validationError([{ type: 'string_type', loc: ['body', 'description'], msg: 'Input should be a valid string', input: description }])
    }
    // One backup at a time: each reads the whole store, and concurrent ones shared directories
    // (40 at once made 5, written by several requests each) and pruned under each other.
    if (backupSince) throw detail(409, `A backup is already running (since ${backupSince}); try again when it has finished`, { 'retry-after': '5' })
    backupSince = new Date().toISOString()
    try {
      const path = await createBackup(ctx.store, { backupDir: s.backup_dir, database: s.database_name, description: description as string | undefined, maxCount: s.backup_max_count })
      sendJson(res, 200, { backup_path: path, status: 'completed' })
    } catch (err) {
      throw detail(500, `Failed to create backup: ${(err as Error).message}`)
    } finally {
      backupSince = undefined
    }
  })

  const backupStatus = async (_req: unknown, res: ServerResponse): Promise<void> => {
    try {
      sendJson(res, 200, { backup_enabled: s.backup_enabled, backup_dir: s.backup_dir, available_backups: await listBackups(s.backup_dir, s.database_name) })
    } catch (err) {
      throw detail(500, `Failed to get backup status: ${(err as Error).message}`)
    }
  }
  router.add('GET', '/backup/status', backupStatus)
  // madsci-client 0.8.1's get_backup_status() calls GET /backup (MADSci answers 405): answer it.
  router.add('GET', '/backup', backupStatus)

  router.add('GET', '/metrics', (_req, res) => {
    const text = ctx.metrics.render(ctx.pipeline.stats(), ctx.extraMetrics.map((f) => f()))
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
    res.end(text)
  })

  // Built per request: plugins add their routes after these.
  router.add('GET', '/openapi.json', (_req, res) => sendJson(res, 200, openApiDocument(info, router.routes)))
  router.add('GET', '/docs', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(docsPage(openApiDocument(info, router.routes)))
  })
}
