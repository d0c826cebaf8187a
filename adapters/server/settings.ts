import { envBool, envMongoUrl, envNumber, envValue, redactUrl } from '../../src/config/env.js'
import { defaultEventFile, resolveMadsciDir, resolveMadsciPath } from '../../src/config/madsci-dir.js'
import { ConfigError } from '../../src/errors.js'
import { LAST_DATE_MS, MAX_TIMER_MS, maxDaysBack } from '../../src/stores/time-limits.js'
import { type EventLogLevel, parseLevel } from '../../src/event/levels.js'
import { newUlid } from '../../src/event/ulid.js'
import { mongoUrlDatabase } from '../../src/config/mongo-url.js'
import { EMAIL_ALERTS_DEFAULTS, emailAlertsFromEnv } from '../../src/notify/index.js'
import { join } from 'node:path'

/**
 * The server's settings: MADSci's `EventManagerSettings` (same names, same `EVENT_*` variables,
 * same defaults; SPEC §7), plus ours (auth, CORS, limits, export directory), documented in the
 * README's configuration table. Options in code win over the environment.
 *
 * `SETTINGS_FIELDS` describes every field once (variable, default, description): it drives
 * `GET /settings` (MADSci's key order, then ours) and its JSON Schema (`include_schema=true`).
 */
export interface ServerSettings {
  // ---- MADSci's
  server_url: string
  manager_id: string
  manager_type: 'event_manager'
  rate_limit_enabled: boolean
  rate_limit_requests: number
  rate_limit_window: number
  rate_limit_short_requests: number | null
  rate_limit_short_window: number | null
  rate_limit_cleanup_interval: number
  rate_limit_exempt_ips: string[] | null
  /** Accepted and reported for compatibility; Node serves with one process (scale out with more instances). */
  uvicorn_workers: number | null
  uvicorn_limit_concurrency: number | null
  uvicorn_limit_max_requests: number | null
  /** Accepted and reported; there is no ID registry here (`manager_id` is `EVENT_MANAGER_ID` or a new ULID). */
  enable_registry_resolution: boolean
  manager_name: string | null
  manager_description: string | null
  lab_url: string | null
  registry_lock_timeout: number
  /** Accepted and reported; OpenTelemetry is the logger's concern (trace ids of posted events are stored as given). */
  otel_enabled: boolean
  otel_service_name: string | null
  otel_exporter: 'console' | 'otlp' | 'none'
  otel_endpoint: string | null
  otel_protocol: 'grpc' | 'http'
  /** MongoDB URL (`EVENT_DB_URL`, `EVENT_DOCUMENT_DB_URL`, `DOCUMENT_DB_URL`, `MONGO_DB_URL`, `DB_URL`); null: the embedded file store. */
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
  /**
   * Polling a database other instances write to: events created less than this before a poll wait
   * for the next one, so every instance sends them in the same (id) order. 500 ms.
   */
  live_order_window_ms: number
}

/** Keys shown by `GET /settings` whose values are secrets. */
export const SECRET_SETTINGS = ['document_db_url', 'auth_token'] as const
export const REDACTED = '***REDACTED***'

type Key = keyof ServerSettings

/** One setting: its variable, JSON Schema, and whether it is MADSci's or ours. */
export interface SettingField {
  key: Key
  /** Environment variable(s), first one canonical. */
  env: string[]
  title: string
  description: string
  schema: Record<string, unknown>
  madsci: boolean
}

const nullable = (schema: Record<string, unknown>): Record<string, unknown> => ({ anyOf: [schema, { type: 'null' }] })
const int = (minimum?: number): Record<string, unknown> => ({ type: 'integer', ...(minimum !== undefined ? { minimum } : {}) })
const f = (key: Key, env: string | string[], title: string, description: string, schema: Record<string, unknown>, madsci = true): SettingField => ({
  key,
  env: Array.isArray(env) ? env : [env],
  title,
  description,
  schema,
  madsci,
})

