import { describe, expect, it } from 'vitest'
import { type AlertOptions, EmailNotifier, REDACTED, WebhookNotifier, madsciAlertSettings, redactAlertOptions, redactWebhookUrl } from '../../src/notify/index.js'

const SECRETS = ['smtp-user-007', 'smtp-pass-xyz', 'T0000/B0000/XXXXXXXX', 'Bearer abc.def', 'whsec-123456', 'plug-token-9', 'db-pass-42', 'nested-key-77']

function options(): AlertOptions {
  return {
    alertLevel: 'ERROR',
    now: () => 0,
    storm: { key: (e) => e.event_type, digestWindowMs: 30_000 },
    notifiers: [
      { type: 'email', smtp_server: 'smtp.lab.example', smtp_username: 'smtp-user-007', smtp_password: 'smtp-pass-xyz', email_addresses: ['ops@lab.example'] },
      { type: 'email', name: 'no-credentials', smtp_server: 'smtp.lab.example' },
      {
        type: 'webhook',
        format: 'slack',
        url: 'https://hooks.slack.com/services/T0000/B0000/XXXXXXXX',
        headers: { Authorization: 'Bearer abc.def' },
        signingSecret: 'whsec-123456',
      },
      { module: 'my-pager', options: { apiToken: 'plug-token-9', endpoint: 'https://pager:db-pass-42@pager.example/v1', nested: { privateKey: 'nested-key-77', region: 'eu' } } },
    ],
  }
}

describe('secrets', () => {
  it('redactAlertOptions shows the settings without any secret, as /settings will', () => {
    const original = options()
    const snapshot = JSON.stringify(original)
    const shown = redactAlertOptions(original)
    const text = JSON.stringify(shown)
    for (const s of SECRETS) expect(text).not.toContain(s)
    expect(JSON.stringify(original)).toBe(snapshot) // not mutated
    const [email, bare, hook, plugin] = shown.notifiers as Array<Record<string, unknown>>
    // As MADSci: both SMTP credential fields always shown redacted, set or not.
    expect(email).toMatchObject({ type: 'email', smtp_server: 'smtp.lab.example', smtp_username: REDACTED, smtp_password: REDACTED, email_addresses: ['ops@lab.example'] })
    expect(bare).toMatchObject({ smtp_username: REDACTED, smtp_password: REDACTED })
    expect(hook).toEqual({ type: 'webhook', format: 'slack', url: `https://hooks.slack.com/${REDACTED}`, headers: { Authorization: REDACTED }, signingSecret: REDACTED })
    expect(plugin).toEqual({
      module: 'my-pager',
      options: { apiToken: REDACTED, endpoint: `https://${REDACTED}@pager.example/v1`, nested: { privateKey: REDACTED, region: 'eu' } },
    })
    expect(shown.alertLevel).toBe('ERROR')
    expect(shown.storm).toEqual({ digestWindowMs: 30_000 })
    expect(shown).not.toHaveProperty('now')
  })

  it('shows a webhook URL by scheme and host only', () => {
    expect(redactWebhookUrl('https://outlook.office.com/webhook/abc@def/IncomingWebhook/123/456')).toBe(`https://outlook.office.com/${REDACTED}`)
    expect(redactWebhookUrl('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080/')
    expect(redactWebhookUrl('http://127.0.0.1:8080/?token=x')).toBe(`http://127.0.0.1:8080/${REDACTED}`)
    expect(redactWebhookUrl('not a url')).toBe(REDACTED)
  })

  it('notifiers describe themselves without secrets', () => {
    const email = new EmailNotifier({ smtp_username: 'smtp-user-007', smtp_password: 'smtp-pass-xyz' })
    const hook = new WebhookNotifier({ url: 'https://hooks.slack.com/services/T0000/B0000/XXXXXXXX', headers: { Authorization: 'Bearer abc.def' }, signingSecret: 'whsec-123456' })
    const text = JSON.stringify([email.describe(), hook.describe()])
    for (const s of SECRETS) expect(text).not.toContain(s)
    expect(email.describe()).toMatchObject({ type: 'email', smtp_port: 587, use_tls: true, smtp_password: REDACTED })
    expect(redactAlertOptions({ notifiers: [email] }).notifiers).toEqual([email.describe()])
  })

  it('madsciAlertSettings gives /settings MADSci’s alert_level and email_alerts, secrets redacted', () => {
    expect(madsciAlertSettings({})).toEqual({ alert_level: 40, email_alerts: null })
    const shown = madsciAlertSettings(options())
    expect(shown).toEqual({
      alert_level: 40,
      email_alerts: {
        smtp_server: 'smtp.lab.example',
        smtp_port: 587,
        smtp_username: REDACTED,
        smtp_password: REDACTED,
        use_tls: true,
        sender: 'no-reply@example.com',
        default_importance: 'Normal',
        email_addresses: ['ops@lab.example'],
      },
    })
    expect(Object.keys(shown.email_alerts!)).toEqual(['smtp_server', 'smtp_port', 'smtp_username', 'smtp_password', 'use_tls', 'sender', 'default_importance', 'email_addresses'])
  })
})
