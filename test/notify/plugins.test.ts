import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { ConsoleNotifier, createAlertDispatcher } from '../../src/notify/index.js'
import { loadPlugin } from '../../src/plugins.js'
import { makeEvent, manualClock, recordingContext } from './support/peers.js'

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

describe('notifier plugins named by module', () => {
  it('imports the module, calls create(options, context) and delivers through it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'madsci-plugin-'))
    const path = join(dir, 'alerts.ndjson')
    const clock = manualClock()
    const { context, events } = recordingContext()
    const d = createAlertDispatcher(
      { now: clock.now, notifiers: [{ module: relative(process.cwd(), fixture('file-notifier.mjs')).replace(/^(?!\.)/, './'), options: { path, apiToken: 'tok-secret-1' }, name: 'file' }] },
      context,
    )
    expect(d.stats().notifiers.file.state).toBe('loading')
    for (let i = 0; i < 5; i++) d.offer(makeEvent())
    await d.ready()
    expect(d.stats().notifiers.file.state).toBe('ready')
    clock.advance(60_000)
    await d.flush()
    await d.close()
    const lines = (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    // The alert and the digest were both queued before the lane ran (two sends at once): either order.
    expect(lines).toHaveLength(3)
    expect(lines.slice(0, 2)).toEqual(
      expect.arrayContaining([
        { kind: 'event', key: 'node_error|node_id=01JRB6Y0000000000000000000', count: 1, token: 'set' },
        { kind: 'digest', key: 'node_error|node_id=01JRB6Y0000000000000000000', count: 4, token: 'set' },
      ]),
    )
    expect(lines[2]).toEqual({ closed: true })
    // The plugin's own event went through the context, marked as the dispatcher's (never alerted on).
    expect(events).toHaveLength(1)
    expect(events[0].event_data).toMatchObject({ message: `file-notifier writing to ${path}`, madsci_events: { component: 'alerts' } })
    expect(d.stats().notifiers.file).toMatchObject({ type: 'module', state: 'closed', sent: 2 })
  })

  it('accepts a default-exported factory; its permanent refusals are counted, not thrown', async () => {
    const { context, events } = recordingContext()
    const d = createAlertDispatcher({ storm: false, notifiers: [{ module: fixture('default-notifier.mjs'), options: { who: 'pager' } }] }, context)
    d.offer(makeEvent())
    await d.flush()
    expect(d.stats().notifiers.module).toMatchObject({ sent: 0, failed: 1, retried: 0 })
    expect((events[0].event_data as { message: string }).message).toContain('refused by pager')
    await d.close()
  })

  it('reports a module that cannot be loaded, and drops its alerts', async () => {
    const { context, events } = recordingContext()
    const d = createAlertDispatcher(
      { storm: false, notifiers: [{ module: fixture('not-a-notifier.mjs') }, { module: './does-not-exist.mjs', name: 'missing' }] },
      context,
    )
    d.offer(makeEvent())
    await d.ready()
    d.offer(makeEvent())
    await d.flush()
    const s = d.stats().notifiers
    expect(s.module).toMatchObject({ state: 'failed', droppedClosed: 2, sent: 0 })
    expect(s.module.lastError).toContain('exports no factory')
    expect(s.missing).toMatchObject({ state: 'failed', droppedClosed: 2 })
    expect(s.missing.lastError).toContain('cannot import the plugin module')
    expect(events.map((e) => e.log_level)).toEqual([40, 40])
    await d.close()
  })

  it('loadPlugin fails with a ConfigError naming the module', async () => {
    await expect(loadPlugin({ module: fixture('not-a-notifier.mjs') }, recordingContext().context)).rejects.toBeInstanceOf(ConfigError)
    await expect(loadPlugin({ module: '/nonexistent/x.mjs' }, recordingContext().context, 'notifiers[3].module')).rejects.toThrow(/notifiers\[3\]\.module.*\/nonexistent\/x\.mjs/)
  })

  it('rejects specs it does not understand, naming them', () => {
    const { context } = recordingContext()
    expect(() => createAlertDispatcher({ notifiers: [{ type: 'pager' } as never] }, context)).toThrow(/notifiers\[0\]\.type.*email, webhook or console/)
    expect(() => createAlertDispatcher({ notifiers: [{ module: 'x', extra: 1 } as never] }, context)).toThrow(/notifiers\[0\]\.extra.*unknown/)
    expect(() => createAlertDispatcher({ notifiers: [{ type: 'email', maxQueue: 0 }] }, context)).toThrow(/notifiers\[0\]\.maxQueue/)
    expect(() => createAlertDispatcher({ notifiers: [{ type: 'email', smtp_port: '25' as never }] }, context)).toThrow(/notifiers\[0\]\.smtp_port.*1 to 65535/)
    expect(() => createAlertDispatcher({ storm: { digestWindowMs: -1 } }, context)).toThrow(/storm\.digestWindowMs/)
    expect(() => createAlertDispatcher({ storm: { keyBy: ['colour' as never] } }, context)).toThrow(/storm\.keyBy.*event_type, log_level, source/)
    expect(() => createAlertDispatcher({ alertlevel: 40 } as never, context)).toThrow(/alertOptions\.alertlevel.*unknown/)
  })

  it('gives notifiers unique names and per-notifier delivery settings', async () => {
    const { context } = recordingContext()
    const out: string[] = []
    const stream = { write: (s: string) => out.push(s) }
    const d = createAlertDispatcher(
      {
        storm: false,
        notifiers: [
          { type: 'console', stream, format: 'json' },
          { type: 'console', stream, maxQueue: 1 },
          { notifier: new ConsoleNotifier({ stream }), name: 'mine', storm: {} },
        ],
      },
      context,
    )
    expect(Object.keys(d.stats().notifiers)).toEqual(['console', 'console-2', 'mine'])
    d.offer(makeEvent())
    d.offer(makeEvent())
    await d.flush()
    const s = d.stats().notifiers
    expect(s.console).toMatchObject({ sent: 2, droppedOverflow: 0 })
    expect(s['console-2']).toMatchObject({ sent: 1, droppedOverflow: 1 })
    expect(s.mine).toMatchObject({ sent: 1, digested: 1 })
    const json = out.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
    expect(json).toHaveLength(2)
    expect(json[0]).toMatchObject({ type: 'madsci.alert', subject: 'ALERT (EventLogLevel.ERROR): EventType.NODE_ERROR', level_name: 'ERROR' })
    const text = out.filter((l) => l.startsWith('ALERT'))
    expect(text).toHaveLength(2)
    expect(text[0]).toMatch(/^ALERT \(EventLogLevel.ERROR\): EventType.NODE_ERROR\n\{\n {2}"event_id": /)
    await d.close()
  })
})
