// The printed table: one row per entry, goals next to the measured values.

const fmt = (x) => {
  if (x === null || x === undefined) return '—'
  if (typeof x !== 'number') return String(x)
  const a = Math.abs(x)
  if (Number.isInteger(x) && a < 1e4) return String(x)
  if (a >= 1e6) return `${(x / 1e6).toFixed(a >= 1e7 ? 1 : 2)} M`
  if (a >= 1e4) return `${(x / 1e3).toFixed(a >= 1e5 ? 0 : 1)} k`
  if (a >= 100) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  return x.toFixed(a >= 1 ? 2 : 3)
}

export function formatValue(e) {
  if (e.status === 'not available') return 'not available'
  if (e.median === null || e.median === undefined) return e.status ?? 'failed'
  const range = e.runs && e.runs.length > 1 ? ` (${fmt(e.min)}–${fmt(e.max)})` : ''
  return `${fmt(e.median)}${range} ${e.unit ?? ''}`.trim()
}

export function formatBaseline(e) {
  if (!e.baseline) return '—'
  const b = e.baseline
  const range = b.runs && b.runs.length > 1 ? ` (${fmt(b.min)}–${fmt(b.max)})` : ''
  return `${b.name}: ${fmt(b.median)}${range} ${b.unit ?? ''}`.trim()
}

export function formatRatio(e) {
  if (e.ratio === null || e.ratio === undefined) return '—'
  if (e.unit === '%' || e.ratioUnit === '%') return `${(e.ratio * 100).toFixed(0)} %`
  return `${fmt(e.ratio)}×`
}

export function formatMet(e) {
  if (e.status === 'not available') return 'skipped'
  if (e.met === true) return 'met'
  if (e.met === false) return 'NOT met'
  return e.goal ? 'n/a' : ''
}

export function rows(entries) {
  return entries.map((e) => [e.name, formatValue(e), formatBaseline(e), formatRatio(e), e.goal ?? '', formatMet(e)])
}

export function printTable(entries, write = (s) => process.stdout.write(s)) {
  const header = ['Benchmark', 'Measured: median (min–max)', 'Baseline (same run)', 'Ratio', 'Goal', 'Met']
  const body = rows(entries)
  const width = header.map((h, i) => Math.min(i === 0 ? 70 : i === 2 ? 60 : 40, Math.max(h.length, ...body.map((r) => String(r[i]).length))))
  const cut = (s, w) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w))
  const line = (r) => r.map((c, i) => cut(String(c), width[i])).join(' | ')
  write(`${line(header)}\n${width.map((w) => '-'.repeat(w)).join('-+-')}\n`)
  let group
  for (let i = 0; i < entries.length; i++) {
    if (entries[i].group !== group) {
      group = entries[i].group
      write(`[${group}]\n`)
    }
    write(`${line(body[i])}\n`)
    if (entries[i].notes && entries[i].status) write(`    ${entries[i].notes}\n`)
  }
}

export { fmt }
