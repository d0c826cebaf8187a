/**
 * SVG charts of the utilization reports, for the server adapter (`image/svg+xml`) and the CLI:
 *
 * - `periodsChartSvg(report)`: the `/utilization/periods` time series — utilization per bucket as
 *   bars (left axis, %), experiments per bucket as a line (right axis);
 * - `nodeUtilizationChartSvg(report)`: the `/utilization/sessions` report — busy and idle hours
 *   per node as stacked horizontal bars, with the node's average utilization.
 *
 * Labels come from the data and are escaped; an error report renders as a chart with the message.
 */
import { clip, el, niceTicks, num, svgDocument, text, textWidth } from './svg.js'

export interface ChartOptions {
  /**
   * Pixels. Defaults: the time series 900 wide and as tall as its labels need (a 268 px plot);
   * the nodes chart 900 wide (wider when names and figures need it) and 34 px per node.
   */
  width?: number
  height?: number
  /** Title line; a default is derived from the report. */
  title?: string
  /** CSS font family. */
  fontFamily?: string
}

export const CHART_COLORS = {
  utilization: '#3b82f6',
  experiments: '#f97316',
  busy: '#16a34a',
  idle: '#d1d5db',
  axis: '#374151',
  grid: '#e5e7eb',
  text: '#111827',
  muted: '#6b7280',
} as const

const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif'

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const numOr = (v: unknown, d = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : d)

function messageChart(title: string, message: string, options: ChartOptions): string {
  const width = options.width ?? 900
  const height = options.height ?? 160
  const font = options.fontFamily ?? FONT
  return svgDocument(
    width,
    height,
    title,
    el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }),
    el('text', { x: 20, y: 36, 'font-family': font, 'font-size': 18, 'font-weight': 'bold', fill: CHART_COLORS.text }, text(title)),
    el('text', { x: 20, y: 76, 'font-family': font, 'font-size': 14, fill: CHART_COLORS.muted }, text(clip(message, 120))),
  )
}

/**
 * A legend row with its baseline at `y`: per item a swatch (a box, or a line for a line series)
 * and its label, each item placed after the previous label's (estimated) width.
 */
function legend(x: number, y: number, font: string, items: Array<{ label: string; color: string; line?: boolean }>): string {
  const parts: string[] = []
  let at = x
  for (const item of items) {
    parts.push(
      item.line
        ? el('line', { x1: at, x2: at + 22, y1: y - 4, y2: y - 4, stroke: item.color, 'stroke-width': 2 })
        : el('rect', { x: at, y: y - 10, width: 12, height: 12, fill: item.color }),
    )
    const tx = at + (item.line ? 28 : 18)
    parts.push(el('text', { x: tx, y, 'font-family': font, 'font-size': 12, fill: CHART_COLORS.text }, text(item.label)))
    at = tx + textWidth(item.label, 12) + 24
  }
  return el('g', { class: 'legend' }, ...parts)
}

const AXIS_FONT = 11
/** Degrees period labels are turned when they do not fit side by side. */
const LABEL_ANGLE = 40
const LEGEND_ROW = 16

interface PeriodsLayout {
  m: { left: number; right: number; top: number; bottom: number }
  height: number
  /** Width of one period. */
  step: number
  labelEvery: number
  rotated: boolean
  /** Baseline of the legend. */
  legendY: number
}

/**
 * Where the periods chart puts things, from the labels' estimated widths: labels side by side
 * when they fit, else turned 40° and thinned so neighbours do not touch; the left margin leaves
 * room for the first turned label, and the legend goes below the labels. Without a `height`
 * the plot keeps its height (268 px) and the picture grows with the labels; with one, the plot
 * gets what the labels leave.
 */
