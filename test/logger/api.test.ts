import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Event, createEventLogger, EventValidationError, withOwnership } from '../../src/index.js'

const A = '01JRB6Z6B1T3V7M9Q2W4E8R5TA'
const B = '01JRB6Z6B1T3V7M9Q2W4E8R5TB'
const C = '01JRB6Z6B1T3V7M9Q2W4E8R5TC'

const loggers: Array<{ close(): Promise<unknown> }> = []
afterEach(async () => {
  while (loggers.length) await loggers.pop()?.close()
})

async function fileLogger(options: Parameters<typeof createEventLogger>[0] = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'madsci-logger-'))
  const file = join(dir, 'events.ndjson')
  const logger = createEventLogger({ file, env: {}, ...options })
  loggers.push(logger)
  const read = async (): Promise<Event[]> => {
    await logger.flush()
    return (await readFile(file, 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event)
  }
  return { logger, read, file }
}

describe('the logging API', () => {
  it('makes MADSci events at each level, with log_<level> types and the message in event_data', async () => {
    const { logger, read } = await fileLogger({ level: 'DEBUG' })
    logger.debug('d')
    logger.info('i')
    logger.warning('w')
    logger.warn('w2')
    logger.error('e')
    logger.critical('c')
    const events = await read()
    expect(events.map((e) => [e.event_type, e.log_level, (e.event_data as { message: string }).message])).toEqual([
      ['log_debug', 10, 'd'],
      ['log_info', 20, 'i'],
      ['log_warning', 30, 'w'],
      ['log_warning', 30, 'w2'],
      ['log_error', 40, 'e'],
      ['log_critical', 50, 'c'],
    ])
    for (const e of events) {
      expect(e.event_id).toMatch(/^[0-9A-Z]{26}$/)
      expect(e.event_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/)
      expect(e.alert).toBe(false)
    }
  })

  it('keeps a given event_type (unlike MADSci, SPEC D1), merges fields into event_data and lifts alert', async () => {
    const { logger, read } = await fileLogger()
    logger.info('loaded', { event_type: 'RESOURCE_UPDATE', plate: 'P1', event_data: { wells: 96 } })
    logger.warning('hot', { alert: true, temperature: 80 })
    logger.info({ reading: 1.5 })
    logger.info('bad type', { event_type: 'not_a_type' })
    const [a, b, c, d] = await read()
    expect(a).toMatchObject({ event_type: 'resource_update', event_data: { message: 'loaded', plate: 'P1', wells: 96 } })
    expect(b).toMatchObject({ alert: true, event_data: { message: 'hot', temperature: 80 } })
    expect(c.event_data).toEqual({ reading: 1.5 })
    expect(d).toMatchObject({ event_type: 'log_info', event_data: { message: 'bad type', event_type: 'not_a_type' } })
  })

  it('calls below the level return at once and log nothing', async () => {
    const { logger, read } = await fileLogger({ level: 'WARNING' })
    expect(logger.debug('x')).toBeUndefined()
    expect(logger.info('x')).toBeUndefined()
    expect(typeof logger.warning('kept')).toBe('string')
    expect(logger.isLevelEnabled('INFO')).toBe(false)
    logger.level = 'DEBUG'
    logger.debug('now kept')
    expect((await read()).map((e) => (e.event_data as { message: string }).message)).toEqual(['kept', 'now kept'])
  })

  it('log() takes a whole or partial Event and keeps its own type, level and source', async () => {
    const { logger, read } = await fileLogger()
    const id = logger.log({ event_type: 'workflow_start', log_level: 'WARNING', source: { workflow_id: A }, event_data: { name: 'wf' } })
    logger.log({ log_level: 10, event_data: 'filtered by level' })
    expect(() => logger.log({ log_level: 25 } as never)).toThrow(EventValidationError)
    const [e] = await read()
    expect(e).toMatchObject({ event_id: id, event_type: 'workflow_start', log_level: 30, source: { workflow_id: A }, event_data: { name: 'wf' } })
  })

  it('alert() forces an alert at any level; a message becomes one CRITICAL event (not two, SPEC D5)', async () => {
    const { logger, read } = await fileLogger()
    logger.alert('pump failure')
    logger.alert({ event_type: 'node_error', log_level: 20, event_data: { node: 'x' } })
    const events = await read()
    expect(events).toHaveLength(2)
    expect(events[0]).toMatchObject({ alert: true, log_level: 50, event_type: 'log_critical' })
    expect(events[1]).toMatchObject({ alert: true, log_level: 20, event_type: 'node_error' })
  })

  it('exception() and Error arguments serialize type, message, stack and cause', async () => {
    const { logger, read } = await fileLogger()
    logger.exception(new TypeError('outer', { cause: new Error('root cause') }), 'while pipetting')
    logger.error(new Error('direct'))
    const [a, b] = await read()
    const err = (a.event_data as { error: Record<string, unknown> }).error
    expect((a.event_data as { message: string }).message).toBe('while pipetting')
    expect(err).toMatchObject({ type: 'TypeError', message: 'outer', cause: { message: 'root cause' } })
    expect(String(err.stack)).toContain('outer')
    expect(b.event_data).toMatchObject({ message: 'direct', error: { type: 'Error', message: 'direct' } })
  })

  it('child() binds ownership and default data; withOwnership() propagates through await', async () => {
    const { logger, read } = await fileLogger({ source: { lab_id: C } })
    const child = logger.child({ node_id: A, data: { instrument: 'ot2' }, event_type: 'node_status_update' })
    await withOwnership({ experiment_id: B }, async () => {
      await new Promise((r) => setTimeout(r, 5))
      child.info('inside', { step: 2 })
      await withOwnership({ experiment_id: A }, async () => logger.info('nested'))
    })
    child.info('outside')
    const [a, b, c] = await read()
    expect(a).toMatchObject({ event_type: 'node_status_update', source: { experiment_id: B, node_id: A, lab_id: C }, event_data: { message: 'inside', instrument: 'ot2', step: 2 } })
    // source keys in MADSci's field order
    expect(Object.keys(a.source)).toEqual(['experiment_id', 'node_id', 'lab_id'])
    expect(b.source).toEqual({ experiment_id: A, lab_id: C })
    expect(c.source).toEqual({ node_id: A, lab_id: C })
    expect(() => logger.child({ node_id: 'not-a-ulid' })).toThrow(EventValidationError)
    expect(() => withOwnership({ node_id: 'bad' }, () => 1)).toThrow(EventValidationError)
  })

  it('snapshots data at call time', async () => {
    const { logger, read } = await fileLogger()
    const data = { count: 1 }
    logger.info('snap', data)
    data.count = 2
    expect((await read())[0].event_data).toMatchObject({ count: 1 })
  })

  it('takes trace and span ids from the active OpenTelemetry span', async () => {
    const api = await import('@opentelemetry/api')
    const { logger, read } = await fileLogger()
    const ctx = api.trace.setSpanContext(api.context.active(), { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 })
    // No SDK is registered, so run the call inside the context explicitly through the API's context manager.
    const { AsyncLocalStorageContextManager } = await import('./otel-context.js')
    const manager = new AsyncLocalStorageContextManager()
    api.context.setGlobalContextManager(manager.enable())
    api.context.with(ctx, () => logger.info('traced'))
    api.context.disable()
    const [e] = await read()
    expect(e.trace_id).toBe('0af7651916cd43dd8448eb211c80319c')
    expect(e.span_id).toBe('b7ad6b7169203331')
  })

  it('counts what it did, and emits every accepted event on its bus', async () => {
    const { logger } = await fileLogger()
    const seen: string[] = []
    logger.on('event', (e) => seen.push(e.event_type))
    logger.info('a')
    logger.log({ event_type: 'test' })
    await logger.flush()
    const s = logger.stats()
    expect(seen).toEqual(['log_info', 'test'])
    expect(s).toMatchObject({ accepted: 2, delivered: 2, failed: 0, dropped: {} })
    expect(s.sinks[0].sink).toBe('file')
  })
})
