import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { eventToJson, parseEvent } from '../../src/event/index.js'
import { EVENT_CSV_COLUMNS, exportEventsCsv, exportEventsNdjson } from '../../src/export/index.js'

const NODE = '01JGSW5V0000000000000N0DE1'

function sample() {
  return [
    parseEvent({
      event_id: '01JH0000000000000000000001',
      event_type: 'log_error',
      log_level: 40,
      alert: true,
      event_timestamp: '2025-01-06T10:00:00.123456',
      source: { node_id: NODE, workcell_id: '01JGSW5V000000000000000WC1' },
      event_data: { message: 'pump "A" stalled, retrying', lines: 'one\ntwo' },
      trace_id: '=HYPERLINK("http://evil.example","click")',
    }),
    parseEvent({ event_id: '01JH0000000000000000000002', event_type: 'log_info', event_timestamp: '2025-01-06T10:00:01Z', event_data: -5, archived: true, archived_at: '2025-02-01T00:00:00' }),
  ]
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield i
}

async function collect(run: (out: PassThrough) => Promise<unknown>): Promise<string> {
  const out = new PassThrough()
  const chunks: Buffer[] = []
  out.on('data', (c: Buffer) => chunks.push(Buffer.from(c)))
  await run(out)
  return Buffer.concat(chunks).toString('utf8')
}

describe('flat events CSV and NDJSON export', () => {
  it('writes the documented columns, CRLF, quoting as Python csv, formulas neutralised', async () => {
    const progress: number[] = []
    const text = await collect((out) => exportEventsCsv(from(sample()), out, { onProgress: (n) => progress.push(n), progressEvery: 1 }))
    expect(EVENT_CSV_COLUMNS).toHaveLength(21)
    expect(text.split('\r\n')).toEqual([
      'event_id,event_type,log_level,level_name,alert,event_timestamp,source.user_id,source.experiment_id,source.campaign_id,source.project_id,source.node_id,source.workcell_id,source.lab_id,source.step_id,source.workflow_id,source.manager_id,event_data,trace_id,span_id,archived,archived_at',
      `01JH0000000000000000000001,log_error,40,ERROR,true,2025-01-06T10:00:00.123456,,,,,${NODE},01JGSW5V000000000000000WC1,,,,,"{""message"":""pump \\""A\\"" stalled, retrying"",""lines"":""one\\ntwo""}","'=HYPERLINK(""http://evil.example"",""click"")",,false,`,
      // A bare negative number as event_data would be read as a formula: neutralised too.
      "01JH0000000000000000000002,log_info,20,INFO,false,2025-01-06T10:00:01Z,,,,,,,,,,,'-5,,,true,2025-02-01T00:00:00",
      '',
    ])
    expect(progress).toEqual([1, 2, 2])
  })

  it('can name the id column _id, leave the header out, and keep formulas when asked', async () => {
    const text = await collect((out) => exportEventsCsv(from(sample().slice(1)), out, { idColumn: '_id', header: false, neutralizeFormulas: false }))
    expect(text).toBe('01JH0000000000000000000002,log_info,20,INFO,false,2025-01-06T10:00:01Z,,,,,,,,,,,-5,,,true,2025-02-01T00:00:00\r\n')
    const withHeader = await collect((out) => exportEventsCsv(from([]), out, { idColumn: '_id' }))
    expect(withHeader.startsWith('_id,event_type,')).toBe(true)
  })

  it('writes NDJSON as the client log form, one event per line', async () => {
    const events = sample()
    const text = await collect((out) => exportEventsNdjson(from(events), out))
    expect(text).toBe(events.map((e) => eventToJson(e, 'event_id') + '\n').join(''))
    const ids = await collect((out) => exportEventsNdjson(from(events), out, { idKey: '_id' }))
    expect(JSON.parse(ids.split('\n')[0])._id).toBe(events[0].event_id)
  })
})

describe('export failures', () => {
  it('rejects when the destination fails, and when the source fails', async () => {
    const { Writable } = await import('node:stream')
    const broken = new Writable({ write: (_c, _e, done) => done(new Error('disk full')) })
    await expect(exportEventsCsv(from(sample()), broken)).rejects.toThrow('disk full')
    async function* failing() {
      yield sample()[0]
      throw new Error('store went away')
    }
    await expect(exportEventsNdjson(failing(), new PassThrough())).rejects.toThrow('store went away')
  })
})
