// Statistics and the shape of one result entry, shared with the other bench scripts:
// { name, unit, runs: [...], median, min, max, baseline: {...}, ratio, goal, met }.

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}

/** { runs, median, min, max } of a list of numbers (non-finite values are left out). */
export function summarize(runs) {
  const v = runs.filter((x) => Number.isFinite(x))
  return {
    runs: runs.map((x) => (Number.isFinite(x) ? round(x) : null)),
    median: v.length ? round(median(v)) : null,
    min: v.length ? round(Math.min(...v)) : null,
    max: v.length ? round(Math.max(...v)) : null,
  }
}

/** Three significant digits (enough for a table; the raw runs keep the same precision). */
export function round(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x ?? null
  if (x === 0) return 0
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))))
  return Number(x.toFixed(Math.min(digits, 6)))
}

/**
 * A goal: `{ text, on: 'ratio' | 'median' | 'max' (the worst run), max?, min? }`. `met` is true/false, or null when the
 * goal cannot be judged (smoke run, a side missing).
 */
export function judge(goal, { ratio, median: med, max }, { smoke = false } = {}) {
  if (!goal || smoke) return null
  const value = goal.on === 'median' ? med : goal.on === 'max' ? max : ratio
  if (value === null || value === undefined || !Number.isFinite(value)) return null
  if (goal.max !== undefined && value > goal.max) return false
  if (goal.min !== undefined && value < goal.min) return false
  return true
}

/**
 * One entry of the results. `runs` are this condition's measurements; `baseline` (optional) the
 * named comparison measured in the same run: `{ name, unit, runs }`. `ratio` = median / baseline
 * median unless `ratioOf` says otherwise.
 */
export function makeEntry({ group, name, unit, runs, baseline, goal, smoke = false, method, notes, extra, ratio: forcedRatio }) {
  const s = summarize(runs)
  let base = null
  let ratio = forcedRatio ?? null
  if (baseline) {
    const b = summarize(baseline.runs)
    base = { name: baseline.name, unit: baseline.unit ?? unit, ...b }
    if (ratio === null && b.median && s.median !== null) ratio = round(s.median / b.median)
  }
  const e = {
    group,
    name,
    unit,
    ...s,
    baseline: base,
    ratio,
    goal: goal ? goal.text : null,
    met: judge(goal, { ratio, median: s.median, max: s.max }, { smoke }),
  }
  if (method) e.method = method
  if (notes) e.notes = notes
  if (extra) Object.assign(e, extra)
  return e
}

/** A row for something that could not run (a missing module or script); never counted as met. */
export function unavailable({ group, name, reason, goal }) {
  return { group, name, unit: null, runs: [], median: null, min: null, max: null, baseline: null, ratio: null, goal: goal ?? null, met: null, status: 'not available', notes: reason }
}