/** Every setting, in MADSci's `/settings` order, then ours. */
export const SETTINGS_FIELDS: readonly SettingField[] = [
  f('server_url', 'EVENT_SERVER_URL', 'Event Server URL', 'The URL of the Event Manager server (host and port to bind).', { type: 'string', format: 'uri', minLength: 1 }),
  f('manager_id', 'EVENT_MANAGER_ID', 'Manager ID', 'Unique identifier for this manager instance; a new ULID when unset. It is the `source.manager_id` of posted events that carry no source.', nullable({ type: 'string' })),
  f('manager_type', 'EVENT_MANAGER_TYPE', 'Manager Type', 'The type of manager.', nullable({ $ref: '#/$defs/ManagerType' })),
  f('rate_limit_enabled', 'EVENT_RATE_LIMIT_ENABLED', 'Rate Limiting Enabled', 'Enable rate limiting for API endpoints.', { type: 'boolean' }),
  f('rate_limit_requests', 'EVENT_RATE_LIMIT_REQUESTS', 'Rate Limit Requests', 'Maximum number of requests allowed per long time window.', int(1)),
  f('rate_limit_window', 'EVENT_RATE_LIMIT_WINDOW', 'Rate Limit Window', 'Long time window for rate limiting in seconds.', int(1)),
  f('rate_limit_short_requests', 'EVENT_RATE_LIMIT_SHORT_REQUESTS', 'Rate Limit Short Requests', 'Maximum number of requests per short window (burst protection); null turns the burst window off.', nullable(int(1))),
  f('rate_limit_short_window', 'EVENT_RATE_LIMIT_SHORT_WINDOW', 'Rate Limit Short Window', 'Short time window for burst protection in seconds; null turns it off.', nullable(int(1))),
  f('rate_limit_cleanup_interval', 'EVENT_RATE_LIMIT_CLEANUP_INTERVAL', 'Rate Limit Cleanup Interval', 'Interval in seconds between cleanups of the per-client windows.', int(1)),
  f('rate_limit_exempt_ips', 'EVENT_RATE_LIMIT_EXEMPT_IPS', 'Rate Limit Exempt IPs', 'Client addresses exempt from rate limiting (a JSON list); null means 127.0.0.1 and ::1, [] means none.', nullable({ type: 'array', items: { type: 'string' } })),
  f('uvicorn_workers', 'EVENT_UVICORN_WORKERS', 'Uvicorn Workers', 'Accepted for compatibility, no effect: run several instances on one database instead.', nullable(int(1))),
  f('uvicorn_limit_concurrency', 'EVENT_UVICORN_LIMIT_CONCURRENCY', 'Uvicorn Limit Concurrency', 'Accepted for compatibility, no effect.', nullable(int(1))),
  f('uvicorn_limit_max_requests', 'EVENT_UVICORN_LIMIT_MAX_REQUESTS', 'Uvicorn Limit Max Requests', 'Accepted for compatibility, no effect.', nullable(int(1))),
  f('enable_registry_resolution', 'EVENT_ENABLE_REGISTRY_RESOLUTION', 'Enable Registry Resolution', 'Accepted for compatibility, no effect: there is no ID registry; set EVENT_MANAGER_ID for a stable identity.', { type: 'boolean' }),
  f('manager_name', 'EVENT_MANAGER_NAME', 'Manager Name', 'Name for this manager instance (the API title).', nullable({ type: 'string' })),
  f('manager_description', 'EVENT_MANAGER_DESCRIPTION', 'Manager Description', 'Human-readable description of this manager instance.', nullable({ type: 'string' })),
  f('lab_url', 'EVENT_LAB_URL', 'Lab URL', 'Accepted for compatibility, no effect.', nullable({ type: 'string', format: 'uri', minLength: 1 })),
  f('registry_lock_timeout', 'EVENT_REGISTRY_LOCK_TIMEOUT', 'Registry Lock Timeout', 'Accepted for compatibility, no effect.', { type: 'number' }),
  f('otel_enabled', 'EVENT_OTEL_ENABLED', 'OpenTelemetry Enabled', 'Accepted for compatibility, no effect on the server (trace ids of posted events are stored as given).', { type: 'boolean' }),
  f('otel_service_name', 'EVENT_OTEL_SERVICE_NAME', 'OpenTelemetry Service Name', 'Accepted for compatibility, no effect.', nullable({ type: 'string' })),
  f('otel_exporter', 'EVENT_OTEL_EXPORTER', 'OpenTelemetry Exporter', 'Accepted for compatibility, no effect.', { type: 'string', enum: ['console', 'otlp', 'none'] }),
  f('otel_endpoint', 'EVENT_OTEL_ENDPOINT', 'OpenTelemetry Endpoint', 'Accepted for compatibility, no effect.', nullable({ type: 'string' })),
  f('otel_protocol', 'EVENT_OTEL_PROTOCOL', 'OpenTelemetry Protocol', 'Accepted for compatibility, no effect.', { type: 'string', enum: ['grpc', 'http'] }),
  f('document_db_url', ['EVENT_DB_URL', 'EVENT_DOCUMENT_DB_URL', 'DOCUMENT_DB_URL', 'MONGO_DB_URL', 'DB_URL'], 'Document Database URL', 'The MongoDB URL; when unset, events go to the embedded file store (data_file). Secret: redacted in /settings.', { ...nullable({ type: 'string', format: 'uri', minLength: 1 }), secret: true }),
  f('database_name', 'EVENT_DATABASE_NAME', 'Database Name', 'The name of the MongoDB database where events are stored. Unset: the database named in the URL path (mongodb://host/labdb), else madsci_events.', { type: 'string' }),
  f('collection_name', 'EVENT_COLLECTION_NAME', 'Collection Name', 'The name of the MongoDB collection where events are stored.', { type: 'string' }),
  f('alert_level', 'EVENT_ALERT_LEVEL', 'Alert Level', 'The log level at which to send an alert.', { $ref: '#/$defs/EventLogLevel' }),
  f('email_alerts', ['EVENT_EMAIL_ALERTS', 'EVENT_EMAIL_ALERTS__<FIELD>'], 'Email Alerts Configuration', 'The configuration for sending email alerts (smtp_username and smtp_password are redacted in /settings).', nullable({ $ref: '#/$defs/EmailAlertsConfig' })),
  f('retention_enabled', 'EVENT_RETENTION_ENABLED', 'Retention Enabled', 'Whether automatic event retention is enabled.', { type: 'boolean' }),
  f('soft_delete_after_days', 'EVENT_SOFT_DELETE_AFTER_DAYS', 'Soft Delete After Days', 'Days after which events are soft-deleted (archived).', int(1)),
  f('hard_delete_after_days', 'EVENT_HARD_DELETE_AFTER_DAYS', 'Hard Delete After Days', 'Days after archiving when events are deleted (TTL index where the database has them, else the retention pass).', int(1)),
  f('retention_check_interval_hours', 'EVENT_RETENTION_CHECK_INTERVAL_HOURS', 'Retention Check Interval Hours', 'How often to run retention passes (in hours).', int(1)),
  f('archive_batch_size', 'EVENT_ARCHIVE_BATCH_SIZE', 'Archive Batch Size', 'Maximum number of events to archive in a single batch operation.', int(1)),
  f('max_batches_per_run', 'EVENT_MAX_BATCHES_PER_RUN', 'Max Batches Per Run', 'Maximum number of batches to process per retention run (0 = unlimited).', int(0)),
  f('backup_enabled', 'EVENT_BACKUP_ENABLED', 'Backup Enabled', 'Reported by /backup/status (as in MADSci, no backup is scheduled).', { type: 'boolean' }),
  f('backup_schedule', 'EVENT_BACKUP_SCHEDULE', 'Backup Schedule', 'Accepted for compatibility, not used (as in MADSci).', nullable({ type: 'string' })),
  f('backup_dir', 'EVENT_BACKUP_DIR', 'Backup Directory', 'Directory for event backups.', { type: 'string' }),
  f('backup_max_count', 'EVENT_BACKUP_MAX_COUNT', 'Backup Max Count', 'Maximum number of backups to keep.', int(1)),
  f('fail_on_retention_error', 'EVENT_FAIL_ON_RETENTION_ERROR', 'Fail On Retention Error', 'If true, a failed retention pass stops the retention loop (the server keeps running).', { type: 'boolean' }),
  f('auth_token', 'EVENT_SERVER_TOKEN', 'Bearer Token', 'Require `Authorization: Bearer <token>` (or ?access_token= on the live streams). Required on a non-loopback address unless auth_disabled. Secret.', { ...nullable({ type: 'string' }), secret: true }, false),
  f('auth_disabled', 'EVENT_AUTH_DISABLED', 'Authentication Disabled', 'Allow listening on a non-loopback address without a token.', { type: 'boolean' }, false),
  f('cors_origins', 'EVENT_CORS_ORIGINS', 'CORS Origins', 'Allowed origins: ["*"] (MADSci) or a list (comma-separated or JSON).', { type: 'array', items: { type: 'string' } }, false),
  f('max_body_bytes', 'EVENT_MAX_BODY_BYTES', 'Max Body Bytes', 'Request body limit; larger requests get 413.', int(1024), false),
  f('export_dir', 'EVENT_EXPORT_DIR', 'Export Directory', 'Where save_to_file/output_path may write (paths outside are refused); "none" turns saving off.', nullable({ type: 'string' }), false),
  f('data_file', 'EVENT_DATA_FILE', 'Embedded Store File', 'NDJSON file of the embedded store, used when no database URL is set. Default: the library\'s zero-configuration file (EVENT_CLIENT_FILE, else .madsci/events/events.ndjson), so the server shows what the library logged.', { type: 'string' }, false),
  f('ingest_timeout_ms', 'EVENT_INGEST_TIMEOUT_MS', 'Ingest Timeout', 'How long POST /event waits for the database before answering 503 (the event stays queued and is stored later).', int(0), false),
  f('live_poll_interval_ms', 'EVENT_LIVE_POLL_INTERVAL_MS', 'Live Poll Interval', 'Poll interval for events other instances write, when the database has no change streams.', int(50), false),
  f('live_buffer_events', 'EVENT_LIVE_BUFFER_EVENTS', 'Live Buffer Events', 'Events kept in memory to resume live streams (older ids resume from the database).', int(100), false),
  f('live_order_window_ms', 'EVENT_LIVE_ORDER_WINDOW_MS', 'Live Order Window', 'Polling a database other instances share: events younger than this wait for the next poll, so every instance sends them in the same order.', int(0), false),
]

