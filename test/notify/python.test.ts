import { afterEach, describe, expect, inject, it } from 'vitest'
// @ts-expect-error plain ESM script
import { runPythonClient } from '../../scripts/lib/python-peer.mjs'
import { type Event, eventToObject, parseEvent } from '../../src/event/index.js'
import { ConfigError } from '../../src/errors.js'
import { EMAIL_ALERTS_DEFAULTS, alertOptionsFromEnv, createAlertDispatcher, resolveEmailOptions } from '../../src/notify/index.js'
import { recordingContext } from './support/peers.js'
import { type ReceivedMail, type TestSmtpServer, startSmtpServer } from './support/smtp.js'

/**
 * Conformance with the Python MADSci 0.8.1 package (the peer venv): its own EmailAlerts sends
 * to our test SMTP server, and so does our EmailNotifier, for the same event; and its settings
 * read the same environment variables as alertOptionsFromEnv().
 */

const python = inject('python')

const servers: TestSmtpServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

const SEND_WITH_MADSCI = `
import json, socket, sys
# smtplib names itself with socket.getfqdn(), a reverse DNS lookup that stalls without DNS; the EHLO name is irrelevant here.
socket.getfqdn = lambda name="": "madsci-test.local"
from madsci.common.types.event_types import Event, EmailAlertsConfig
from madsci.event_manager.notifications import EmailAlerts
from madsci.client.event_client import EventClient
logger = EventClient()
for job in json.load(sys.stdin):
    EmailAlerts(EmailAlertsConfig(**job["config"]), logger=logger).send_email_alerts(Event.model_validate(job["event"]))
print(json.dumps({"ok": True}))
`

function header(mail: ReceivedMail, name: string): string | undefined {
  return mail.rawHeaders.find(([k]) => k === name)?.[1]
}

const RECIPIENTS = ['a@lab.example', 'b@lab.example', 'c@lab.example']

/** MADSci's EmailAlerts and our EmailNotifier each send `event` once per importance, each to its own server. */
async function sendBoth(importances: string[], xPriority: 'standard' | 'madsci', event: Event) {
  const pair = await Promise.all(importances.map(async () => [await startSmtpServer(), await startSmtpServer()] as const))
  for (const [p, o] of pair) servers.push(p, o)
  const config = (importance: string, port: number) => ({ smtp_server: '127.0.0.1', smtp_port: port, use_tls: false, sender: 'madsci@lab.example', default_importance: importance, email_addresses: RECIPIENTS })
  await runPythonClient({ python, script: SEND_WITH_MADSCI, input: importances.map((imp, i) => ({ config: config(imp, pair[i][0].port), event: eventToObject(event, 'event_id') })) })
  const d = createAlertDispatcher(
    { storm: false, notifiers: importances.map((imp, i) => ({ type: 'email' as const, name: imp, ...config(imp, pair[i][1].port), x_priority: xPriority })) },
    recordingContext().context,
  )
  d.offer(event)
  await d.flush()
  await d.close()
  const byRecipient = (s: TestSmtpServer) => [...s.mails].sort((x, y) => x.to[0].localeCompare(y.to[0]))
  return pair.map(([p, o]) => ({ py: byRecipient(p), ours: byRecipient(o) }))
}

const event = parseEvent({
  event_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TY',
  event_type: 'workflow_step_failed',
  log_level: 40,
  alert: true,
  event_timestamp: '2026-04-09T14:47:11.123456',
  source: { workflow_id: '01JRB6Y0000000000000000002', node_id: '01JRB6Y0000000000000000000' },
  event_data: { message: 'Gripper jammed', 'naïve': 'température', values: [2.5, -3, { deep: null }], empty: {}, list: [] },
  trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
})

