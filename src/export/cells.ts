/**
 * CSV cells: Python-compatible rendering of values and neutralisation of spreadsheet formulas.
 *
 * Files are written like Python's `csv.writer` (excel dialect): `,` between fields, `"` quotes
 * doubled, CRLF line ends, and a field quoted only when it holds `,`, `"`, CR or LF. csv-stringify
 * quotes a CR or LF only when it equals the record delimiter, so `quoted_match` adds that rule.
 */
import type { Options } from 'csv-stringify'
import { pyFloatRepr } from '../analyze/pynum.js'

/**
 * The UTF-8 byte-order mark the `bom` options put first. Excel opens a CSV without it in the
 * machine's legacy code page (`°C` shows as `Â°C`); with it, as UTF-8. Other readers (pandas,
 * Python's csv, databases) do not need it and may keep it in the first header, so it is off by default.
 */
export const UTF8_BOM = '\uFEFF'

/** csv-stringify options matching Python's excel dialect. */
export const EXCEL_DIALECT: Options = {
  delimiter: ',',
  quote: '"',
  escape: '"',
  record_delimiter: '\r\n',
  quoted_match: /[\r\n]/,
  eof: true,
}

/** Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"), plus tab and CR. */
const FORMULA_START = /^[=+\-@\t\r]/

/**
 * Neutralise a text cell a spreadsheet would run as a formula: a cell starting with `=`, `+`, `-`,
 * `@`, tab or CR gets a leading `'` (Excel, LibreOffice and Google Sheets then show it as text).
 * Numbers are never touched (they are rendered by the caller, not passed here), so `-1.5` in a
 * numeric column stays a number.
 */
export function neutralizeFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text
}

/** Python `repr()` of a JSON value, as `str()` prints dicts and lists (`{'a': True}`). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None'
  if (value === true) return 'True'
  if (value === false) return 'False'
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 1e16 ? String(value) : pyFloatRepr(value)
  if (typeof value === 'string') {
    const q = value.includes("'") && !value.includes('"') ? '"' : "'"
    return q + value.replace(/\\/g, '\\\\').replace(q === "'" ? /'/g : /"/g, `\\${q}`).replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t') + q
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`
  if (typeof value === 'object') return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(', ')}}`
  return String(value)
}

/** How a numeric column renders, as Python's `str()` of the value upstream puts there. */
export type NumberKind = 'int' | 'float' | 'float-or-int-zero'

export interface CellOptions {
  /** Neutralise formula-looking text cells (default true). */
  neutralize: boolean
}

/**
 * A cell as Python's csv module writes `str(value)`: `None` → empty, booleans `True`/`False`,
 * numbers by `kind` (a float always shows `.0` or an exponent; `float-or-int-zero` prints an exact
 * zero as `0`, where upstream's value is the int fallback), dicts and lists as Python reprs.
 */
export function pyCell(value: unknown, kind: NumberKind | undefined, options: CellOptions): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (typeof value === 'number') {
    if (kind === 'float') return pyFloatRepr(value)
    if (kind === 'float-or-int-zero') return value === 0 ? '0' : pyFloatRepr(value)
    return Number.isInteger(value) && Math.abs(value) < 1e16 ? String(value) : pyFloatRepr(value)
  }
  const text = typeof value === 'string' ? value : pyRepr(value)
  return options.neutralize ? neutralizeFormula(text) : text
}
