import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { defaultSettings, loadSettings, SETTINGS_FIELDS, settingsForDisplay, settingsFromEnv } from '../../adapters/server/index.js'
import { call, startServer, tempDir } from './helpers.js'

/**
 * The server's settings from MADSci's environment variables (SPEC §7, as 0.8.1 reads them), plus
 * ours, and what GET /settings shows: secrets redacted in every form (include_defaults=false,
 * include_schema=true), SPEC §12 item 23.
 */

const home = tempDir('settings')
const base = { HOME: home, MADSCI_SETTINGS_DIR: home }

describe('settings from the environment', () => {
  it('reads every MADSci EVENT_* variable, case-insensitively, with pydantic-settings conventions', () => {
    const s = settingsFromEnv({
      ...base,
      EVENT_SERVER_URL: 'http://0.0.0.0:9001',
      event_manager_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA',
      EVENT_MANAGER_NAME: 'Lab Events',
      EVENT_RATE_LIMIT_ENABLED: 'false',
      EVENT_RATE_LIMIT_REQUESTS: '1000',
      EVENT_RATE_LIMIT_WINDOW: '30',
      EVENT_RATE_LIMIT_SHORT_REQUESTS: 'null',
      EVENT_RATE_LIMIT_EXEMPT_IPS: '["10.0.0.5"]',
      EVENT_DATABASE_NAME: 'lab',
      EVENT_COLLECTION_NAME: 'ev',
      EVENT_ALERT_LEVEL: 'warning',
      EVENT_RETENTION_ENABLED: 'yes',
      EVENT_BACKUP_DIR: '.madsci/my-backups',
      EVENT_BACKUP_MAX_COUNT: '3',
      EVENT_OTEL_EXPORTER: 'otlp',
      EVENT_UVICORN_WORKERS: '4',
    })
    expect(s).toMatchObject({
      server_url: 'http://0.0.0.0:9001/',
      manager_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TA',
      manager_name: 'Lab Events',
      rate_limit_enabled: false,
      rate_limit_requests: 1000,
      rate_limit_window: 30,
      rate_limit_short_requests: null,
      rate_limit_exempt_ips: ['10.0.0.5'],
      database_name: 'lab',
      collection_name: 'ev',
      alert_level: 30,
      retention_enabled: true,
      backup_dir: `${home}/.madsci/my-backups`,
      backup_max_count: 3,
      otel_exporter: 'otlp',
      uvicorn_workers: 4,
    })
    // Unset variables keep MADSci's defaults; nothing set means the embedded store.
    const d = settingsFromEnv(base)
    expect(d).toMatchObject({ server_url: 'http://localhost:8001/', database_name: 'madsci_events', alert_level: 40, rate_limit_requests: 300, rate_limit_short_requests: 50, rate_limit_exempt_ips: null, document_db_url: null })
    expect(d.backup_dir).toBe(`${home}/.madsci/backups/events`)
  })

  it('the database URL comes from EVENT_DB_URL and its 0.8.1 aliases; EVENT_MONGO_DB_URL is ignored, as in 0.8.1', () => {
    for (const name of ['EVENT_DB_URL', 'EVENT_DOCUMENT_DB_URL', 'DOCUMENT_DB_URL', 'MONGO_DB_URL', 'DB_URL', 'event_db_url']) {
      expect([name, settingsFromEnv({ ...base, [name]: 'mongodb://db.lab:27017/' }).document_db_url]).toEqual([name, 'mongodb://db.lab:27017/'])
    }
    expect(settingsFromEnv({ ...base, EVENT_MONGO_DB_URL: 'mongodb://db.lab:27017/' }).document_db_url).toBeNull()
    // EVENT_DB_URL wins over the generic aliases.
    expect(settingsFromEnv({ ...base, DB_URL: 'mongodb://generic/', EVENT_DB_URL: 'mongodb://specific/' }).document_db_url).toBe('mongodb://specific/')
  })

  it('23: retention defaults, and explicit values kept as given', () => {
    const d = settingsFromEnv(base)
    expect(d).toMatchObject({ retention_enabled: false, soft_delete_after_days: 90, hard_delete_after_days: 365, retention_check_interval_hours: 24, archive_batch_size: 1000, max_batches_per_run: 100, fail_on_retention_error: false })
    const s = settingsFromEnv({
      ...base,
      EVENT_SOFT_DELETE_AFTER_DAYS: '60',
      EVENT_HARD_DELETE_AFTER_DAYS: '180',
      EVENT_RETENTION_CHECK_INTERVAL_HOURS: '12',
      EVENT_ARCHIVE_BATCH_SIZE: '500',
      EVENT_MAX_BATCHES_PER_RUN: '50',
      EVENT_FAIL_ON_RETENTION_ERROR: 'true',
    })
    expect(s).toMatchObject({ soft_delete_after_days: 60, hard_delete_after_days: 180, retention_check_interval_hours: 12, archive_batch_size: 500, max_batches_per_run: 50, fail_on_retention_error: true })
  })

  it('our settings: token, auth opt-out, CORS (comma list or JSON), body limit, export dir, data file, live stream tuning', () => {
    const s = settingsFromEnv({
      ...base,
      EVENT_SERVER_TOKEN: 'tok',
      EVENT_AUTH_DISABLED: 'true',
      EVENT_CORS_ORIGINS: 'https://a.example, https://b.example',
      EVENT_MAX_BODY_BYTES: '2048',
      EVENT_EXPORT_DIR: 'none',
      EVENT_DATA_FILE: '.madsci/ev.ndjson',
      EVENT_LIVE_POLL_INTERVAL_MS: '100',
      EVENT_LIVE_BUFFER_EVENTS: '500',
      EVENT_INGEST_TIMEOUT_MS: '1000',
    })
    expect(s).toMatchObject({ auth_token: 'tok', auth_disabled: true, cors_origins: ['https://a.example', 'https://b.example'], max_body_bytes: 2048, export_dir: null, data_file: `${home}/.madsci/ev.ndjson`, live_poll_interval_ms: 100, live_buffer_events: 500, ingest_timeout_ms: 1000 })
    expect(settingsFromEnv({ ...base, EVENT_CORS_ORIGINS: '["https://c.example"]' }).cors_origins).toEqual(['https://c.example'])
    // Every setting is documented with its variable.
    for (const k of Object.keys(defaultSettings())) expect(SETTINGS_FIELDS.find((f) => f.key === k)?.env.length, k).toBeGreaterThan(0)
  })

  it('bad values fail with a ConfigError naming the variable', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ EVENT_RATE_LIMIT_REQUESTS: '0' }, 'EVENT_RATE_LIMIT_REQUESTS'],
      [{ EVENT_RATE_LIMIT_REQUESTS: 'many' }, 'EVENT_RATE_LIMIT_REQUESTS'],
      [{ EVENT_ALERT_LEVEL: 'loud' }, 'EVENT_ALERT_LEVEL'],
      [{ EVENT_RETENTION_ENABLED: 'maybe' }, 'EVENT_RETENTION_ENABLED'],
      [{ EVENT_RATE_LIMIT_EXEMPT_IPS: '10.0.0.1' }, 'EVENT_RATE_LIMIT_EXEMPT_IPS'],
      [{ EVENT_SERVER_URL: 'not a url' }, 'EVENT_SERVER_URL'],
      [{ EVENT_DB_URL: 'postgres://x/y' }, 'EVENT_DB_URL'],
      [{ EVENT_OTEL_PROTOCOL: 'smoke' }, 'EVENT_OTEL_PROTOCOL'],
      [{ EVENT_EMAIL_ALERTS: 'not json' }, 'EVENT_EMAIL_ALERTS'],
      [{ EVENT_SOFT_DELETE_AFTER_DAYS: '1.5' }, 'EVENT_SOFT_DELETE_AFTER_DAYS'],
    ]
    for (const [env, name] of cases) {
      let err: unknown
      try {
        settingsFromEnv({ ...base, ...env })
      } catch (e) {
        err = e
      }
      expect(err, name).toBeInstanceOf(ConfigError)
      expect((err as Error).message).toContain(name)
    }
  })

  it('code overrides win over the environment; a manager_id is generated when none is set', () => {
    const s = loadSettings({ database_name: 'from-code' }, { ...base, EVENT_DATABASE_NAME: 'from-env' })
    expect(s.database_name).toBe('from-code')
    expect(s.manager_id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
    expect(loadSettings({}, base).manager_id).not.toBe(s.manager_id)
  })

  it('a database URL password never shows, however /settings is asked', () => {
    const env = { ...base, EVENT_DB_URL: 'mongodb://lab:hunter2@db.lab:27017/' }
    const s = loadSettings({}, env)
    for (const includeDefaults of [true, false]) {
      const shown = settingsForDisplay(s, { includeDefaults, baseline: settingsFromEnv(env) })
      expect(shown.document_db_url).toBe('***REDACTED***')
      expect(JSON.stringify(shown)).not.toContain('hunter2')
    }
  })
})