function num(env: NodeJS.ProcessEnv, name: string, min: number, fallback: number): number {
  return envNumber(env, name, min) ?? fallback
}

function intEnv(env: NodeJS.ProcessEnv, name: string, min: number, fallback: number): number {
  const n = num(env, name, min, fallback)
  // 1e300 is an integer to JavaScript, and no count or duration anything here can use.
  if (!Number.isSafeInteger(n)) throw new ConfigError(name, `${JSON.stringify(envValue(env, name))} is not an integer (at most ${Number.MAX_SAFE_INTEGER})`)
  return n
}

/**
 * Settings that are durations, with their unit. Each must give a date (years 1 to 9999) counted
 * from now: 999999999 days of `soft_delete_after_days` ("keep forever") made the cutoff an
 * invalid date, and the first retention pass archived every event (and, on the file store, the
 * purge then deleted them). Those a Node timer waits for (`timer`) must fit one (2^31 − 1 ms):
 * past it Node fires after 1 ms, so `ingest_timeout_ms` = 1e10 answered every POST /event 503 at once.
 */
const DURATIONS: Partial<Record<Key, { unitMs: number; unit: string; zero?: boolean; back?: boolean; timer?: boolean }>> = {
  soft_delete_after_days: { unitMs: 86_400_000, unit: 'days', back: true },
  hard_delete_after_days: { unitMs: 86_400_000, unit: 'days', back: true },
  retention_check_interval_hours: { unitMs: 3_600_000, unit: 'hours' },
  rate_limit_window: { unitMs: 1000, unit: 'seconds' },
  rate_limit_short_window: { unitMs: 1000, unit: 'seconds' },
  rate_limit_cleanup_interval: { unitMs: 1000, unit: 'seconds' },
  ingest_timeout_ms: { unitMs: 1, unit: 'ms', zero: true, timer: true },
  live_poll_interval_ms: { unitMs: 1, unit: 'ms', timer: true },
}

