import { envBool, envMongoUrl, envNumber, envValue, redactUrl } from '../../src/config/env.js'
import { resolveMadsciDir, resolveMadsciPath } from '../../src/config/madsci-dir.js'
import { ConfigError } from '../../src/errors.js'
import { type EventLogLevel, parseLevel } from '../../src/event/levels.js'
import { newUlid } from '../../src/event/ulid.js'
import { join } from 'node:path'

/**
 * The server's settings: MADSci's `EventManagerSettings` (same names, same `EVENT_*` variables,
 * same defaults; SPEC §7), plus ours (auth, CORS, limits, export directory), documented in the
 * README's configuration table. Options in code win over the environment.
 */
export interface ServerSettings {
  // ---- MADSci's
  server_url: string
  manager_id: string
  manager_type: 'event_manager'
  manager_name: string | null
  manager_description: string | null
  rate_limit_enabled: boolean
  rate_limit_requests: number
  rate_limit_window: number
  rate_limit_short_requests: number | null
  rate_limit_short_window: number | null
  rate_limit_cleanup_interval: number
  rate_limit_exempt_ips: string[] | null
  /** MongoDB URL (`EVENT_DB_URL`, `EVENT_DOCUMENT_DB_URL`, `MONGO_DB_URL`, `DB_URL`); null: the embedded file store. */
  document_db_url: string | null
  database_name: string
  collection_name: string
  alert_level: EventLogLevel
  email_alerts: Record<string, unknown> | null
  retention_enabled: boolean
  soft_delete_after_days: number
  hard_delete_after_days: number
  retention_check_interval_hours: number
  archive_batch_size: number
  max_batches_per_run: number
  backup_enabled: boolean
  backup_schedule: string | null
  backup_dir: string
  backup_max_count: number
  fail_on_retention_error: boolean
  // ---- ours
  /** Bearer token; required on non-loopback addresses unless `auth_disabled`. */
  auth_token: string | null
  /** Allow a non-loopback bind without a token (explicit opt-out). */
  auth_disabled: boolean
  /** `*` (MADSci's behaviour) or a list of allowed origins. */
  cors_origins: string[]
  /** Request body limit in bytes (413 past it). 16 MiB. */
  max_body_bytes: number
  /** Directory for `/utilization/*?save_to_file=true` and `/events/export?save_to_file=true`; null turns saving off. */
  export_dir: string | null
  /** Embedded store file when no database URL is set. */
  data_file: string
  /** How long `POST /event` waits for the store before answering 503 (the event stays queued). 5 s. */
  ingest_timeout_ms: number
  /** Poll interval for events written by other instances when the store has no change streams. 500 ms. */
  live_poll_interval_ms: number
  /** Events kept in memory for live-stream resume. 10 000. */
  live_buffer_events: number
}

/** Keys shown by `GET /settings` whose values are secrets. */
export const SECRET_SETTINGS = ['document_db_url', 'auth_token'] as const
export const REDACTED = '***REDACTED***'

function num(env: NodeJS.ProcessEnv, name: string, min: number, fallback: number): number {
  return envNumber(env, name, min) ?? fallback
}

function jsonEnv<T>(env: NodeJS.ProcessEnv, name: string): T | undefined {
  const v = envValue(env, name)
  if (v === undefined) return undefined
  try {
    return JSON.parse(v) as T
  } catch {
    throw new ConfigError(name, 'must be JSON')
  }
}

