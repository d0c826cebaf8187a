import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { eventsReader, sessionUtilizationReport, utilizationPeriodsReport } from '../../src/analyze/index.js'
import { escapeXml, nodeUtilizationChartSvg, periodsChartSvg } from '../../src/export/index.js'
import { makeDataset } from '../fixtures/utilization-dataset.js'
import { ev, id } from '../analyze/build.js'

/**
 * Parse with Python's strict XML parser (expat) and return facts about the document: any
 * well-formedness error fails the parse.
 */
function parseXml(svg: string): { root: string; texts: string[]; bars: number; titles: string[] } {
  const script = `
import sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
ns = '{http://www.w3.org/2000/svg}'
texts = [''.join(t.itertext()) for t in root.iter(ns + 'text')]
bars = [r for r in root.iter(ns + 'rect') if r.find(ns + 'title') is not None]
titles = [''.join(r.find(ns + 'title').itertext()) for r in bars]
print(json.dumps({'root': root.tag, 'texts': texts, 'bars': len(bars), 'titles': titles}))
`
  const res = spawnSync('python3', ['-c', script], { input: svg, encoding: 'utf8' })
  if (res.status !== 0) throw new Error(`not well-formed XML: ${res.stderr}`)
  return JSON.parse(res.stdout)
}

describe('SVG charts', () => {
  it('draws the periods time series as bars and an experiments line, valid XML', async () => {
    const ds = makeDataset({ days: 4, minEvents: 100 })
    const report = await utilizationPeriodsReport(eventsReader(ds.events), { startTime: '2025-01-06T00:00:00Z', endTime: '2025-01-10T00:00:00Z', userTimezone: 'Europe/Berlin' })
    const svg = periodsChartSvg(report)
    const doc = parseXml(svg)
    const points = (report.time_series as { system: unknown[] }).system
    expect(doc.root).toBe('{http://www.w3.org/2000/svg}svg')
    expect(doc.bars).toBe(points.length)
    expect(doc.texts[0]).toBe('Utilization per day (Europe/Berlin)')
    expect(doc.titles[0]).toMatch(/^2025-01-06: [\d.]+ % utilization, \d+ experiments, [\d.]+ h runtime$/)
    expect(svg).toContain('<polyline')
  })

  it('draws busy and idle hours per node with escaped names', async () => {
    const hostile = `<b>&"quoted" 'x'</b>\u0007`
    const W = id('WC')
    const N = id('N1')
    const events = [
      ev('workcell_start', '2025-01-06T08:00:00', { workcell_id: W }),
      ev('node_start', '2025-01-06T08:00:00', { node_id: N }, { node_name: hostile }),
      ev('action_status_change', '2025-01-06T09:00:00', { node_id: N }, { action_id: 'a', status: 'running' }),
      ev('action_status_change', '2025-01-06T10:00:00', { node_id: N }, { action_id: 'a', status: 'completed' }),
      ev('workcell_stop', '2025-01-06T12:00:00', { workcell_id: W }),
    ]
    const report = await sessionUtilizationReport(eventsReader(events), { startTime: '2025-01-06T07:00:00', endTime: '2025-01-06T13:00:00' })
    const svg = nodeUtilizationChartSvg(report)
    const doc = parseXml(svg)
    expect(doc.bars).toBe(2) // busy and idle
    const display = `${hostile} (${N.slice(-8)})` // as the report names the node
    const label = display.replace('\u0007', '') // XML cannot carry the control character
    // The row label is cut to 30 characters (with the ellipsis), the tooltips keep the whole name.
    expect(doc.texts).toContain(`${[...display].slice(0, 29).join('').replace('\u0007', '')}…`)
    expect(doc.titles).toEqual([`${label}: 1 h busy`, `${label}: 3 h idle`])
    expect(doc.texts).toContain('1 h busy · 3 h idle · 25 %')
    expect(svg).not.toContain('\u0007')
  })

  it('renders an error report or an empty range as a message, still valid XML', () => {
    const doc = parseXml(periodsChartSvg({ error: 'Failed to generate report: <db> & "down"' }))
    expect(doc.texts).toContain('Failed to generate report: <db> & "down"')
    expect(parseXml(nodeUtilizationChartSvg({ report_metadata: {}, session_details: [], overall_summary: {} })).texts).toContain('No node activity in this range')
    expect(escapeXml(`a<b>&"'\u0000`)).toBe('a&lt;b&gt;&amp;&quot;&#39;')
  })
})