/**
 * Throw `ConfigError` (naming `name`: the variable or the option) when a duration setting cannot
 * be used. The variables are whole numbers with MADSci's minimums (read by intEnv); in code a
 * fraction is allowed (a test's retention pass every 0.0005 hours).
 */
function checkDuration(name: string, key: Key, value: unknown): void {
  const d = DURATIONS[key]
  if (!d || value === null || value === undefined) return
  const n = value as number
  if (typeof value !== 'number' || !Number.isFinite(n) || n < 0 || (n === 0 && !d.zero)) {
    throw new ConfigError(name, `${JSON.stringify(value)} is not a number of ${d.unit} ${d.zero ? '≥' : '>'} 0`)
  }
  // Back from now to year 1, forward to year 9999, or what a timer waits.
  const max = d.timer ? MAX_TIMER_MS : d.back ? maxDaysBack() : Math.floor((LAST_DATE_MS - Date.now()) / d.unitMs)
  if (n > max) {
    const why = d.timer ? 'is longer than a timer can wait (24.8 days)' : `${d.back ? 'before' : 'after'} now is not a date`
    const hint = d.back ? '; to keep events for ever, leave retention off (EVENT_RETENTION_ENABLED=false)' : ''
    throw new ConfigError(name, `${n} ${d.unit} ${why}; use at most ${max}${hint}`)
  }
}