/** The defaults, as a freshly constructed settings object with no environment. */
export function defaultSettings(madsciDir = resolveMadsciDir()): ServerSettings {
  return {
    server_url: 'http://localhost:8001/',
    manager_id: '',
    manager_type: 'event_manager',
    manager_name: null,
    manager_description: null,
    rate_limit_enabled: true,
    rate_limit_requests: 300,
    rate_limit_window: 60,
    rate_limit_short_requests: 50,
    rate_limit_short_window: 1,
    rate_limit_cleanup_interval: 300,
    rate_limit_exempt_ips: null,
    document_db_url: null,
    database_name: 'madsci_events',
    collection_name: 'events',
    alert_level: 40,
    email_alerts: null,
    retention_enabled: false,
    soft_delete_after_days: 90,
    hard_delete_after_days: 365,
    retention_check_interval_hours: 24,
    archive_batch_size: 1000,
    max_batches_per_run: 100,
    backup_enabled: false,
    backup_schedule: null,
    backup_dir: join(madsciDir, 'backups', 'events'),
    backup_max_count: 10,
    fail_on_retention_error: false,
    auth_token: null,
    auth_disabled: false,
    cors_origins: ['*'],
    max_body_bytes: 16 * 1024 * 1024,
    export_dir: join(madsciDir, 'exports'),
    data_file: join(madsciDir, 'events', 'server-events.ndjson'),
    ingest_timeout_ms: 5000,
    live_poll_interval_ms: 500,
    live_buffer_events: 10_000,
  }
}

/** Settings from the environment (MADSci's variables) over the defaults, then `overrides` over both. */
export function loadSettings(overrides: Partial<ServerSettings> = {}, env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const madsciDir = resolveMadsciDir(env)
  const d = defaultSettings(madsciDir)
  const s: ServerSettings = { ...d }
  const str = (name: string): string | undefined => envValue(env, name)
  s.server_url = str('EVENT_SERVER_URL') ?? d.server_url
  s.manager_id = str('EVENT_MANAGER_ID') ?? ''
  s.manager_name = str('EVENT_MANAGER_NAME') ?? null
  s.manager_description = str('EVENT_MANAGER_DESCRIPTION') ?? null
  s.rate_limit_enabled = envBool(env, 'EVENT_RATE_LIMIT_ENABLED') ?? d.rate_limit_enabled
  s.rate_limit_requests = num(env, 'EVENT_RATE_LIMIT_REQUESTS', 1, d.rate_limit_requests)
  s.rate_limit_window = num(env, 'EVENT_RATE_LIMIT_WINDOW', 1, d.rate_limit_window)
  // The string `null` turns the burst window off, as in MADSci.
  s.rate_limit_short_requests = env.EVENT_RATE_LIMIT_SHORT_REQUESTS?.toLowerCase() === 'null' ? null : num(env, 'EVENT_RATE_LIMIT_SHORT_REQUESTS', 1, d.rate_limit_short_requests as number)
  s.rate_limit_short_window = num(env, 'EVENT_RATE_LIMIT_SHORT_WINDOW', 1, d.rate_limit_short_window as number)
  s.rate_limit_cleanup_interval = num(env, 'EVENT_RATE_LIMIT_CLEANUP_INTERVAL', 1, d.rate_limit_cleanup_interval)
  s.rate_limit_exempt_ips = jsonEnv<string[]>(env, 'EVENT_RATE_LIMIT_EXEMPT_IPS') ?? null
  s.document_db_url = envMongoUrl(env)?.url ?? null
  s.database_name = str('EVENT_DATABASE_NAME') ?? d.database_name
  s.collection_name = str('EVENT_COLLECTION_NAME') ?? d.collection_name
  const alert = str('EVENT_ALERT_LEVEL')
  if (alert !== undefined) {
    const l = parseLevel(alert, { aliases: true }) ?? parseLevel(Number(alert))
    if (l === undefined) throw new ConfigError('EVENT_ALERT_LEVEL', `${JSON.stringify(alert)}; use 10, 20, 30, 40, 50 or a level name`)
    s.alert_level = l
  }
  s.retention_enabled = envBool(env, 'EVENT_RETENTION_ENABLED') ?? d.retention_enabled
  s.soft_delete_after_days = num(env, 'EVENT_SOFT_DELETE_AFTER_DAYS', 1, d.soft_delete_after_days)
  s.hard_delete_after_days = num(env, 'EVENT_HARD_DELETE_AFTER_DAYS', 1, d.hard_delete_after_days)
  s.retention_check_interval_hours = num(env, 'EVENT_RETENTION_CHECK_INTERVAL_HOURS', 1, d.retention_check_interval_hours)
  s.archive_batch_size = num(env, 'EVENT_ARCHIVE_BATCH_SIZE', 1, d.archive_batch_size)
  s.max_batches_per_run = num(env, 'EVENT_MAX_BATCHES_PER_RUN', 0, d.max_batches_per_run)
  s.backup_enabled = envBool(env, 'EVENT_BACKUP_ENABLED') ?? d.backup_enabled
  s.backup_schedule = str('EVENT_BACKUP_SCHEDULE') ?? null
  const backupDir = str('EVENT_BACKUP_DIR')
  if (backupDir) s.backup_dir = resolveMadsciPath(backupDir, env)
  s.backup_max_count = num(env, 'EVENT_BACKUP_MAX_COUNT', 1, d.backup_max_count)
  s.fail_on_retention_error = envBool(env, 'EVENT_FAIL_ON_RETENTION_ERROR') ?? d.fail_on_retention_error
  s.auth_token = str('EVENT_SERVER_TOKEN') ?? null
  s.auth_disabled = envBool(env, 'EVENT_AUTH_DISABLED') ?? false
  const cors = str('EVENT_CORS_ORIGINS')
  if (cors) s.cors_origins = cors.startsWith('[') ? (jsonEnv<string[]>(env, 'EVENT_CORS_ORIGINS') ?? ['*']) : cors.split(',').map((o) => o.trim())
  s.max_body_bytes = num(env, 'EVENT_MAX_BODY_BYTES', 1024, d.max_body_bytes)
  const exportDir = str('EVENT_EXPORT_DIR')
  if (exportDir) s.export_dir = exportDir.toLowerCase() === 'none' ? null : resolveMadsciPath(exportDir, env)
  const dataFile = str('EVENT_DATA_FILE')
  if (dataFile) s.data_file = resolveMadsciPath(dataFile, env)
  s.ingest_timeout_ms = num(env, 'EVENT_INGEST_TIMEOUT_MS', 0, d.ingest_timeout_ms)
  s.live_poll_interval_ms = num(env, 'EVENT_LIVE_POLL_INTERVAL_MS', 50, d.live_poll_interval_ms)
  s.live_buffer_events = num(env, 'EVENT_LIVE_BUFFER_EVENTS', 100, d.live_buffer_events)
  const merged = { ...s, ...overrides }
  if (!merged.manager_id) merged.manager_id = newUlid()
  if (merged.email_alerts === undefined) merged.email_alerts = null
  return merged
}

