import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { parseEvent } from '../../src/event/index.js'
import { type AlertOptions, type EmailNotifierSpec, createAlertDispatcher, resolveEmailOptions, xPriority } from '../../src/notify/index.js'
import { type TestCert, makeSelfSignedCert } from './support/cert.js'
import { makeEvent, manualClock, recordingContext } from './support/peers.js'
import { type TestSmtpOptions, type TestSmtpServer, startSmtpServer } from './support/smtp.js'

let cert: TestCert
const servers: TestSmtpServer[] = []
beforeAll(() => {
  cert = makeSelfSignedCert()
})
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function smtp(options: TestSmtpOptions = {}): Promise<TestSmtpServer> {
  const s = await startSmtpServer(options)
  servers.push(s)
  return s
}

function emailSpec(server: TestSmtpServer, fields: Partial<EmailNotifierSpec> = {}): EmailNotifierSpec {
  return { type: 'email', smtp_server: '127.0.0.1', smtp_port: server.port, tls_ca: cert.cert, email_addresses: ['ops@lab.example'], ...fields }
}

async function deliver(options: AlertOptions, events = [testEvent()]) {
  const rec = recordingContext()
  const d = createAlertDispatcher({ storm: false, retry: { retries: 0 }, ...options }, rec.context)
  for (const e of events) d.offer(e)
  await d.flush()
  const stats = d.stats()
  await d.close()
  return { stats, events: rec.events }
}

/** The event of MADSci's conformance item 8: `alert: true`, `log_level: 40`, type `test`. */
function testEvent() {
  return parseEvent({
    event_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TY',
    event_type: 'test',
    log_level: 40,
    alert: true,
    event_timestamp: '2026-04-09T14:47:11.123456',
    source: { node_id: '01JRB6Y0000000000000000000' },
    event_data: { test: 'data', 'naïve': [1, 2.5, {}] },
  })
}

/** `event.model_dump_json(indent=2)` for testEvent(), as pydantic prints it (checked against Python in email-python.test.ts). */
const TEST_EVENT_BODY = `{
  "event_id": "01JRB6Z6B1T3V7M9Q2W4E8R5TY",
  "event_type": "test",
  "log_level": 40,
  "alert": true,
  "event_timestamp": "2026-04-09T14:47:11.123456",
  "source": {
    "node_id": "01JRB6Y0000000000000000000"
  },
  "event_data": {
    "test": "data",
    "naïve": [
      1,
      2.5,
      {}
    ]
  },
  "trace_id": null,
  "span_id": null,
  "archived": false,
  "archived_at": null
}`

function header(mail: TestSmtpServer['mails'][number], name: string): string[] {
  return mail.rawHeaders.filter(([k]) => k === name).map(([, v]) => v)
}