/** A nullable integer: the string `null` (or unset) is null. */
function nullableInt(env: NodeJS.ProcessEnv, name: string, min: number, fallback: number | null): number | null {
  const raw = env[name] ?? Object.entries(env).find(([k]) => k.toUpperCase() === name)?.[1]
  if (raw !== undefined && raw.trim().toLowerCase() === 'null') return null
  return envValue(env, name) === undefined ? fallback : intEnv(env, name, min, 0)
}

function jsonEnv<T>(env: NodeJS.ProcessEnv, name: string, what: string): T | undefined {
  const v = envValue(env, name)
  if (v === undefined) return undefined
  try {
    return JSON.parse(v) as T
  } catch {
    throw new ConfigError(name, `must be JSON: ${what}`)
  }
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: T): T {
  const v = envValue(env, name)
  if (v === undefined) return fallback
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigError(name, `${JSON.stringify(v)}; use one of ${allowed.join(', ')}`)
  return v as T
}

/** A URL as pydantic's AnyUrl prints it: a bare host gets a trailing `/`. */
function normalizeUrl(name: string, value: string): string {
  try {
    return new URL(value).href
  } catch {
    throw new ConfigError(name, `${JSON.stringify(value)} is not a URL such as http://localhost:8001`)
  }
}

/** MADSci's `EmailAlertsConfig` (with its defaults filled in, as `/settings` shows it) from `EVENT_EMAIL_ALERTS` and `EVENT_EMAIL_ALERTS__<FIELD>`. */
function emailAlertsEnv(env: NodeJS.ProcessEnv): Record<string, unknown> | null {
  const given = emailAlertsFromEnv(env)
  return given ? { ...EMAIL_ALERTS_DEFAULTS, ...given } : null
}

const DEFAULT_DATABASE = 'madsci_events'

/** The defaults, as a freshly constructed settings object with no environment. */
export function defaultSettings(madsciDir = resolveMadsciDir()): ServerSettings {
  return {
    server_url: 'http://localhost:8001/',
    manager_id: '',
    manager_type: 'event_manager',
    rate_limit_enabled: true,
    rate_limit_requests: 300,
    rate_limit_window: 60,
    rate_limit_short_requests: 50,
    rate_limit_short_window: 1,
    rate_limit_cleanup_interval: 300,
    rate_limit_exempt_ips: null,
    uvicorn_workers: null,
    uvicorn_limit_concurrency: null,
    uvicorn_limit_max_requests: null,
    enable_registry_resolution: true,
    manager_name: null,
    manager_description: null,
    lab_url: null,
    registry_lock_timeout: 60,
    otel_enabled: false,
    otel_service_name: null,
    otel_exporter: 'console',
    otel_endpoint: null,
    otel_protocol: 'grpc',
    document_db_url: null,
    database_name: DEFAULT_DATABASE,
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
    data_file: join(madsciDir, 'events', 'events.ndjson'),
    ingest_timeout_ms: 5000,
    live_poll_interval_ms: 500,
    live_buffer_events: 10_000,
    live_order_window_ms: 500,
  }
}

