import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEvent } from '../../src/event/index.js'
import { exportEventsCsv, reportToCsv } from '../../src/export/index.js'
import { eventsReader, sessionUtilizationReport } from '../../src/analyze/index.js'
import { call, type Running, startServer } from '../server/helpers.js'

/**
 * The UTF-8 byte-order mark option of the CSV exports (for Excel, which reads a CSV without one
 * in the legacy code page: `°C` becomes `Â°C`): off by default, exactly one BOM first when on,
 * in the library (events and reports) and the server's GET /events/export (`bom=true`). Python's
 * csv module, reading `utf-8-sig` as Excel-minded tools do, gets the same rows either way.
 */
const BOM = Buffer.from([0xef, 0xbb, 0xbf])

function sample() {
  return [
    parseEvent({ event_id: '01JH0000000000000000000001', event_type: 'log_info', event_timestamp: '2025-01-06T10:00:00', event_data: { message: 'Temperatur 25 °C, 5 µL dosiert', unit: '°C' } }),
    parseEvent({ event_id: '01JH0000000000000000000002', event_type: 'log_warning', event_timestamp: '2025-01-06T10:00:01', event_data: { message: 'Kühlung läuft' } }),
  ]
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield i
}

async function csvBytes(options: Parameters<typeof exportEventsCsv>[2], events = sample()): Promise<Buffer> {
  const out = new PassThrough()
  const chunks: Buffer[] = []
  out.on('data', (c: Buffer) => chunks.push(Buffer.from(c)))
  await exportEventsCsv(from(events), out, options)
  return Buffer.concat(chunks)
}

/** Rows as Python's csv module reads the bytes with `encoding`. */
function pythonRows(bytes: Buffer, encoding: string): string[][] {
  const script = `import sys, csv, io, json
rows = list(csv.reader(io.TextIOWrapper(sys.stdin.buffer, encoding=${JSON.stringify(encoding)}, newline='')))
print(json.dumps(rows))`
  const res = spawnSync('python3', ['-c', script], { input: bytes, encoding: 'utf8' })
  if (res.status !== 0) throw new Error(res.stderr)
  return JSON.parse(res.stdout)
}

describe('CSV byte-order mark (library)', () => {
  it('is off by default and, when on, is the first three bytes, once', async () => {
    const plain = await csvBytes({})
    const marked = await csvBytes({ bom: true })
    expect(plain.subarray(0, 3).equals(BOM)).toBe(false)
    expect(marked.subarray(0, 3).equals(BOM)).toBe(true)
    expect(marked.subarray(3).equals(plain)).toBe(true)
    expect(marked.toString('utf8').split('\uFEFF')).toHaveLength(2)
  })

  it('comes first even without a header row and without rows', async () => {
    expect((await csvBytes({ bom: true, header: false }, [])).equals(BOM)).toBe(true)
    const noHeader = await csvBytes({ bom: true, header: false })
    expect(noHeader.subarray(0, 3).equals(BOM)).toBe(true)
    expect(noHeader.subarray(3, 5).toString()).toBe('01')
  })

  it('readers that honour it see the same rows; ones that do not keep it in the first header (why it is off by default)', async () => {
    const plain = pythonRows(await csvBytes({}), 'utf-8')
    expect(pythonRows(await csvBytes({ bom: true }), 'utf-8-sig')).toEqual(plain)
    expect(pythonRows(await csvBytes({ bom: true }), 'utf-8')[0][0]).toBe('\uFEFFevent_id')
    expect(plain[1][16]).toBe('{"message":"Temperatur 25 °C, 5 µL dosiert","unit":"°C"}')
  })

  it('reportToCsv({ bom: true }) prefixes the report CSV the same way', async () => {
    const report = await sessionUtilizationReport(eventsReader(sample()), {})
    const plain = reportToCsv('sessions', report)
    expect(plain.startsWith('\uFEFF')).toBe(false)
    expect(reportToCsv('sessions', report, { bom: true })).toBe(`\uFEFF${plain}`)
  })
})

describe('CSV byte-order mark (server: GET /events/export?bom=true)', () => {
  let r: Running
  beforeAll(async () => {
    r = await startServer('file', 'csv-bom')
    const res = await call(r.url, 'POST', '/events/batch', sample().map((e) => ({ ...e })))
    expect(res.status).toBe(200)
    await r.server.flush()
  })
  afterAll(async () => {
    await r?.close()
  })

  const bytes = async (query: string): Promise<{ status: number; body: Buffer }> => {
    const res = await fetch(`${r.url}/events/export?${query}`)
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) }
  }

  it('streams with a BOM only when asked, and saves the same', async () => {
    const plain = await bytes('format=csv')
    const marked = await bytes('format=csv&bom=true')
    expect([plain.status, marked.status]).toEqual([200, 200])
    expect(plain.body.subarray(0, 3).equals(BOM)).toBe(false)
    expect(Buffer.concat([BOM, plain.body]).equals(marked.body)).toBe(true)
    expect(pythonRows(marked.body, 'utf-8-sig')).toEqual(pythonRows(plain.body, 'utf-8'))

    const saved = await call(r.url, 'GET', '/events/export?format=csv&bom=true&save_to_file=true&output_path=bom')
    expect(saved.status).toBe(200)
    expect(readFileSync(saved.json().file_path).equals(marked.body)).toBe(true)
  })

  it('NDJSON is never marked; a bad value is a 422', async () => {
    expect((await bytes('format=ndjson&bom=true')).body.subarray(0, 1).toString()).toBe('{')
    expect((await bytes('format=csv&bom=maybe')).status).toBe(422)
  })

  it('is described in /openapi.json', async () => {
    const doc = (await call(r.url, 'GET', '/openapi.json')).json()
    const params = doc.paths['/events/export'].get.parameters as Array<{ name: string; schema: { default: unknown } }>
    expect(params.find((p) => p.name === 'bom')?.schema.default).toBe(false)
  })
})
