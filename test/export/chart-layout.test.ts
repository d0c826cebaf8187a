import { writeFileSync } from 'node:fs'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventsReader, sessionUtilizationReport, utilizationPeriodsReport } from '../../src/analyze/index.js'
import { nodeUtilizationChartSvg, periodsChartSvg } from '../../src/export/index.js'
import { ev, id } from '../analyze/build.js'
import { makeDataset } from '../fixtures/utilization-dataset.js'
import { artifactPath, type Browser, chromium, launchBrowser } from '../viewer/support.js'

/**
 * The charts' layout as a browser draws it: Chromium renders each SVG and every text's box is
 * measured. No text may leave the picture, the period labels may not touch one another, and
 * nothing may touch the legend (the axis labels ran into it). Each chart is also saved as PNG
 * under test-artifacts/ to look at.
 */
/** A text or legend item as drawn: its corners in the picture's coordinates (turned labels are turned boxes). */
interface Box {
  text: string
  role: string
  corners: Array<[number, number]>
}

/** Do two convex quadrilaterals overlap (separating axis test; touching edges do not count)? */
function overlap(a: Box, b: Box): boolean {
  for (const poly of [a.corners, b.corners]) {
    for (let i = 0; i < poly.length; i++) {
      const [x1, y1] = poly[i]
      const [x2, y2] = poly[(i + 1) % poly.length]
      const axis = [y1 - y2, x2 - x1]
      const project = (c: Array<[number, number]>): [number, number] => {
        const d = c.map(([x, y]) => x * axis[0] + y * axis[1])
        return [Math.min(...d), Math.max(...d)]
      }
      const [amin, amax] = project(a.corners)
      const [bmin, bmax] = project(b.corners)
      if (amax <= bmin + 1e-6 || bmax <= amin + 1e-6) return false
    }
  }
  return true
}

let browser: Browser
let page: Page
beforeAll(async () => {
  if (!chromium.path) return
  browser = await launchBrowser()
  page = await browser.page()
})
afterAll(async () => {
  await browser?.close()
})

/** The boxes of every text and legend item in the drawn SVG (with their role), and the picture's size. */
async function draw(name: string, svg: string): Promise<{ boxes: Box[]; width: number; height: number }> {
  await page.setContent(`<!doctype html><body style="margin:0">${svg.replace(/^<\?xml[^>]*>\s*/, '')}</body>`)
  const result = await page.evaluate(() => {
    const root = document.querySelector('svg') as SVGSVGElement
    const role = (n: Element): string => (n.closest('g.legend') ? 'legend' : n.closest('g.x-labels') ? 'label' : 'other')
    const boxes = [...root.querySelectorAll('text, g.legend > *')].map((n) => {
      const g = n as SVGGraphicsElement
      const b = g.getBBox()
      // The element's user space to the picture's (the root's viewBox is its size).
      const m = DOMMatrix.fromMatrix(g.getCTM() as DOMMatrix)
      const corners = [
        [b.x, b.y],
        [b.x + b.width, b.y],
        [b.x + b.width, b.y + b.height],
        [b.x, b.y + b.height],
      ].map(([x, y]) => {
        const p = new DOMPoint(x, y).matrixTransform(m)
        return [p.x, p.y] as [number, number]
      })
      return { text: n.textContent ?? '', role: role(n), corners }
    })
    return { boxes, width: root.width.baseVal.value, height: root.height.baseVal.value }
  })
  await page.locator('svg').screenshot({ path: artifactPath(`chart-${name}.png`) })
  writeFileSync(artifactPath(`chart-${name}.svg`), svg)
  return result
}

function expectClean(name: string, drawn: { boxes: Box[]; width: number; height: number }): void {
  for (const b of drawn.boxes) {
    const inside = b.corners.every(([x, y]) => x >= -0.5 && y >= -0.5 && x <= drawn.width + 0.5 && y <= drawn.height + 0.5)
    expect([name, b.text, inside]).toEqual([name, b.text, true])
  }
  const legend = drawn.boxes.filter((b) => b.role === 'legend')
  const rest = drawn.boxes.filter((b) => b.role !== 'legend')
  expect(legend).toHaveLength(4)
  for (const l of legend) for (const b of rest) expect([name, l.text, b.text, overlap(l, b)]).toEqual([name, l.text, b.text, false])
  const axis = drawn.boxes.filter((b) => b.role === 'label')
  expect(axis.length).toBeGreaterThan(1)
  for (let i = 1; i < axis.length; i++) expect([name, axis[i - 1].text, axis[i].text, overlap(axis[i - 1], axis[i])]).toEqual([name, axis[i - 1].text, axis[i].text, false])
}

describe.skipIf(!chromium.path)(`chart layout in Chromium${chromium.path ? '' : ` (skipped: ${chromium.reason})`}`, () => {
  const events = makeDataset({ days: 4, minEvents: 100 }).events
  const periods = [
    ['daily', '2025-01-06T00:00:00Z', '2025-01-10T00:00:00Z'],
    ['hourly', '2025-01-06T00:00:00Z', '2025-01-08T00:00:00Z'],
    ['hourly', '2025-01-06T00:00:00Z', '2025-01-16T00:00:00Z'],
    ['weekly', '2024-11-01T00:00:00Z', '2025-01-10T00:00:00Z'],
    ['monthly', '2024-01-01T00:00:00Z', '2025-01-10T00:00:00Z'],
  ] as const

  for (const [type, start, end] of periods) {
    it(`periods (${type}, ${start.slice(0, 10)} – ${end.slice(0, 10)}): labels inside the picture, apart, clear of the legend`, async () => {
      const report = await utilizationPeriodsReport(eventsReader(events), { startTime: start, endTime: end, analysisType: type, userTimezone: 'Europe/Berlin' })
      expect(report).not.toHaveProperty('error')
      for (const [suffix, options] of [
        ['', {}],
        ['-fixed', { width: 640, height: 360 }],
      ] as const) {
        const svg = periodsChartSvg(report, options)
        expectClean(`${type}${suffix}`, await draw(`periods-${type}-${start.slice(0, 10)}-${end.slice(0, 10)}${suffix}`, svg))
      }
    })
  }

  it('nodes: long names and figures stay inside the picture; tick labels clear of the legend', async () => {
    const W = id('WC')
    const nodes = ['short', 'a node with a rather long display name that gets clipped', 'pf400']
    const list = [ev('workcell_start', '2025-01-06T08:00:00', { workcell_id: W })]
    nodes.forEach((name, i) => {
      const N = id(`N${i}`)
      list.push(ev('node_start', '2025-01-06T08:00:00', { node_id: N }, { node_name: name }))
      list.push(ev('action_status_change', `2025-01-06T${String(8 + i).padStart(2, '0')}:00:00`, { node_id: N }, { action_id: `a${i}`, status: 'running' }))
      list.push(ev('action_status_change', `2025-01-06T1${i}:30:00`, { node_id: N }, { action_id: `a${i}`, status: 'completed' }))
    })
    list.push(ev('workcell_stop', '2025-01-09T12:00:00', { workcell_id: W }))
    const report = await sessionUtilizationReport(eventsReader(list), { startTime: '2025-01-06T07:00:00', endTime: '2025-01-09T13:00:00' })
    const drawn = await draw('nodes', nodeUtilizationChartSvg(report))
    expectClean('nodes', drawn)
  })
})