/** Settings from the environment (MADSci's variables) over the defaults, without code overrides and without a generated manager_id. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const madsciDir = resolveMadsciDir(env)
  const d = defaultSettings(madsciDir)
  const s: ServerSettings = { ...d }
  const str = (name: string): string | undefined => envValue(env, name)
  const url = str('EVENT_SERVER_URL')
  if (url) s.server_url = normalizeUrl('EVENT_SERVER_URL', url)
  s.manager_id = str('EVENT_MANAGER_ID') ?? ''
  s.manager_name = str('EVENT_MANAGER_NAME') ?? null
  s.manager_description = str('EVENT_MANAGER_DESCRIPTION') ?? null
  s.rate_limit_enabled = envBool(env, 'EVENT_RATE_LIMIT_ENABLED') ?? d.rate_limit_enabled
  s.rate_limit_requests = intEnv(env, 'EVENT_RATE_LIMIT_REQUESTS', 1, d.rate_limit_requests)
  s.rate_limit_window = intEnv(env, 'EVENT_RATE_LIMIT_WINDOW', 1, d.rate_limit_window)
  // The string `null` turns the burst window off, as in MADSci.
  s.rate_limit_short_requests = nullableInt(env, 'EVENT_RATE_LIMIT_SHORT_REQUESTS', 1, d.rate_limit_short_requests)
  s.rate_limit_short_window = nullableInt(env, 'EVENT_RATE_LIMIT_SHORT_WINDOW', 1, d.rate_limit_short_window)
  s.rate_limit_cleanup_interval = intEnv(env, 'EVENT_RATE_LIMIT_CLEANUP_INTERVAL', 1, d.rate_limit_cleanup_interval)
  const exempt = jsonEnv<unknown>(env, 'EVENT_RATE_LIMIT_EXEMPT_IPS', 'a list of addresses such as ["127.0.0.1", "10.0.0.5"]')
  if (exempt !== undefined && !(Array.isArray(exempt) && exempt.every((x) => typeof x === 'string'))) throw new ConfigError('EVENT_RATE_LIMIT_EXEMPT_IPS', 'must be a JSON list of addresses such as ["127.0.0.1"]')
  s.rate_limit_exempt_ips = (exempt as string[] | undefined) ?? null
  s.uvicorn_workers = nullableInt(env, 'EVENT_UVICORN_WORKERS', 1, null)
  s.uvicorn_limit_concurrency = nullableInt(env, 'EVENT_UVICORN_LIMIT_CONCURRENCY', 1, null)
  s.uvicorn_limit_max_requests = nullableInt(env, 'EVENT_UVICORN_LIMIT_MAX_REQUESTS', 1, null)
  s.enable_registry_resolution = envBool(env, 'EVENT_ENABLE_REGISTRY_RESOLUTION') ?? d.enable_registry_resolution
  const lab = str('EVENT_LAB_URL')
  s.lab_url = lab ? normalizeUrl('EVENT_LAB_URL', lab) : null
  s.registry_lock_timeout = num(env, 'EVENT_REGISTRY_LOCK_TIMEOUT', 0, d.registry_lock_timeout)
  s.otel_enabled = envBool(env, 'EVENT_OTEL_ENABLED') ?? d.otel_enabled
  s.otel_service_name = str('EVENT_OTEL_SERVICE_NAME') ?? null
  s.otel_exporter = oneOf(env, 'EVENT_OTEL_EXPORTER', ['console', 'otlp', 'none'] as const, d.otel_exporter)
  s.otel_endpoint = str('EVENT_OTEL_ENDPOINT') ?? null
  s.otel_protocol = oneOf(env, 'EVENT_OTEL_PROTOCOL', ['grpc', 'http'] as const, d.otel_protocol)
  const docUrl = str('DOCUMENT_DB_URL')
  s.document_db_url = envMongoUrl(env)?.url ?? (docUrl && /^mongodb(\+srv)?:\/\//i.test(docUrl) ? docUrl : null)
  // As the library's MongoStore: the variable, else the database named in the URL's path.
  s.database_name = str('EVENT_DATABASE_NAME') ?? (s.document_db_url ? mongoUrlDatabase(s.document_db_url) : undefined) ?? d.database_name
  s.collection_name = str('EVENT_COLLECTION_NAME') ?? d.collection_name
  const alert = str('EVENT_ALERT_LEVEL')
  if (alert !== undefined) {
    const l = parseLevel(alert, { aliases: true }) ?? parseLevel(Number(alert))
    if (l === undefined) throw new ConfigError('EVENT_ALERT_LEVEL', `${JSON.stringify(alert)}; use 10, 20, 30, 40, 50 or a level name`)
    s.alert_level = l
  }
  s.email_alerts = emailAlertsEnv(env)
  s.retention_enabled = envBool(env, 'EVENT_RETENTION_ENABLED') ?? d.retention_enabled
  s.soft_delete_after_days = intEnv(env, 'EVENT_SOFT_DELETE_AFTER_DAYS', 1, d.soft_delete_after_days)
  s.hard_delete_after_days = intEnv(env, 'EVENT_HARD_DELETE_AFTER_DAYS', 1, d.hard_delete_after_days)
  s.retention_check_interval_hours = intEnv(env, 'EVENT_RETENTION_CHECK_INTERVAL_HOURS', 1, d.retention_check_interval_hours)
  s.archive_batch_size = intEnv(env, 'EVENT_ARCHIVE_BATCH_SIZE', 1, d.archive_batch_size)
  s.max_batches_per_run = intEnv(env, 'EVENT_MAX_BATCHES_PER_RUN', 0, d.max_batches_per_run)
  s.backup_enabled = envBool(env, 'EVENT_BACKUP_ENABLED') ?? d.backup_enabled
  s.backup_schedule = str('EVENT_BACKUP_SCHEDULE') ?? null
  const backupDir = str('EVENT_BACKUP_DIR')
  if (backupDir) s.backup_dir = resolveMadsciPath(backupDir, env)
  s.backup_max_count = intEnv(env, 'EVENT_BACKUP_MAX_COUNT', 1, d.backup_max_count)
  s.fail_on_retention_error = envBool(env, 'EVENT_FAIL_ON_RETENTION_ERROR') ?? d.fail_on_retention_error
  s.auth_token = str('EVENT_SERVER_TOKEN') ?? null
  s.auth_disabled = envBool(env, 'EVENT_AUTH_DISABLED') ?? false
  const cors = str('EVENT_CORS_ORIGINS')
  if (cors) s.cors_origins = cors.trim().startsWith('[') ? (jsonEnv<string[]>(env, 'EVENT_CORS_ORIGINS', 'a list of origins') ?? ['*']) : cors.split(',').map((o) => o.trim())
  s.max_body_bytes = intEnv(env, 'EVENT_MAX_BODY_BYTES', 1024, d.max_body_bytes)
  const exportDir = str('EVENT_EXPORT_DIR')
  if (exportDir) s.export_dir = exportDir.toLowerCase() === 'none' ? null : resolveMadsciPath(exportDir, env)
  // By default the library's zero-configuration file, so `serve` shows what was logged without config.
  const dataFile = str('EVENT_DATA_FILE')
  s.data_file = dataFile ? resolveMadsciPath(dataFile, env) : defaultEventFile(env)
  s.ingest_timeout_ms = intEnv(env, 'EVENT_INGEST_TIMEOUT_MS', 0, d.ingest_timeout_ms)
  s.live_poll_interval_ms = intEnv(env, 'EVENT_LIVE_POLL_INTERVAL_MS', 50, d.live_poll_interval_ms)
  s.live_buffer_events = intEnv(env, 'EVENT_LIVE_BUFFER_EVENTS', 100, d.live_buffer_events)
  s.live_order_window_ms = intEnv(env, 'EVENT_LIVE_ORDER_WINDOW_MS', 0, d.live_order_window_ms)
  for (const field of SETTINGS_FIELDS) if (envValue(env, field.env[0]) !== undefined) checkDuration(field.env[0], field.key, s[field.key])
  return s
}

/** Settings from the environment (MADSci's variables) over the defaults, then `overrides` over both. */
export function loadSettings(overrides: Partial<ServerSettings> = {}, env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Partial<ServerSettings>
  for (const [k, v] of Object.entries(defined)) checkDuration(k, k as Key, v)
  const merged = { ...settingsFromEnv(env), ...defined }
  // A database URL given in code names its database as one from the environment does.
  if (defined.document_db_url && defined.database_name === undefined && envValue(env, 'EVENT_DATABASE_NAME') === undefined) {
    merged.database_name = mongoUrlDatabase(defined.document_db_url) ?? DEFAULT_DATABASE
  }
  if (!merged.manager_id) merged.manager_id = newUlid()
  if (merged.email_alerts === undefined) merged.email_alerts = null
  return merged
}

