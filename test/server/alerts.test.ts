import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeSelfSignedCert, type TestCert } from '../notify/support/cert.js'
import { startSmtpServer, type TestSmtpServer } from '../notify/support/smtp.js'
import { call, eventually, startServer, STORE_KINDS } from './helpers.js'

/**
 * SPEC §12 item 8 and §4: with `EVENT_EMAIL_ALERTS` set, `POST /event` with `alert: true` (or a
 * level at or above `EVENT_ALERT_LEVEL`) sends one email per address, MADSci's message, through a
 * real SMTP server (STARTTLS and login, as MADSci's defaults); /settings redacts the credentials.
 */

let cert: TestCert
let smtp: TestSmtpServer
beforeAll(async () => {
  cert = makeSelfSignedCert()
  smtp = await startSmtpServer({ tls: cert, auth: { user: 'lab-user', pass: 's3cret-pw' } })
})
afterAll(async () => {
  await smtp?.close()
})

describe.each(STORE_KINDS)('email alerts on the %s store', (kind) => {
  it('8: alert:true at level 40 sends exactly one email per address, with MADSci subject and headers; lower levels send none', async () => {
    const before = smtp.mails.length
    const r = await startServer(kind, 'alerts', {
      env: {
        EVENT_EMAIL_ALERTS: JSON.stringify({
          smtp_server: '127.0.0.1',
          smtp_port: smtp.port,
          smtp_username: 'lab-user',
          smtp_password: 's3cret-pw',
          sender: 'madsci@lab.example',
          email_addresses: ['test@example.com'],
          tls_ca: cert.cert,
        }),
        EVENT_ALERT_LEVEL: 'ERROR',
      },
    })
    try {
      const quiet = await call(r.url, 'POST', '/event', { event_type: 'test', log_level: 30, event_data: { n: 'below' } })
      expect(quiet.status).toBe(200)
      const res = await call(r.url, 'POST', '/event', { event_type: 'test', log_level: 40, alert: true, event_data: { n: 'alert' } })
      expect(res.status).toBe(200)
      const id = res.json()._id
      await eventually(() => (smtp.mails.length > before ? true : undefined))
      await r.server.context.alerts!.flush()
      const mails = smtp.mails.slice(before)
      expect(mails).toHaveLength(1)
      const m = mails[0]
      expect(m.to).toEqual(['test@example.com'])
      expect(m.from).toBe('madsci@lab.example')
      expect(m.secure).toBe(true)
      expect(m.user).toBe('lab-user')
      expect(m.parsed.subject).toBe('ALERT (EventLogLevel.ERROR): EventType.TEST')
      expect(m.parsed.headers.get('x-madsci-event-id')).toBe(id)
      expect(m.parsed.text).toContain(`"event_id": "${id}"`)

      const settings = (await call(r.url, 'GET', '/settings')).json().settings
      expect(settings.email_alerts).toMatchObject({ smtp_server: '127.0.0.1', smtp_port: smtp.port, smtp_username: '***REDACTED***', smtp_password: '***REDACTED***', email_addresses: ['test@example.com'] })
      expect(JSON.stringify(settings)).not.toContain('s3cret-pw')
      const metrics = (await call(r.url, 'GET', '/metrics')).text
      expect(metrics).toMatch(/^madsci_alerts_total 1$/m)
      expect(metrics).toMatch(/^madsci_alert_notifications_total\{notifier="[^"]+",type="email",outcome="sent"\} 1$/m)
    } finally {
      await r.close()
    }
  })
})