/**
 * `GET /settings` body: unprefixed keys, secrets as `***REDACTED***` (also inside `email_alerts`
 * and a URL's password), optionally only the values that differ from the defaults.
 */
export function settingsForDisplay(s: ServerSettings, options: { includeDefaults?: boolean; redactEmail?: (cfg: Record<string, unknown>) => Record<string, unknown> } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...s }
  for (const k of SECRET_SETTINGS) if (out[k] !== null && out[k] !== undefined) out[k] = REDACTED
  if (s.email_alerts) {
    const redacted = options.redactEmail ? options.redactEmail(s.email_alerts) : { ...s.email_alerts }
    for (const k of ['smtp_username', 'smtp_password']) if (redacted[k] !== null && redacted[k] !== undefined) redacted[k] = REDACTED
    out.email_alerts = redacted
  }
  if (options.includeDefaults === false) {
    const d = defaultSettings() as unknown as Record<string, unknown>
    for (const k of Object.keys(out)) {
      if (k === 'manager_id') continue
      if (JSON.stringify(d[k]) === JSON.stringify((s as unknown as Record<string, unknown>)[k])) delete out[k]
    }
  }
  return out
}

/** The URL without secrets, for logs. */
export function describeStore(s: ServerSettings): string {
  return s.document_db_url ? `MongoDB ${redactUrl(s.document_db_url)} (${s.database_name}.${s.collection_name})` : `the embedded file store ${s.data_file}`
}