/**
 * `GET /settings` body: unprefixed keys in MADSci's order (then ours), secrets as
 * `***REDACTED***` (also inside `email_alerts`). With `includeDefaults: false`, only the values
 * that differ from `baseline` are kept: as MADSci, the baseline is what the environment alone
 * gives (so only code overrides, the generated `manager_id` and a set database URL are listed).
 */
export function settingsForDisplay(
  s: ServerSettings,
  options: { includeDefaults?: boolean; baseline?: ServerSettings; redactEmail?: (cfg: Record<string, unknown>) => Record<string, unknown> } = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const field of SETTINGS_FIELDS) out[field.key] = s[field.key]
  for (const k of SECRET_SETTINGS) if (out[k] !== null && out[k] !== undefined) out[k] = REDACTED
  if (s.email_alerts) {
    const redacted = options.redactEmail ? options.redactEmail(s.email_alerts) : { ...s.email_alerts }
    for (const k of ['smtp_username', 'smtp_password']) if (redacted[k] !== null && redacted[k] !== undefined) redacted[k] = REDACTED
    out.email_alerts = redacted
  }
  if (options.includeDefaults === false) {
    const base = (options.baseline ?? defaultSettings()) as unknown as Record<string, unknown>
    for (const k of Object.keys(out)) {
      // MADSci compares the redacted value with the default, so a set secret always counts as changed.
      if (k === 'manager_id' || ((SECRET_SETTINGS as readonly string[]).includes(k) && out[k] === REDACTED)) continue
      if (JSON.stringify(base[k]) === JSON.stringify((s as unknown as Record<string, unknown>)[k])) delete out[k]
    }
  }
  return out
}

