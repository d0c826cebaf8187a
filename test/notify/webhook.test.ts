import { createHmac } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { parseEvent } from '../../src/event/index.js'
import { type AlertOptions, createAlertDispatcher, signWebhook, verifyWebhookSignature } from '../../src/notify/index.js'
import { makeEvent, manualClock, recordingContext, startHttpReceiver } from './support/peers.js'

const receivers: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

async function receiver(...args: Parameters<typeof startHttpReceiver>) {
  const r = await startHttpReceiver(...args)
  receivers.push(r)
  return r
}

async function deliver(options: AlertOptions, events = [alertEvent()]) {
  const rec = recordingContext()
  const d = createAlertDispatcher({ storm: false, retry: { retries: 0 }, ...options }, rec.context)
  for (const e of events) d.offer(e)
  await d.flush()
  const stats = d.stats()
  await d.close()
  return { stats, events: rec.events }
}

function alertEvent() {
  return parseEvent({
    event_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TY',
    event_type: 'node_error',
    log_level: 50,
    event_timestamp: '2026-04-09T14:47:11.123456',
    source: { node_id: '01JRB6Y0000000000000000000', workcell_id: '01JRB6Y0000000000000000001' },
    event_data: { message: 'Gripper jammed', position: [1.5, 2] },
  })
}

