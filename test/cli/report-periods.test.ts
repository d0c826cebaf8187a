import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { eventsReader, utilizationPeriodsReport } from '../../src/analyze/index.js'
import { eventToJson } from '../../src/event/index.js'
import { reportToCsv } from '../../src/export/index.js'
import { makeDataset } from '../fixtures/utilization-dataset.js'
import { runCli, scratch } from './helpers.js'

/**
 * `report periods`: --from and --to are required, as its help says; every problem names the CLI's
 * flags (the library's answers name the routes' start_time/end_time); with valid input it gives
 * the library's report, as JSON, CSV or SVG.
 */
const dir = scratch('periods')
const file = join(dir, 'lab.ndjson')
const dataset = makeDataset({ days: 3, minEvents: 100 })
writeFileSync(file, dataset.events.map((e) => eventToJson(e)).join('\n') + '\n')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// Offsets given, so the machine's zone (naive periods times are local, as MADSci) does not matter.
const FROM = '2025-01-06T00:00:00+00:00'
const TO = '2025-01-09T00:00:00+00:00'

describe('report periods', () => {
  it('needs --from and --to, and says so with the flags’ names', async () => {
    for (const args of [[], ['--from', FROM], ['--to', TO]]) {
      const res = await runCli(['report', 'periods', '--file', file, ...args], { cwd: dir })
      expect(res.code).toBe(2)
      expect(res.stderr).toContain('madsci-events report: periods needs --from and --to, e.g. --from 2026-01-05 --to 2026-01-12')
      expect(res.stderr).not.toMatch(/start_time|end_time/)
    }
  })

  it('bad or reversed times name --from / --to, never start_time / end_time', async () => {
    for (const [args, message] of [
      [['--from', 'soon', '--to', TO], /--from "soon" is not an ISO time/],
      [['--from', FROM, '--to', '2025-02-30'], /--to "2025-02-30" is not an ISO time .*day is out of range for month/],
      [['--from', TO, '--to', FROM], /--from must be before --to/],
      [['--from', FROM, '--to', FROM], /--from must be before --to/],
    ] as const) {
      const res = await runCli(['report', 'periods', '--file', file, ...args], { cwd: dir })
      expect(res.code).toBe(2)
      expect(res.stderr).toMatch(message)
      expect(res.stderr).not.toMatch(/start_time|end_time/)
    }
  })

  it('gives the library’s report as JSON, CSV and SVG', async () => {
    const expected = await utilizationPeriodsReport(eventsReader(dataset.events), { startTime: FROM, endTime: TO, analysisType: 'hourly', userTimezone: 'Europe/Berlin' })
    const args = ['report', 'periods', '--file', file, '--from', FROM, '--to', TO, '--type', 'hourly', '--timezone', 'Europe/Berlin']
    const json = await runCli(args, { cwd: dir })
    expect(json.code, json.stderr).toBe(0)
    const got = JSON.parse(json.stdout)
    // generated_at differs run to run; everything else is the same report.
    const strip = (r: Record<string, unknown>) => JSON.parse(JSON.stringify(r, (k, v) => (k === 'generated_at' ? undefined : v)))
    expect(strip(got)).toEqual(strip(expected))
    expect((got.time_series.system as unknown[]).length).toBe(72)

    const csv = await runCli([...args, '--format', 'csv'], { cwd: dir })
    expect(csv.code).toBe(0)
    const lines = (text: string) => text.split('\r\n').filter((l) => !l.startsWith('Generated At,'))
    expect(lines(csv.stdout)).toEqual(lines(reportToCsv('periods', got)))

    const svg = await runCli([...args, '--format', 'svg'], { cwd: dir })
    expect(svg.code).toBe(0)
    expect(svg.stdout).toContain('Utilization per hour (Europe/Berlin)')
  })
})