describe('EmailNotifier over SMTP', () => {
  it('sends the MADSci message over STARTTLS after logging in', async () => {
    const server = await smtp({ tls: cert, auth: { user: 'alerts', pass: 'pa55-w0rd!' }, authRequired: true })
    const { stats } = await deliver({
      notifiers: [emailSpec(server, { smtp_username: 'alerts', smtp_password: 'pa55-w0rd!', sender: 'madsci@lab.example', default_importance: 'High' })],
    })
    expect(stats.notifiers.email).toMatchObject({ sent: 1, failed: 0 })
    expect(server.starttls).toBe(1)
    expect(server.logins).toEqual([{ user: 'alerts', pass: 'pa55-w0rd!' }])
    expect(server.mails).toHaveLength(1)
    const mail = server.mails[0]
    expect(mail).toMatchObject({ from: 'madsci@lab.example', to: ['ops@lab.example'], secure: true, user: 'alerts' })
    expect(header(mail, 'Subject')).toEqual(['ALERT (EventLogLevel.ERROR): EventType.TEST'])
    expect(header(mail, 'From')).toEqual(['madsci@lab.example'])
    expect(header(mail, 'To')).toEqual(['ops@lab.example'])
    expect(header(mail, 'Importance')).toEqual(['High'])
    expect(header(mail, 'X-Priority')).toEqual(['1'])
    // Exact header name, as MADSci writes it.
    expect(header(mail, 'X-MADSci-Event-ID')).toEqual(['01JRB6Z6B1T3V7M9Q2W4E8R5TY'])
    expect(mail.parsed.text?.replace(/\n$/, '')).toBe(TEST_EVENT_BODY)
    expect(mail.parsed.html).toContain('ALERT (EventLogLevel.ERROR): EventType.TEST')
    expect(mail.parsed.html).toContain('&quot;event_id&quot;: &quot;01JRB6Z6B1T3V7M9Q2W4E8R5TY&quot;')
  })

  it('with use_tls false sends in the clear and logs in only when both username and password are set', async () => {
    const server = await smtp({ auth: { user: 'alerts', pass: 'x' } })
    await deliver({ notifiers: [emailSpec(server, { use_tls: false, smtp_username: 'alerts' })] })
    expect(server.starttls).toBe(0)
    expect(server.logins).toEqual([])
    expect(server.mails).toHaveLength(1)
    expect(server.mails[0].secure).toBe(false)
    expect(server.mails[0].user).toBeUndefined()
  })

  it('without credentials still does STARTTLS and sends, without logging in', async () => {
    const server = await smtp({ tls: cert, auth: { user: 'alerts', pass: 'x' } })
    await deliver({ notifiers: [emailSpec(server)] })
    expect(server.starttls).toBe(1)
    expect(server.logins).toEqual([])
    expect(server.mails).toHaveLength(1)
    expect(server.mails[0]).toMatchObject({ secure: true, user: undefined })
  })

  it('speaks implicit TLS (SMTPS), the default on port 465', async () => {
    expect(resolveEmailOptions({ smtp_port: 465 }).smtp_secure).toBe(true)
    expect(resolveEmailOptions({ smtp_port: 587 }).smtp_secure).toBe(false)
    const server = await smtp({ tls: cert, implicitTls: true, auth: { user: 'alerts', pass: 'pw-implicit' }, authRequired: true })
    await deliver({ notifiers: [emailSpec(server, { smtp_secure: true, smtp_username: 'alerts', smtp_password: 'pw-implicit' })] })
    expect(server.starttls).toBe(0)
    expect(server.mails).toHaveLength(1)
    expect(server.mails[0]).toMatchObject({ secure: true, user: 'alerts' })
  })

  it('sends one message per recipient, as MADSci, over the pooled transport', async () => {
    const server = await smtp()
    const to = ['a@lab.example', 'b@lab.example', 'c@lab.example']
    const { stats } = await deliver({ notifiers: [emailSpec(server, { use_tls: false, email_addresses: to })] }, [makeEvent(), makeEvent()])
    expect(stats.notifiers.email.sent).toBe(2)
    expect(server.mails).toHaveLength(6)
    for (const mail of server.mails) {
      expect(mail.to).toHaveLength(1)
      expect(header(mail, 'To')).toEqual(mail.to)
    }
    expect(server.mails.map((m) => m.to[0]).sort()).toEqual([...to, ...to].sort())
    // Six messages, at most three (the pool size) SMTP sessions.
    expect(server.connections).toBeLessThanOrEqual(3)
  })

  it('can send one message to all recipients instead', async () => {
    const server = await smtp()
    await deliver({ notifiers: [emailSpec(server, { use_tls: false, per_recipient: false, email_addresses: ['a@lab.example', 'b@lab.example'] })] })
    expect(server.mails).toHaveLength(1)
    expect(server.mails[0].to).toEqual(['a@lab.example', 'b@lab.example'])
    expect(header(server.mails[0], 'To')).toEqual(['a@lab.example, b@lab.example'])
  })

  it('writes X-Priority 1/3/5 for High/Normal/Low, or MADSci’s inverted 1/5/3 on request', async () => {
    expect(['High', 'Normal', 'Low', 'whatever'].map((i) => xPriority(i))).toEqual(['1', '3', '5', '3'])
    expect(['high', 'normal', 'low'].map((i) => xPriority(i, 'madsci'))).toEqual(['1', '5', '3'])
    const server = await smtp()
    await deliver({
      notifiers: [emailSpec(server, { use_tls: false, name: 'standard' }), emailSpec(server, { use_tls: false, name: 'upstream', x_priority: 'madsci' })],
    })
    const byName = server.mails.map((m) => header(m, 'X-Priority')[0]).sort()
    expect(byName).toEqual(['3', '5'])
    expect(server.mails.every((m) => header(m, 'Importance')[0] === 'Normal')).toBe(true)
  })

  it('with no email addresses sends nothing and records MADSci’s warning', async () => {
    const server = await smtp()
    const { stats, events } = await deliver({ notifiers: [emailSpec(server, { use_tls: false, email_addresses: [] })] })
    expect(server.connections).toBe(0)
    expect(stats.notifiers.email).toMatchObject({ sent: 0, failed: 1, retried: 0 })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ event_type: 'manager_error', log_level: 30 })
    expect((events[0].event_data as { message: string }).message).toContain('No email addresses configured for alerts')
  })

  it('sends a digest with its own subject, headers and every listed event', async () => {
    const server = await smtp()
    const clock = manualClock()
    const rec = recordingContext()
    const d = createAlertDispatcher({ now: clock.now, notifiers: [emailSpec(server, { use_tls: false })] }, rec.context)
    const events = [makeEvent(), makeEvent(), makeEvent(), makeEvent()]
    for (const e of events) d.offer(e)
    clock.advance(60_000)
    await d.flush()
    await d.close()
    expect(server.mails).toHaveLength(2)
    // Both were queued before the lane ran: they may arrive in either order.
    const digest = server.mails.find((m) => header(m, 'X-MADSci-Alert-Kind').length > 0)!
    expect(server.mails.filter((m) => m !== digest).map((m) => header(m, 'Subject')[0])).toEqual(['ALERT (EventLogLevel.ERROR): EventType.NODE_ERROR'])
    expect(header(digest, 'Subject')).toEqual(['ALERT DIGEST (EventLogLevel.ERROR): EventType.NODE_ERROR (3 alerts)'])
    expect(header(digest, 'X-MADSci-Alert-Kind')).toEqual(['digest'])
    expect(header(digest, 'X-MADSci-Alert-Count')).toEqual(['3'])
    expect(header(digest, 'X-MADSci-Event-ID')).toEqual([events[1].event_id])
    for (const e of events.slice(1)) expect(digest.parsed.text).toContain(`"event_id": "${e.event_id}"`)
    expect(digest.parsed.text).toContain('3 alerts for node_error|node_id=01JRB6Y0000000000000000000')
  })

  it('re-sends only to the recipients that failed', async () => {
    const server = await smtp({ rcptFailures: { 'flaky@lab.example': 1 } })
    const { stats } = await deliver({
      retry: { retries: 2, baseMs: 1, maxMs: 5 },
      notifiers: [emailSpec(server, { use_tls: false, email_addresses: ['a@lab.example', 'flaky@lab.example', 'c@lab.example'] })],
    })
    expect(stats.notifiers.email).toMatchObject({ sent: 1, failed: 0, retried: 1 })
    expect(server.mails.map((m) => m.to[0]).sort()).toEqual(['a@lab.example', 'c@lab.example', 'flaky@lab.example'])
  })

  it('gives up at once on a permanent refusal and reports it without the credentials', async () => {
    const server = await smtp({ tls: cert, auth: { user: 'alerts', pass: 'right-password' }, authRequired: true })
    const { stats, events } = await deliver({
      retry: { retries: 3, baseMs: 1, maxMs: 5 },
      notifiers: [emailSpec(server, { smtp_username: 'alerts', smtp_password: 'wrong-password-123' })],
    })
    expect(server.logins).toEqual([{ user: 'alerts', pass: 'wrong-password-123' }])
    expect(stats.notifiers.email).toMatchObject({ sent: 0, failed: 1, retried: 0 })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ event_type: 'manager_error', log_level: 40 })
    const report = JSON.stringify(events[0])
    expect(report).toContain('EAUTH')
    expect(report).toContain('01JRB6Z6B1T3V7M9Q2W4E8R5TY')
    for (const text of [report, JSON.stringify(stats)]) {
      expect(text).not.toContain('wrong-password-123')
      expect(text).not.toContain(Buffer.from('wrong-password-123').toString('base64'))
    }
  })

  it('retries a temporary refusal, then counts the failure', async () => {
    const server = await smtp({ rejectData: { code: 451, message: 'Temporary local problem' } })
    const { stats, events } = await deliver({ retry: { retries: 2, baseMs: 1, maxMs: 5 }, notifiers: [emailSpec(server, { use_tls: false })] })
    expect(stats.notifiers.email).toMatchObject({ sent: 0, failed: 1, retried: 2 })
    expect((events[0].event_data as { madsci_events: { attempts: number } }).madsci_events.attempts).toBe(3)
  })

  it('refuses an untrusted certificate unless told otherwise', async () => {
    const server = await smtp({ tls: cert })
    const refused = await deliver({ notifiers: [emailSpec(server, { tls_ca: undefined })] })
    expect(refused.stats.notifiers.email).toMatchObject({ sent: 0, failed: 1 })
    expect(JSON.stringify(refused.events[0].event_data)).toMatch(/certificate/i)
    expect(server.mails).toHaveLength(0)
    const accepted = await deliver({ notifiers: [emailSpec(server, { tls_ca: undefined, tls_reject_unauthorized: false })] })
    expect(accepted.stats.notifiers.email).toMatchObject({ sent: 1 })
    expect(server.mails).toHaveLength(1)
  })
})
