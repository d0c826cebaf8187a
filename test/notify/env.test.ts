import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { alertOptionsFromEnv, createAlertDispatcher, emailAlertsFromEnv } from '../../src/notify/index.js'
import { makeEvent, recordingContext } from './support/peers.js'
import { type TestSmtpServer, startSmtpServer } from './support/smtp.js'

function configError(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

const servers: TestSmtpServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

describe('alertOptionsFromEnv', () => {
  it('is empty without MADSci variables (alert level 40, no email)', () => {
    expect(alertOptionsFromEnv({})).toEqual({})
    expect(emailAlertsFromEnv({})).toBeUndefined()
  })

  it('reads EVENT_ALERT_LEVEL as a number or a name, case-insensitively', () => {
    expect(alertOptionsFromEnv({ EVENT_ALERT_LEVEL: '30' }).alertLevel).toBe(30)
    expect(alertOptionsFromEnv({ event_alert_level: 'warning' }).alertLevel).toBe(30)
    expect(alertOptionsFromEnv({ EVENT_ALERT_LEVEL: 'EventLogLevel.CRITICAL' }).alertLevel).toBe(50)
    expect(alertOptionsFromEnv({ EVENT_ALERT_LEVEL: 'null' }).alertLevel).toBeUndefined()
    const err = configError(() => alertOptionsFromEnv({ EVENT_ALERT_LEVEL: '25' }))
    expect(err.option).toBe('EVENT_ALERT_LEVEL')
    expect(err.message).toContain('0, 10, 20, 30, 40, 50 or NOTSET, DEBUG, INFO, WARNING, ERROR, CRITICAL')
  })

  it('reads EVENT_EMAIL_ALERTS as JSON, nested variables overriding its fields', () => {
    const opts = alertOptionsFromEnv({
      EVENT_EMAIL_ALERTS: '{"smtp_server": "smtp.lab.example", "smtp_port": 25, "email_addresses": ["a@lab.example"], "smtp_password": "pw"}',
      EVENT_EMAIL_ALERTS__SMTP_PORT: '2525',
      event_email_alerts__use_tls: 'off',
      EVENT_EMAIL_ALERTS__Default_Importance: 'low',
    })
    expect(opts.notifiers).toEqual([
      { type: 'email', smtp_server: 'smtp.lab.example', smtp_port: 2525, email_addresses: ['a@lab.example'], smtp_password: 'pw', use_tls: false, default_importance: 'low' },
    ])
  })

  it('builds the config from nested variables alone, from MADSci’s defaults', () => {
    expect(emailAlertsFromEnv({ EVENT_EMAIL_ALERTS__EMAIL_ADDRESSES: '["x@lab.example", "y@lab.example"]', EVENT_EMAIL_ALERTS__SMTP_USERNAME: 'null' })).toEqual({
      email_addresses: ['x@lab.example', 'y@lab.example'],
      smtp_username: null,
    })
  })

  it('turns email off with EVENT_EMAIL_ALERTS=null, even with nested variables', () => {
    expect(emailAlertsFromEnv({ EVENT_EMAIL_ALERTS: 'null', EVENT_EMAIL_ALERTS__SMTP_PORT: '2525' })).toBeUndefined()
  })

  it('names the variable and the accepted values when one is wrong', () => {
    const cases: Array<[NodeJS.ProcessEnv, string, RegExp]> = [
      [{ EVENT_EMAIL_ALERTS: '{not json' }, 'EVENT_EMAIL_ALERTS', /JSON object of EmailAlertsConfig fields/],
      [{ EVENT_EMAIL_ALERTS: '["a@b"]' }, 'EVENT_EMAIL_ALERTS', /JSON object/],
      [{ EVENT_EMAIL_ALERTS__SMTP_PORT: 'abc' }, 'EVENT_EMAIL_ALERTS__SMTP_PORT', /integer from 1 to 65535/],
      [{ EVENT_EMAIL_ALERTS: '{"smtp_port": 70000}' }, 'EVENT_EMAIL_ALERTS.smtp_port', /integer from 1 to 65535/],
      [{ EVENT_EMAIL_ALERTS__USE_TLS: 'maybe' }, 'EVENT_EMAIL_ALERTS__USE_TLS', /true or false/],
      [{ EVENT_EMAIL_ALERTS__EMAIL_ADDRESSES: 'a@b' }, 'EVENT_EMAIL_ALERTS__EMAIL_ADDRESSES', /JSON list/],
      [{ EVENT_EMAIL_ALERTS: '{"email_addresses": "a@b"}' }, 'EVENT_EMAIL_ALERTS.email_addresses', /list of email addresses/],
      [{ EVENT_EMAIL_ALERTS__DEFAULT_IMPORTANCE: 'urgent' }, 'EVENT_EMAIL_ALERTS__DEFAULT_IMPORTANCE', /High, Normal or Low/],
      [{ EVENT_EMAIL_ALERTS__SMTP_SEVER: 'x' }, 'EVENT_EMAIL_ALERTS__SMTP_SEVER', /accepted ones are smtp_server, smtp_port/],
    ]
    for (const [env, option, message] of cases) {
      const err = configError(() => alertOptionsFromEnv(env))
      expect(err.option).toBe(option)
      expect(err.message).toMatch(message)
      expect(err.code).toBe('MADSCI_ERR_INVALID_CONFIG')
    }
  })

  it('never puts a secret in an error message', () => {
    const err = configError(() => alertOptionsFromEnv({ EVENT_EMAIL_ALERTS: '{"smtp_password": "hunter2-secret", "smtp_port": "x"}' }))
    expect(err.message).not.toContain('hunter2-secret')
  })

  it('gives options a dispatcher sends email with', async () => {
    const server = await startSmtpServer()
    servers.push(server)
    const opts = alertOptionsFromEnv({
      EVENT_ALERT_LEVEL: 'WARNING',
      EVENT_EMAIL_ALERTS: JSON.stringify({ smtp_server: '127.0.0.1', smtp_port: server.port, use_tls: false, sender: 'em@lab.example' }),
      EVENT_EMAIL_ALERTS__EMAIL_ADDRESSES: '["ops@lab.example"]',
    })
    const d = createAlertDispatcher({ ...opts, storm: false }, recordingContext().context)
    d.offer(makeEvent({ log_level: 30, event_type: 'log_warning' }))
    await d.flush()
    await d.close()
    expect(server.mails).toHaveLength(1)
    expect(server.mails[0]).toMatchObject({ from: 'em@lab.example', to: ['ops@lab.example'] })
    expect(server.mails[0].parsed.subject).toBe('ALERT (EventLogLevel.WARNING): EventType.LOG_WARNING')
  })
})