describe('WebhookNotifier', () => {
  it('posts the generic JSON payload with custom headers', async () => {
    const r = await receiver()
    await deliver({ notifiers: [{ type: 'webhook', url: `${r.url}/hooks/madsci?team=lab`, headers: { Authorization: 'Bearer tok-123', 'X-Lab': 'west' } }] })
    expect(r.requests).toHaveLength(1)
    const req = r.requests[0]
    expect(req.method).toBe('POST')
    expect(req.url).toBe('/hooks/madsci?team=lab')
    expect(req.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(req.headers.authorization).toBe('Bearer tok-123')
    expect(req.headers['x-lab']).toBe('west')
    expect(req.headers['x-madsci-signature']).toBeUndefined()
    expect(JSON.parse(req.body)).toEqual({
      type: 'madsci.alert',
      version: 1,
      subject: 'ALERT (EventLogLevel.CRITICAL): EventType.NODE_ERROR',
      key: 'node_error|node_id=01JRB6Y0000000000000000000,workcell_id=01JRB6Y0000000000000000001',
      level: 50,
      level_name: 'CRITICAL',
      event: {
        event_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TY',
        event_type: 'node_error',
        log_level: 50,
        alert: false,
        event_timestamp: '2026-04-09T14:47:11.123456',
        source: { node_id: '01JRB6Y0000000000000000000', workcell_id: '01JRB6Y0000000000000000001' },
        event_data: { message: 'Gripper jammed', position: [1.5, 2] },
        trace_id: null,
        span_id: null,
        archived: false,
        archived_at: null,
      },
    })
  })

  it('signs the body with HMAC-SHA256 over "<timestamp>.<body>"', async () => {
    const r = await receiver()
    const clock = manualClock(Date.parse('2026-04-09T12:00:00Z'))
    await deliver({ now: clock.now, notifiers: [{ type: 'webhook', url: r.url, signingSecret: 'whsec-test-key' }] })
    const req = r.requests[0]
    const ts = req.headers['x-madsci-timestamp'] as string
    expect(ts).toBe(String(Date.parse('2026-04-09T12:00:00Z') / 1000))
    const expected = 'sha256=' + createHmac('sha256', 'whsec-test-key').update(`${ts}.${req.body}`).digest('hex')
    expect(req.headers['x-madsci-signature']).toBe(expected)
    expect(signWebhook('whsec-test-key', ts, req.body)).toBe(expected)
    const check = { secret: 'whsec-test-key', body: req.body, timestamp: ts, signature: expected, nowMs: clock.now() }
    expect(verifyWebhookSignature(check)).toBe(true)
    expect(verifyWebhookSignature({ ...check, body: req.body.replace('Gripper', 'Grabber') })).toBe(false)
    expect(verifyWebhookSignature({ ...check, secret: 'other' })).toBe(false)
    expect(verifyWebhookSignature({ ...check, nowMs: clock.now() + 301_000 })).toBe(false)
    expect(verifyWebhookSignature({ ...check, signature: undefined })).toBe(false)
  })

  it('posts a Slack-compatible payload', async () => {
    const r = await receiver()
    await deliver({ notifiers: [{ type: 'webhook', format: 'slack', url: r.url }] })
    const body = JSON.parse(r.requests[0].body)
    expect(body.text).toMatch(/^ALERT \(EventLogLevel.CRITICAL\): EventType.NODE_ERROR\nGripper jammed/)
    expect(body.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'ALERT (EventLogLevel.CRITICAL): EventType.NODE_ERROR' } })
    expect(body.blocks[1].type).toBe('section')
    expect(body.blocks[1].text.type).toBe('mrkdwn')
    expect(body.blocks[1].text.text).toContain('01JRB6Z6B1T3V7M9Q2W4E8R5TY')
    expect(body.blocks[2].text.text).toContain('"event_id": "01JRB6Z6B1T3V7M9Q2W4E8R5TY"')
    for (const b of body.blocks.slice(1)) expect(b.text.text.length).toBeLessThanOrEqual(3000)
  })

  it('posts a Teams-compatible Adaptive Card message', async () => {
    const r = await receiver()
    await deliver({ notifiers: [{ type: 'webhook', format: 'teams', url: r.url }] })
    const body = JSON.parse(r.requests[0].body)
    expect(body.type).toBe('message')
    expect(body.attachments).toHaveLength(1)
    const { contentType, content } = body.attachments[0]
    expect(contentType).toBe('application/vnd.microsoft.card.adaptive')
    expect(content).toMatchObject({ type: 'AdaptiveCard', version: '1.4', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json' })
    expect(content.body[0]).toMatchObject({ type: 'TextBlock', text: 'ALERT (EventLogLevel.CRITICAL): EventType.NODE_ERROR' })
    expect(content.body[1].facts).toContainEqual({ title: 'Event ID', value: '01JRB6Z6B1T3V7M9Q2W4E8R5TY' })
  })

  it('sends digests as madsci.alert.digest with the listed events', async () => {
    const r = await receiver()
    const clock = manualClock()
    const rec = recordingContext()
    const d = createAlertDispatcher({ now: clock.now, notifiers: [{ type: 'webhook', url: r.url }] }, rec.context)
    const sent = [makeEvent(), makeEvent({ event_data: { message: 'same' } }), makeEvent({ event_data: { message: 'same' } })]
    for (const e of sent) d.offer(e)
    clock.advance(60_000)
    await d.flush()
    await d.close()
    const bodies = r.requests.map((q) => JSON.parse(q.body))
    const digest = bodies.find((b) => b.type === 'madsci.alert.digest')
    expect(digest).toMatchObject({ count: 2, duplicates: 0, omitted: 0, reason: 'window', event_types: ['node_error'], level_name: 'ERROR' })
    expect(digest.items).toEqual([{ occurrences: 2, event: expect.objectContaining({ event_id: sent[1].event_id }) }])
  })

  it('retries a 500 with backoff, then counts and reports the failure', async () => {
    const r = await receiver(() => ({ status: 500, body: 'database exploded' }))
    const { stats, events } = await deliver({
      retry: { retries: 2, baseMs: 1, maxMs: 5 },
      notifiers: [{ type: 'webhook', url: `${r.url}/services/T000/B000/XXXXSECRETXXXX` }],
    })
    expect(r.requests).toHaveLength(3)
    expect(stats.notifiers.webhook).toMatchObject({ sent: 0, failed: 1, retried: 2 })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ event_type: 'manager_error', log_level: 40 })
    const data = events[0].event_data as { message: string; madsci_events: Record<string, unknown> }
    expect(data.message).toContain('answered HTTP 500: database exploded')
    expect(data.madsci_events).toMatchObject({ notifier: 'webhook', attempts: 3, alert_event_id: '01JRB6Z6B1T3V7M9Q2W4E8R5TY', permanent: false })
    // The URL path carries the token (Slack, Teams): never shown.
    for (const text of [JSON.stringify(events), JSON.stringify(stats)]) expect(text).not.toContain('XXXXSECRETXXXX')
  })

  it('does not retry a 4xx refusal, but does retry 429 after Retry-After', async () => {
    const refused = await receiver(() => ({ status: 403 }))
    const a = await deliver({ retry: { retries: 3, baseMs: 1, maxMs: 5 }, notifiers: [{ type: 'webhook', url: refused.url }] })
    expect(refused.requests).toHaveLength(1)
    expect(a.stats.notifiers.webhook).toMatchObject({ failed: 1, retried: 0 })

    const limited = await receiver((_req, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '0' } } : { status: 204 }))
    const b = await deliver({ retry: { retries: 3, baseMs: 1, maxMs: 5 }, notifiers: [{ type: 'webhook', url: limited.url }] })
    expect(limited.requests).toHaveLength(2)
    expect(b.stats.notifiers.webhook).toMatchObject({ sent: 1, failed: 0, retried: 1 })
  })

  it('gives up on a webhook that never answers (per-attempt deadline)', async () => {
    const r = await receiver(() => 'hang')
    const { stats, events } = await deliver({ sendTimeoutMs: 200, notifiers: [{ type: 'webhook', url: r.url }] })
    expect(r.requests).toHaveLength(1)
    expect(stats.notifiers.webhook).toMatchObject({ sent: 0, failed: 1 })
    expect((events[0].event_data as { message: string }).message).toContain('sendTimeoutMs')
  })

  it('rejects bad webhook options with a ConfigError naming them', () => {
    const { context } = recordingContext()
    expect(() => createAlertDispatcher({ notifiers: [{ type: 'webhook', url: 'ftp://x' }] }, context)).toThrow(/notifiers\[0\]\.url.*http/)
    expect(() => createAlertDispatcher({ notifiers: [{ type: 'webhook', url: 'http://x', format: 'discord' as 'json' }] }, context)).toThrow(/notifiers\[0\]\.format.*json, slack, teams/)
    expect(() => createAlertDispatcher({ notifiers: [{ type: 'webhook', url: 'http://x', secret: 'y' } as never] }, context)).toThrow(/notifiers\[0\]\.secret.*unknown/)
  })
})
