/**
 * A small SVG writer: elements as strings, every text and attribute escaped, characters XML does
 * not allow removed. No DOM, no dependency; the charts (charts.ts) are built from these pieces.
 */

/** Characters XML 1.0 forbids (C0 controls other than tab/LF/CR, lone surrogates, U+FFFE/FFFF). */
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** Escape text for element content and attribute values, dropping characters XML cannot carry. */
export function escapeXml(value: unknown): string {
  return String(value ?? '')
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/** A number for coordinates: at most two decimals, no exponent, no `-0`. */
export function num(n: number): string {
  if (!Number.isFinite(n)) return '0'
  const r = Math.round(n * 100) / 100
  return Object.is(r, -0) ? '0' : String(r)
}

type Attrs = Record<string, string | number | undefined>

function attrs(a: Attrs): string {
  let out = ''
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined) continue
    out += ` ${k}="${typeof v === 'number' ? num(v) : escapeXml(v)}"`
  }
  return out
}

/** An element; `children` are already-built strings (use `text()` for text content). */
export function el(name: string, a: Attrs = {}, ...children: string[]): string {
  return children.length ? `<${name}${attrs(a)}>${children.join('')}</${name}>` : `<${name}${attrs(a)}/>`
}

/** Escaped text content. */
export function text(value: unknown): string {
  return escapeXml(value)
}

/** A complete SVG document. */
export function svgDocument(width: number, height: number, title: string, ...children: string[]): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    el(
      'svg',
      { xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${num(width)} ${num(height)}`, role: 'img', 'aria-label': title },
      el('title', {}, text(title)),
      ...children,
    ) +
    '\n'
  )
}

/** Up to `count` evenly spaced "nice" ticks from 0 to at least `max` (1, 2, 2.5 or 5 × 10^k steps). */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1]
  const raw = max / count
  const mag = Math.pow(10, Math.floor(Math.log10(raw)))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  const ticks: number[] = []
  for (let v = 0; v < max + step / 2; v += step) ticks.push(Math.round(v * 1e9) / 1e9)
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step)
  return ticks
}

/** Shorten a label to `max` characters with an ellipsis. */
export function clip(label: string, max: number): string {
  const chars = [...label]
  return chars.length <= max ? label : chars.slice(0, Math.max(1, max - 1)).join('') + '…'
}

/**
 * An upper estimate of a text's rendered width in pixels: 0.62 em per character, the widest
 * average of the common sans-serif fonts for digits and lowercase (DejaVu Sans, Liberation,
 * Segoe UI). The charts size their margins with it, so labels never run into each other or off
 * the picture; an overestimate only leaves a little more room.
 */
export function textWidth(label: string, fontSize: number): number {
  return [...label].length * fontSize * 0.62
}