function periodsLayout(labels: string[], width: number, fixedHeight: number | undefined): PeriodsLayout {
  const widest = Math.max(0, ...labels.map((l) => textWidth(l, AXIS_FONT)))
  const rad = (LABEL_ANGLE * Math.PI) / 180
  const n = Math.max(1, labels.length)
  const m = { left: 64, right: 64, top: 56, bottom: 0 }
  let step = (width - m.left - m.right) / n
  const rotated = widest + 8 > step
  if (rotated) {
    // The first label runs left of its period by widest·cos(angle): widen the margin to keep it in.
    for (let k = 0; k < 2; k++) {
      m.left = Math.max(64, Math.ceil(widest * Math.cos(rad) + 6 - step / 2))
      step = (width - m.left - m.right) / n
    }
  }
  // Turned labels are 1.4 lines apart at least (measured across them); side by side never closer than their width.
  const labelEvery = rotated ? Math.max(1, Math.ceil((AXIS_FONT * 1.4) / (step * Math.sin(rad)))) : 1
  const labelsHeight = rotated ? widest * Math.sin(rad) + AXIS_FONT * Math.cos(rad) : AXIS_FONT
  m.bottom = Math.ceil(AXIS_FONT + 4 + labelsHeight + 14 + LEGEND_ROW)
  const height = fixedHeight ?? m.top + 268 + m.bottom
  const plotBottom = height - m.bottom
  return { m, height, step, labelEvery, rotated, legendY: Math.ceil(plotBottom + AXIS_FONT + 4 + labelsHeight + 14 + 12) }
}

