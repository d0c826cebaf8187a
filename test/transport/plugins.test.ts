import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, projectDir, readEventFiles, runApp, summaries } from './helpers.js'

/**
 * Alerts and analyzers in the transport's worker thread, named by module specifier plus plain
 * options (pino copies options into the worker; objects with functions cannot go there): a
 * notifier module of the program's own and the built-in error-rate analyzer, whose anomaly event
 * goes through the same sinks and alerts like any event.
 */
beforeAll(() => ensureBuilt())

const NOTIFIER = fileURLToPath(new URL('./fixtures/alert-file-notifier.mjs', import.meta.url))
const APP = fileURLToPath(new URL('./fixtures/plugins-app.mjs', import.meta.url))

describe('alerts and analyzers named by module in the transport options', () => {
  it('alertLevel, a notifier module, and the error-rate analyzer run in the worker', { timeout: 60_000 }, async () => {
    const dir = await projectDir()
    const file = join(dir, 'events.ndjson')
    const alertsFile = join(dir, 'alerts.ndjson')
    const options = {
      file,
      alerts: { alertLevel: 'CRITICAL', notifiers: [{ module: NOTIFIER, options: { path: alertsFile } }] },
      analyzers: [{ module: 'builtin:error-rate', options: { minBaselineWindows: 0, minErrors: 10 } }],
    }
    const r = await runApp({ options }, { args: [APP, JSON.stringify({ options })], cwd: dir })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)

    const events = readEventFiles(file)
    // The notifier module's own event, logged through the transport's pipeline.
    expect(events.filter((e) => (e.event_data as { message?: string }).message === `alert-file-notifier writing to ${alertsFile}`)).toHaveLength(1)
    // The analyzer saw the burst of errors and logged an anomaly event (an alert).
    const anomalies = events.filter((e) => e.alert === true && e.event_type === 'log_warning')
    expect(anomalies).toHaveLength(1)
    expect(JSON.stringify(anomalies[0].event_data)).toMatch(/error-rate/)

    const alerts = readFileSync(alertsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    const sent = alerts.filter((a) => a.kind === 'event')
    // Below alertLevel (ERROR lines) nothing; the CRITICAL line, the alert: true line and the anomaly alert.
    expect(sent.map((a) => a.type).sort()).toEqual(['log_critical', 'log_info', 'log_warning'])
    expect(sent.find((a) => a.type === 'log_critical')).toMatchObject({ level: 50, message: 'reactor overheating' })
    expect(sent.find((a) => a.type === 'log_info')).toMatchObject({ message: 'operator asked for attention' })
    // The notifier was closed when the transport closed (its digests, if any, before that).
    expect(alerts[alerts.length - 1]).toEqual({ closed: true })
    expect(summaries(events)).toHaveLength(1)
  })

  it('a notifier that is not plain data fails on the main thread with a clear error', { timeout: 60_000 }, async () => {
    const dir = await projectDir()
    const options = { file: join(dir, 'events.ndjson'), alerts: { notifiers: [{ type: 'pager' }] } }
    const r = await runApp({ options }, { args: [APP, JSON.stringify({ options })], cwd: dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/ConfigError: Invalid option `notifiers\[0\]\.type`|ConfigError: Invalid option `notifiers\[0\]/)
  })
})