/** The JSON Schema of the settings (`GET /settings?include_schema=true`), titled as MADSci's. */
export function settingsSchema(): Record<string, unknown> {
  const d = defaultSettings('.madsci') as unknown as Record<string, unknown>
  const properties: Record<string, unknown> = {}
  for (const field of SETTINGS_FIELDS) {
    const def = field.key === 'manager_id' ? null : d[field.key]
    properties[field.key] = { default: def, description: field.description, title: field.title, ...field.schema, ...(field.env.length ? { 'x-env': field.env } : {}) }
  }
  return {
    $defs: {
      EmailAlertsConfig: {
        title: 'EmailAlertsConfig',
        type: 'object',
        description: 'Configuration for sending emails.',
        properties: {
          smtp_server: { type: 'string', default: 'smtp.example.com', title: 'SMTP Server' },
          smtp_port: { type: 'integer', default: 587, title: 'SMTP Port' },
          smtp_username: { ...nullable({ type: 'string' }), default: null, title: 'SMTP Username' },
          smtp_password: { ...nullable({ type: 'string' }), default: null, title: 'SMTP Password' },
          use_tls: { type: 'boolean', default: true, title: 'Use TLS' },
          sender: { type: 'string', default: 'no-reply@example.com', title: 'Sender Email' },
          default_importance: { type: 'string', default: 'Normal', title: 'Default Importance' },
          email_addresses: { type: 'array', items: { type: 'string' }, default: [], title: 'Default Email Addresses' },
        },
      },
      EventLogLevel: { type: 'integer', enum: [0, 10, 20, 30, 40, 50], title: 'EventLogLevel', description: 'The log level of an event.' },
      ManagerType: { type: 'string', enum: ['event_manager'], title: 'ManagerType', description: 'The type of a MADSci manager (this server is an event manager).' },
    },
    description: 'Handles settings and configuration for the Event Manager (MADSci EventManagerSettings, plus madsci-events settings).',
    properties,
    title: 'EventManagerSettings',
    type: 'object',
  }
}

/** The URL without secrets, for logs. */
export function describeStore(s: ServerSettings): string {
  return s.document_db_url ? `MongoDB ${redactUrl(s.document_db_url)} (${s.database_name}.${s.collection_name})` : `the embedded file store ${s.data_file}`
}