describe('email conformance with MADSci 0.8.1 (Python)', () => {
  it('sends the same messages: envelope, subject, headers, body, one per recipient', async () => {
    const [{ py, ours }] = await sendBoth(['Normal'], 'madsci', event)
    expect(py).toHaveLength(3)
    expect(ours).toHaveLength(3)
    for (let i = 0; i < 3; i++) {
      const [p, o] = [py[i], ours[i]]
      expect(o.from).toBe(p.from)
      expect(o.to).toEqual(p.to)
      for (const name of ['Subject', 'From', 'To', 'Importance', 'X-Priority', 'X-MADSci-Event-ID']) {
        expect(header(p, name), name).toBeDefined()
        expect(header(o, name), name).toBe(header(p, name))
      }
      expect(o.parsed.text?.replace(/\n$/, '')).toBe(p.parsed.text?.replace(/\n$/, ''))
    }
    expect(header(ours[0], 'Subject')).toBe('ALERT (EventLogLevel.ERROR): EventType.WORKFLOW_STEP_FAILED')
  })

  it('differs only in X-Priority by default: 1/3/5 for High/Normal/Low (MADSci sends 5 for Normal, 3 for Low)', async () => {
    const results = await sendBoth(['High', 'Normal', 'Low'], 'standard', event)
    expect(results.map(({ py }) => header(py[0], 'X-Priority'))).toEqual(['1', '5', '3'])
    expect(results.map(({ ours }) => header(ours[0], 'X-Priority'))).toEqual(['1', '3', '5'])
    for (const { py, ours } of results) expect(header(ours[0], 'Importance')).toBe(header(py[0], 'Importance'))
  })
})

const READ_SETTINGS = `
import json, os, sys
from madsci.common.types.event_types import EventManagerSettings
out = []
for env in json.load(sys.stdin):
    for k in [k for k in os.environ if k.upper().startswith("EVENT_")]:
        del os.environ[k]
    os.environ.update(env)
    # MADSci 0.8.1 quirk: the first EventManagerSettings() of a process rejects EVENT_EMAIL_ALERTS JSON
    # and ignores the nested variables; later ones read them as pydantic-settings documents.
    try:
        EventManagerSettings()
    except Exception:
        pass
    try:
        s = EventManagerSettings()
        out.append({"alert_level": int(s.alert_level), "email_alerts": s.email_alerts.model_dump(mode="json") if s.email_alerts else None})
    except Exception as e:
        out.append({"error": type(e).__name__})
print(json.dumps(out))
`

describe('environment conformance with MADSci 0.8.1 (pydantic-settings)', () => {
  it('reads EVENT_ALERT_LEVEL and EVENT_EMAIL_ALERTS(__*) as the Python settings do', async () => {
    const cases: NodeJS.ProcessEnv[] = [
      {},
      { EVENT_ALERT_LEVEL: 'warning' },
      { EVENT_ALERT_LEVEL: 'EventLogLevel.CRITICAL' },
      { EVENT_ALERT_LEVEL: '10' },
      { EVENT_ALERT_LEVEL: '25' },
      { EVENT_EMAIL_ALERTS: '{"smtp_server": "smtp.lab.example", "smtp_port": 25, "email_addresses": ["a@lab.example"]}', EVENT_EMAIL_ALERTS__SMTP_PORT: '2525' },
      { event_email_alerts__email_addresses: '["x@lab.example"]', EVENT_EMAIL_ALERTS__USE_TLS: 'off', EVENT_EMAIL_ALERTS__SMTP_USERNAME: 'u' },
      { EVENT_EMAIL_ALERTS: '{"smtp_password": "p", "default_importance": "High", "sender": "s@lab.example"}' },
      { EVENT_EMAIL_ALERTS: 'null', EVENT_EMAIL_ALERTS__SMTP_PORT: '2525' },
      { EVENT_EMAIL_ALERTS__SMTP_PORT: 'abc' },
      { EVENT_EMAIL_ALERTS__EMAIL_ADDRESSES: 'a@lab.example' },
      { EVENT_EMAIL_ALERTS: '{"email_addresses": "a@lab.example"}' },
    ]
    const expected = (await runPythonClient({ python, script: READ_SETTINGS, input: cases })) as Array<{ alert_level?: number; email_alerts?: unknown; error?: string }>
    const fields = Object.keys(EMAIL_ALERTS_DEFAULTS)
    cases.forEach((env, i) => {
      let ours: { alert_level: number; email_alerts: unknown } | { error: string }
      try {
        const opts = alertOptionsFromEnv(env)
        const spec = opts.notifiers?.[0] as Record<string, unknown> | undefined
        let email: Record<string, unknown> | null = null
        if (spec) {
          const { type: _type, ...rest } = spec
          const resolved = resolveEmailOptions(rest) as unknown as Record<string, unknown>
          email = Object.fromEntries(fields.map((f) => [f, resolved[f]]))
        }
        ours = { alert_level: (opts.alertLevel as number | undefined) ?? 40, email_alerts: email }
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError)
        ours = { error: 'ValidationError' }
      }
      const theirs = expected[i].error ? { error: 'ValidationError' } : expected[i]
      expect(ours, JSON.stringify(env)).toEqual(theirs)
    })
  })
})
