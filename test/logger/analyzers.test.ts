import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type Analyzer, type Event, createEventLogger } from '../../src/index.js'

describe('live analyzers in the logger', () => {
  it('see every accepted event, and what they log goes through the same pipeline', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'madsci-analyzers-')), 'e.ndjson')
    let seen = 0
    const critical: Analyzer = {
      name: 'critical-counter',
      onEvent(e) {
        seen++
        if (e.log_level >= 50 && !(e.event_data as { anomaly?: unknown })?.anomaly) {
          logged.log({ event_type: 'log_warning', log_level: 30, event_data: { message: 'critical seen', anomaly: { of: e.event_id } } })
        }
      },
      result: () => ({ seen }),
    }
    const logged = createEventLogger({ file, env: {}, analyzers: [critical, { module: 'builtin:burst', options: { windowMs: 1000, minEvents: 5, warmupMs: 0 } }] })
    for (let i = 0; i < 10; i++) logged.info('tick')
    logged.critical('reactor overheating')
    await logged.flush()
    const results = logged.analyzerResults()
    expect(results['critical-counter']).toEqual({ seen: 12 })
    expect(Object.keys(results)).toContain('burst')
    await logged.close()
    const events = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Event)
    const anomaly = events.find((e) => (e.event_data as { anomaly?: { of: string } }).anomaly?.of)
    expect(anomaly).toMatchObject({ event_type: 'log_warning', log_level: 30 })
  })
})