describe('GET /settings on a running server', () => {
  it('redacts the token and email credentials with and without defaults, lists only what code changed with include_defaults=false, and describes every field with include_schema=true', async () => {
    const r = await startServer('file', 'settings', {
      env: {
        EVENT_SERVER_TOKEN: 'token-xyz-123',
        EVENT_EMAIL_ALERTS: JSON.stringify({ smtp_server: '127.0.0.1', smtp_port: 1, smtp_username: 'mailer', smtp_password: 'pw-987', email_addresses: ['ops@lab.example'] }),
        EVENT_EMAIL_ALERTS__SMTP_PORT: '2525',
      },
      settings: { manager_name: 'from code' },
    })
    try {
      const auth = { authorization: 'Bearer token-xyz-123' }
      const texts: string[] = []
      for (const q of ['', '?include_defaults=false', '?include_schema=true', '?include_defaults=false&include_schema=true']) {
        const res = await call(r.url, 'GET', `/settings${q}`, undefined, auth)
        expect(res.status).toBe(200)
        texts.push(res.text)
      }
      for (const t of texts) {
        expect(t).not.toContain('token-xyz-123')
        expect(t).not.toContain('pw-987')
        expect(t).not.toContain('"mailer"')
      }
      const all = JSON.parse(texts[0]).settings
      expect(all.auth_token).toBe('***REDACTED***')
      expect(all.email_alerts).toMatchObject({ smtp_port: 2525, smtp_username: '***REDACTED***', smtp_password: '***REDACTED***', use_tls: true, sender: 'no-reply@example.com', email_addresses: ['ops@lab.example'] })
      expect(all.manager_name).toBe('from code')
      const changed = JSON.parse(texts[1]).settings
      // The environment is the baseline (as MADSci): code overrides, the generated id and set secrets remain.
      expect(Object.keys(changed).sort()).toEqual(['auth_token', 'backup_dir', 'data_file', 'export_dir', 'manager_id', 'manager_name'].sort())
      expect(changed.auth_token).toBe('***REDACTED***')
      const withSchema = JSON.parse(texts[2])
      expect(withSchema.schema_title).toBe('EventManagerSettings')
      expect(Object.keys(withSchema.schema.properties)).toEqual(Object.keys(all))
      expect(withSchema.schema.properties.document_db_url).toMatchObject({ secret: true, 'x-env': expect.arrayContaining(['EVENT_DB_URL', 'MONGO_DB_URL']) })
      expect(withSchema.schema.properties.auth_token.secret).toBe(true)
      expect(JSON.parse(texts[3]).settings).toEqual(changed)
    } finally {
      await r.close()
    }
  })
})