/** The time-series chart of a `/utilization/periods` report. */
export function periodsChartSvg(report: Obj, options: ChartOptions = {}): string {
  const meta = obj(report.summary_metadata)
  const type = String(meta.analysis_type ?? 'daily')
  const title = options.title ?? `Utilization per ${type === 'hourly' ? 'hour' : type.replace(/ly$/, '').replace(/i$/, 'y')} (${String(meta.user_timezone ?? 'UTC')})`
  if ('error' in report) return messageChart(title, String(report.error), options)
  const points = (Array.isArray(obj(report.time_series).system) ? (obj(report.time_series).system as unknown[]) : []).map(obj)
  if (points.length === 0) return messageChart(title, 'No periods in this range', options)

  const width = options.width ?? 900
  const font = options.fontFamily ?? FONT
  const layout = periodsLayout(
    points.map((p) => clip(String(p.period_display ?? ''), 24)),
    width,
    options.height,
  )
  const { m, height, step, labelEvery, rotated } = layout
  const pw = width - m.left - m.right
  const ph = height - m.top - m.bottom
  const utils = points.map((p) => numOr(p.utilization))
  const exps = points.map((p) => numOr(p.experiments))
  const uTicks = niceTicks(Math.max(100, ...utils), 5)
  const uMax = uTicks[uTicks.length - 1]
  const eTicks = niceTicks(Math.max(1, ...exps), 5)
  const eMax = eTicks[eTicks.length - 1]
  const barW = Math.max(1, step * 0.7)
  const y = (v: number, max: number): number => m.top + ph - (v / max) * ph
  const parts: string[] = [el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' })]
  parts.push(el('text', { x: m.left, y: 30, 'font-family': font, 'font-size': 18, 'font-weight': 'bold', fill: CHART_COLORS.text }, text(title)))
  const km = obj(report.key_metrics)
  parts.push(
    el(
      'text',
      { x: m.left, y: 48, 'font-family': font, 'font-size': 12, fill: CHART_COLORS.muted },
      text(`${String(meta.period_start ?? '')} – ${String(meta.period_end ?? '')} UTC · average ${numOr(km.average_utilization)} % · ${numOr(km.total_experiments)} experiments`),
    ),
  )
  // Grid and left axis (utilization).
  for (const t of uTicks) {
    const yy = y(t, uMax)
    parts.push(el('line', { x1: m.left, x2: m.left + pw, y1: yy, y2: yy, stroke: CHART_COLORS.grid, 'stroke-width': 1 }))
    parts.push(el('text', { x: m.left - 8, y: yy + 4, 'text-anchor': 'end', 'font-family': font, 'font-size': 11, fill: CHART_COLORS.axis }, text(`${t} %`)))
  }
  // Right axis (experiments).
  for (const t of eTicks) {
    parts.push(el('text', { x: m.left + pw + 8, y: y(t, eMax) + 4, 'font-family': font, 'font-size': 11, fill: CHART_COLORS.experiments }, text(String(t))))
  }
  parts.push(el('line', { x1: m.left, x2: m.left, y1: m.top, y2: m.top + ph, stroke: CHART_COLORS.axis }))
  parts.push(el('line', { x1: m.left, x2: m.left + pw, y1: m.top + ph, y2: m.top + ph, stroke: CHART_COLORS.axis }))
  // Bars with tooltips; period labels under the axis (every `labelEvery`th, rotated when they do not fit).
  const labels: string[] = []
  points.forEach((p, i) => {
    const u = utils[i]
    const x = m.left + i * step + (step - barW) / 2
    const label = String(p.period_display ?? '')
    const tip = `${label}: ${num(u)} % utilization, ${exps[i]} experiments, ${num(numOr(p.runtime_hours))} h runtime`
    parts.push(el('rect', { x, y: y(u, uMax), width: barW, height: (u / uMax) * ph, fill: CHART_COLORS.utilization }, el('title', {}, text(tip))))
    if (i % labelEvery === 0) {
      const lx = m.left + i * step + step / 2
      const ly = m.top + ph + AXIS_FONT + 4
      const attrs = rotated ? { transform: `rotate(-${LABEL_ANGLE} ${num(lx)} ${num(ly)})`, 'text-anchor': 'end' } : { 'text-anchor': 'middle' }
      labels.push(el('text', { x: lx, y: ly, ...attrs, 'font-family': font, 'font-size': AXIS_FONT, fill: CHART_COLORS.axis }, text(clip(label, 24))))
    }
  })
  parts.push(el('g', { class: 'x-labels' }, ...labels))
  // Experiments line.
  const coords = exps.map((e, i) => `${num(m.left + i * step + step / 2)},${num(y(e, eMax))}`)
  parts.push(el('polyline', { points: coords.join(' '), fill: 'none', stroke: CHART_COLORS.experiments, 'stroke-width': 2 }))
  exps.forEach((e, i) => parts.push(el('circle', { cx: m.left + i * step + step / 2, cy: y(e, eMax), r: 3, fill: CHART_COLORS.experiments })))
  // Legend, below the period labels.
  parts.push(
    legend(m.left, layout.legendY, font, [
      { label: 'Utilization (%)', color: CHART_COLORS.utilization },
      { label: 'Experiments', color: CHART_COLORS.experiments, line: true },
    ]),
  )
  return svgDocument(width, height, title, ...parts)
}

interface NodeBar {
  id: string
  name: string
  busy: number
  idle: number
  utilization: number | undefined
}

function nodeBars(report: Obj): NodeBar[] {
  const bars = new Map<string, NodeBar>()
  for (const s of (Array.isArray(report.session_details) ? report.session_details : []).map(obj)) {
    for (const [id, raw] of Object.entries(obj(s.node_utilizations))) {
      const n = obj(raw)
      let b = bars.get(id)
      if (!b) bars.set(id, (b = { id, name: String(n.display_name ?? `Node ${id.slice(-8)}`), busy: 0, idle: 0, utilization: undefined }))
      b.busy += numOr(n.busy_time_hours)
      b.idle += numOr(n.idle_time_hours)
    }
  }
  const summary = obj(obj(report.overall_summary).node_summary)
  for (const [id, raw] of Object.entries(summary)) {
    const b = bars.get(id)
    if (b) b.utilization = numOr(obj(raw).average_utilization_percent)
  }
  return [...bars.values()]
}

/** Busy/idle hours per node from a `/utilization/sessions` report. */
export function nodeUtilizationChartSvg(report: Obj, options: ChartOptions = {}): string {
  const meta = obj(report.report_metadata)
  const title = options.title ?? 'Node utilization: busy and idle hours'
  if ('error' in report) return messageChart(title, String(report.error), options)
  const bars = nodeBars(report)
  if (bars.length === 0) return messageChart(title, 'No node activity in this range', options)
  const font = options.fontFamily ?? FONT
  const rowH = 34
  const rows = bars.map((b) => {
    const util = b.utilization ?? (b.busy + b.idle > 0 ? (b.busy / (b.busy + b.idle)) * 100 : 0)
    return { b, name: clip(b.name, 30), figures: `${num(b.busy)} h busy · ${num(b.idle)} h idle · ${num(util)} %` }
  })
  // Margins fit the longest name and figures (estimated), so neither runs off the picture; the
  // picture widens (when no width is given) to keep the bars at least 240 px long.
  const m = {
    left: Math.ceil(Math.max(80, ...rows.map((r) => textWidth(r.name, 12))) + 30),
    right: Math.ceil(Math.max(80, ...rows.map((r) => textWidth(r.figures, 12))) + 20),
    top: 64,
  }
  const width = options.width ?? Math.max(900, m.left + m.right + 240)
  const plotBottom = m.top + rowH * rows.length
  // Tick labels under the bars, then the legend one row further down.
  const legendY = plotBottom + 44
  const height = options.height ?? legendY + 16
  const pw = Math.max(40, width - m.left - m.right)
  const ticks = niceTicks(Math.max(...bars.map((b) => b.busy + b.idle), 1e-9), 5)
  const max = ticks[ticks.length - 1]
  const x = (h: number): number => m.left + (h / max) * pw
  const parts: string[] = [el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' })]
  parts.push(el('text', { x: 20, y: 30, 'font-family': font, 'font-size': 18, 'font-weight': 'bold', fill: CHART_COLORS.text }, text(title)))
  parts.push(
    el('text', { x: 20, y: 48, 'font-family': font, 'font-size': 12, fill: CHART_COLORS.muted }, text(`${String(meta.analysis_start ?? '')} – ${String(meta.analysis_end ?? '')} UTC · ${numOr(meta.total_sessions)} sessions`)),
  )
  const tickLabels: string[] = []
  for (const t of ticks) {
    parts.push(el('line', { x1: x(t), x2: x(t), y1: m.top - 4, y2: plotBottom, stroke: CHART_COLORS.grid }))
    tickLabels.push(el('text', { x: x(t), y: plotBottom + 16, 'text-anchor': 'middle', 'font-family': font, 'font-size': AXIS_FONT, fill: CHART_COLORS.axis }, text(`${t} h`)))
  }
  parts.push(el('g', { class: 'x-labels' }, ...tickLabels))
  rows.forEach(({ b, name, figures }, i) => {
    const yy = m.top + i * rowH + 6
    const h = rowH - 12
    parts.push(el('text', { x: m.left - 10, y: yy + h / 2 + 4, 'text-anchor': 'end', 'font-family': font, 'font-size': 12, fill: CHART_COLORS.text }, text(name)))
    parts.push(el('rect', { x: m.left, y: yy, width: x(b.busy) - m.left, height: h, fill: CHART_COLORS.busy }, el('title', {}, text(`${b.name}: ${num(b.busy)} h busy`))))
    parts.push(el('rect', { x: x(b.busy), y: yy, width: x(b.busy + b.idle) - x(b.busy), height: h, fill: CHART_COLORS.idle }, el('title', {}, text(`${b.name}: ${num(b.idle)} h idle`))))
    parts.push(el('text', { x: width - m.right + 10, y: yy + h / 2 + 4, 'font-family': font, 'font-size': 12, fill: CHART_COLORS.muted }, text(figures)))
  })
  parts.push(
    legend(m.left, legendY, font, [
      { label: 'Busy', color: CHART_COLORS.busy },
      { label: 'Idle', color: CHART_COLORS.idle },
    ]),
  )
  return svgDocument(width, height, title, ...parts)
}
