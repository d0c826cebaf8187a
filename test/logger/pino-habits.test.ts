import { mkdtemp, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Event, createEventLogger } from '../../src/index.js'
import { formatMessage } from '../../src/logger/format.js'

/**
 * The call forms pino users write all day, on createEventLogger() and its children: the message
 * goes to event_data.message, fields beside it, errors serialized as everywhere else, and
 * `%s %d %i %f %o %O %j` interpolated as pino does (checked against pino's own formatter).
 */

// pino's formatter, from pino's own dependencies.
const quickFormat = createRequire(createRequire(import.meta.url).resolve('pino'))('quick-format-unescaped') as (f: unknown, args: unknown[], opts?: { stringify?: (o: unknown) => string }) => string

const loggers: Array<{ close(): Promise<unknown> }> = []
afterEach(async () => {
  while (loggers.length) await loggers.pop()?.close()
})

async function fileLogger() {
  const dir = await mkdtemp(join(tmpdir(), 'madsci-pino-habits-'))
  const file = join(dir, 'events.ndjson')
  const logger = createEventLogger({ file, env: {}, level: 'DEBUG' })
  loggers.push(logger)
  const read = async (): Promise<Event[]> => {
    await logger.flush()
    return (await readFile(file, 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event)
  }
  return { logger, read }
}

describe('pino call forms on createEventLogger()', () => {
  it('(obj, msg), (msg, obj), (obj) alone, (err, msg), (err) alone, ({ err }) alone', async () => {
    const { logger, read } = await fileLogger()
    logger.warn({ temperature: 41.2 }, 'pino-style order')
    logger.warn('MADSci-style order', { temperature: 41.2 })
    logger.info({ temperature: 41.2 })
    const err = Object.assign(new Error('arm stalled'), { code: 'E42' })
    logger.error(err, 'the arm failed')
    logger.error(err)
    logger.error({ err, arm: 'left' })
    logger.error('failed while moving', err)
    const [a, b, c, d, e, f, g] = await read()
    expect(a).toMatchObject({ log_level: 30, event_type: 'log_warning', event_data: { message: 'pino-style order', temperature: 41.2 } })
    expect(Object.keys(a.event_data as object)).toEqual(['message', 'temperature'])
    expect(b.event_data).toEqual({ message: 'MADSci-style order', temperature: 41.2 })
    expect(c.event_data).toEqual({ temperature: 41.2 })
    expect(d).toMatchObject({ log_level: 40, event_data: { message: 'the arm failed', error: { type: 'Error', message: 'arm stalled', code: 'E42' } } })
    expect((d.event_data as { error: { stack: string } }).error.stack).toContain('arm stalled')
    expect(e.event_data).toMatchObject({ message: 'arm stalled', error: { message: 'arm stalled' } })
    // As pino: `{ err }` alone takes the error's message; the error stays under its own key.
    expect(g.event_data).toMatchObject({ message: 'failed while moving', error: { message: 'arm stalled' } })
    expect(f.event_data).toMatchObject({ message: 'arm stalled', arm: 'left', err: { type: 'Error', message: 'arm stalled' } })
  })

  it('an object first is fields: lifted keys are lifted, ownership ULIDs go to source', async () => {
    const { logger, read } = await fileLogger()
    logger.info({ event_type: 'workflow_start', alert: true, node_id: '01JRB6Y0000000000000000005', plate: 'P1' }, 'started')
    logger.info({ event_data: { wells: 96 } })
    const [a, b] = await read()
    expect(a).toMatchObject({ event_type: 'workflow_start', alert: true, source: { node_id: '01JRB6Y0000000000000000005' }, event_data: { message: 'started', plate: 'P1' } })
    expect(b.event_data).toEqual({ wells: 96 })
  })

  it('interpolation: %s %d %i %f %o %O %j %% as pino; leftover arguments dropped as pino, a last plain object kept as fields unless %o %O %j print it', async () => {
    const { logger, read } = await fileLogger()
    logger.info('%s took %d ms (%i tries, %f%%)', 'homing', 12.7, 3.9, 0.5)
    logger.info('%o and %O and %j', 'text', { a: 1 }, [1, 2])
    logger.info('no placeholder', 'extra', 42)
    logger.info('user %s logged in', 'ada', { session: 'S1' })
    logger.info('50% done', { step: 3 })
    logger.info({ plate: 'P1' }, 'plate %s in slot %d', 'P1', 4)
    logger.info('missing %s and %d')
    logger.info('short %s %s', 'one')
    logger.info('100%done at %s', { step: 4 })
    logger.info('config %j', { retries: 3 })
    const child = logger.child({ node: 'arm' })
    child.info({ speed: 2 }, 'moving %s', 'left')
    const events = await read()
    const messages = events.map((e) => (e.event_data as { message?: string }).message)
    expect(messages).toEqual([
      'homing took 12.7 ms (3 tries, 0.5%)',
      "'text' and {\"a\":1} and [1,2]",
      'no placeholder',
      'user ada logged in',
      '50% done',
      'plate P1 in slot 4',
      'missing %s and %d',
      'short one %s',
      '100%done at %s',
      'config {"retries":3}',
      'moving left',
    ])
    // A fields object is never eaten by %s or %d (MADSci's (msg, fields)); %o %O %j print it.
    expect(events[8].event_data).toEqual({ message: '100%done at %s', step: 4 })
    expect(events[9].event_data).toEqual({ message: 'config {"retries":3}' })
    expect(events[3].event_data).toEqual({ message: 'user ada logged in', session: 'S1' })
    expect(events[4].event_data).toEqual({ message: '50% done', step: 3 })
    expect(events[5].event_data).toEqual({ message: 'plate P1 in slot 4', plate: 'P1' })
    expect(events[10].event_data).toEqual({ message: 'moving left', node: 'arm', speed: 2 })
  })

  it('formatMessage gives what pino prints for every placeholder, argument type and edge', () => {
    const fn = function namedFn(): void {}
    const values: unknown[] = ['str', '', 42, -1.5, 0, Number.NaN, null, undefined, true, { a: 1 }, [1, 'x'], fn, () => {}, 10n]
    const formats = ['%s', '%d', '%i', '%f', '%o', '%O', '%j', '%%', 'a %s b %d c', '%s%s', '%%s', 'x%', '%', '100%%', '%d%%', 'no placeholders']
    const stringify = (o: unknown): string => JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
    for (const f of formats) {
      for (const v of values) {
        for (const args of [[v], [v, 'second'], []]) {
          if (typeof v === 'bigint' && /%[oOj]/.test(f)) continue // pino's stringify differs (it throws); ours writes the digits
          const ours = formatMessage(f, args).text
          expect(ours, `${JSON.stringify(f)} with ${String(v)}`).toBe(quickFormat(f, args, { stringify }))
        }
      }
    }
  })

  it('a call below the level does nothing, whatever its form', async () => {
    const { logger, read } = await fileLogger()
    logger.level = 'WARNING'
    expect(logger.info({ a: 1 }, 'x %s', 'y')).toBeUndefined()
    expect(logger.debug('x %s', 'y', 'z')).toBeUndefined()
    expect(typeof logger.warn({ a: 1 }, 'kept %s', 'y')).toBe('string')
    expect((await read()).map((e) => e.event_data)).toEqual([{ message: 'kept y', a: 1 }])
  })
})
