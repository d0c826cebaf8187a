import { describe, expect, it } from 'vitest'
import {
  EVENT_TYPES,
  EVENT_TYPE_DESCRIPTIONS,
  logTypeForLevel,
  madsciToPinoLevel,
  parseEventType,
  parseLevel,
  pinoToMadsciLevel,
} from '../../src/event/index.js'

describe('EventType', () => {
  it('has the 63 MADSci values, lowercase snake_case, each with a description', () => {
    expect(EVENT_TYPES).toHaveLength(63)
    expect(EVENT_TYPES[0]).toBe('unknown')
    expect(EVENT_TYPES[62]).toBe('backup_restore')
    for (const t of EVENT_TYPES) {
      expect(t).toMatch(/^[a-z]+(_[a-z]+)*$/)
      expect(EVENT_TYPE_DESCRIPTIONS[t].length).toBeGreaterThan(0)
    }
  })

  it('matches the OpenAPI enum order exactly', async () => {
    const { readFile } = await import('node:fs/promises')
    const spec = JSON.parse(await readFile(new URL('../../../shared/madsci/event-manager.openapi.json', import.meta.url), 'utf8').catch(() => '{}'))
    const fromSpec = spec?.components?.schemas?.EventType?.enum
    if (fromSpec) expect(EVENT_TYPES).toEqual(fromSpec)
    else expect(EVENT_TYPES).toContain('workflow_step_failed')
  })

  it('parses case-insensitively and refuses unknown names', () => {
    expect(parseEventType('LOG_INFO')).toBe('log_info')
    expect(parseEventType('Node_Start')).toBe('node_start')
    expect(parseEventType('info')).toBeUndefined()
    expect(parseEventType('experiment_stop')).toBeUndefined()
  })
})

describe('levels', () => {
  it('parses MADSci numbers and names as the Python model does', () => {
    expect(parseLevel(30)).toBe(30)
    expect(parseLevel('warning')).toBe(30)
    expect(parseLevel('EventLogLevel.ERROR')).toBe(40)
    expect(parseLevel('eventloglevel.critical')).toBe(50)
    expect(parseLevel(25)).toBeUndefined()
    expect(parseLevel('WARN')).toBeUndefined()
    expect(parseLevel(true)).toBeUndefined()
  })

  it('accepts WARN, FATAL and TRACE only as configuration aliases', () => {
    expect(parseLevel('warn', { aliases: true })).toBe(30)
    expect(parseLevel('fatal', { aliases: true })).toBe(50)
    expect(parseLevel('trace', { aliases: true })).toBe(10)
    expect(parseLevel('40', { aliases: true })).toBe(40)
  })

  it('maps pino levels by name and custom levels to the nearest lower standard one', () => {
    expect(pinoToMadsciLevel(10, 'trace')).toBe(10)
    expect(pinoToMadsciLevel(20, 'debug')).toBe(10)
    expect(pinoToMadsciLevel(30, 'info')).toBe(20)
    expect(pinoToMadsciLevel(40, 'warn')).toBe(30)
    expect(pinoToMadsciLevel(50, 'error')).toBe(40)
    expect(pinoToMadsciLevel(60, 'fatal')).toBe(50)
    expect(pinoToMadsciLevel(35)).toBe(20)
    expect(pinoToMadsciLevel(55, 'alarm')).toBe(40)
    expect(pinoToMadsciLevel(5)).toBe(10)
    expect(madsciToPinoLevel(50)).toBe('fatal')
    expect(madsciToPinoLevel(30)).toBe('warn')
  })

  it('names the log_<level> types as MADSci', () => {
    expect(logTypeForLevel(10)).toBe('log_debug')
    expect(logTypeForLevel(30)).toBe('log_warning')
    expect(logTypeForLevel(0)).toBe('log')
  })
})
