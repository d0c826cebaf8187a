import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { newUlid } from '../../src/index.js'
import { cleanEnv, ensureBuilt, projectDir, readEventFiles, ROOT, runApp, summaries } from './helpers.js'

/**
 * Every example in examples/ runs for real, as `node examples/<name>/index.mjs` from a fresh
 * project directory, configured only through the environment variables its README names, and its
 * events are read back from the store it wrote to. The examples import the package by its name
 * (`madsci-events`), which resolves to this package's build.
 */
beforeAll(() => ensureBuilt())

const mongoUrl = inject('mongoUrl')
const emUrl = inject('pythonEventManagerUrl')
const client = new MongoClient(mongoUrl)
const database = `t_transport_examples_${process.pid}`
afterAll(async () => {
  await client.db(database).dropDatabase().catch(() => undefined)
  await client.close()
})

const example = (name: string): string => join(ROOT, 'examples', name, 'index.mjs')

async function runExample(name: string, env: Record<string, string> = {}, stderr = '') {
  const dir = await projectDir('madsci-example-')
  const r = await runApp({}, { args: [example(name)], cwd: dir, env: cleanEnv(env) })
  expect(r.stderr).toBe(stderr)
  expect(r.code).toBe(0)
  return { ...r, dir }
}

const data = (e: Record<string, unknown>) => e.event_data as Record<string, unknown>

describe('examples', () => {
  it('pino-to-mongodb: the service\'s lines are MADSci Events in MongoDB', { timeout: 120_000 }, async () => {
    const r = await runExample('pino-to-mongodb', { EVENT_DB_URL: mongoUrl, EVENT_DATABASE_NAME: database })
    const events = (await client.db(database).collection('events').find({}).sort({ event_timestamp: 1, _id: 1 }).toArray()) as Array<Record<string, unknown>>
    const user = events.filter((e) => !summaries([e]).length)
    expect(user.map((e) => e.event_type)).toEqual([
      'node_start',
      'workflow_start',
      'workflow_step_start',
      'workflow_step_complete',
      'workflow_step_start',
      'workflow_step_complete',
      'workflow_step_start',
      'workflow_step_complete',
      'log_warning',
      'workflow_abort',
      'node_stop',
    ])
    expect(summaries(events)).toHaveLength(1)
    const failed = user.find((e) => e.event_type === 'workflow_abort') as Record<string, unknown>
    expect(failed).toMatchObject({
      log_level: 40,
      alert: true,
      source: { node_id: '01JRB6Y0000000000000000005', workflow_id: '01JRB6Y0000000000000000009' },
      event_data: {
        message: 'transfer workflow failed',
        pid: r.pid,
        err: { type: 'Error', message: 'gripper did not close', cause: { type: 'Error', message: 'pressure 0.2 bar below 1.5 bar' } },
      },
    })
    expect(user.find((e) => data(e).step === 3 && e.event_type === 'workflow_step_complete')).toMatchObject({ log_level: 20, event_data: { volume_ul: 150 } })
    expect(user.find((e) => e.event_type === 'workflow_step_start')).toMatchObject({ log_level: 10 })
  })

  it('pino-to-event-manager: the service\'s lines reach the Python Event Manager over HTTP', { timeout: 120_000 }, async () => {
    const nodeId = newUlid()
    // The one notice: the Python Event Manager has no batch route (the transport's worker says so on stderr).
    const single = `madsci-events warning MADSCI_WARN_SINGLE_POST: The Event Manager has no batch route (the Python server); events are sent one POST each: ${emUrl.replace(/\/?$/, '/')}\n`
    await runExample('pino-to-event-manager', { EVENT_SERVER_URL: emUrl, EVENT_CLIENT_SOURCE__NODE_ID: nodeId }, single)
    const res = await fetch(`${emUrl.replace(/\/$/, '')}/events/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'source.node_id': nodeId }) })
    const events = Object.values((await res.json()) as Record<string, Record<string, unknown>>)
    const user = events.filter((e) => !summaries([e]).length)
    expect(user).toHaveLength(11)
    expect(user.filter((e) => e.event_type === 'action_complete').map((e) => data(e).well).sort()).toEqual(['A1', 'A2', 'A3', 'A4', 'A5', 'A6', 'A7', 'A8'])
    expect(user.find((e) => e.event_type === 'log_warning')).toMatchObject({ log_level: 30, source: { node_id: nodeId }, event_data: { message: 'lamp near end of life', lamp_hours: 1950 } })
    expect(summaries(events)).toHaveLength(1)
  })

  it('logger-warn: plain logger.warn() with no configuration writes the project\'s NDJSON file', { timeout: 60_000 }, async () => {
    const r = await runExample('logger-warn')
    expect(r.stdout).toBe('delivered 3, spooled 0, lost 0\n')
    const events = readEventFiles(join(r.dir, '.madsci', 'events', 'events.ndjson'))
    expect(events.map((e) => [e.event_type, e.log_level, e.alert, e.source, e.event_data])).toEqual([
      ['log_warning', 30, false, {}, { message: 'incubator temperature above setpoint', celsius: 41.5, setpoint: 37 }],
      ['node_status_update', 30, false, { node_id: '01JRB6Y0000000000000000005' }, { message: 'door open for 30 s', seconds: 30 }],
      ['node_error', 40, true, { node_id: '01JRB6Y0000000000000000005' }, { message: 'heater fault', code: 'E42' }],
    ])
  })

  it('flush-on-shutdown: a batch job logs 100 000 events and exits; all arrive', { timeout: 180_000 }, async () => {
    const r = await runExample('flush-on-shutdown')
    expect(r.stdout).toMatch(/^logged 100001 events in \d+ ms; all delivered or spooled\n$/)
    const events = readEventFiles(join(r.dir, '.madsci', 'events', 'events.ndjson'))
    const items = events.filter((e) => data(e).message === 'item processed')
    expect(items).toHaveLength(100_000)
    expect(new Set(items.map((e) => data(e).item)).size).toBe(100_000)
    expect(items[99_999]).toMatchObject({ event_type: 'log_info', log_level: 20, event_data: { job: 'plate-scan', batch: 7, item: 99_999 } })
    expect(events.filter((e) => e.event_type === 'experiment_complete')).toHaveLength(1)
    // The job's events, the transport's summary, nothing else.
    expect(events).toHaveLength(100_002)
    expect((summaries(events)[0].event_data as { madsci_events: object }).madsci_events).toMatchObject({ lines: 100_001, delivered: 100_001, dropped: {} })
  })
})
