/**
 * Python number and value semantics the MADSci reports depend on.
 *
 * The Python Event Manager rounds with `round(x, n)` and formats with `f"{x:.1f}"`; both round the
 * *exact binary value* and break exact ties to even, while JS `toFixed` breaks ties upwards
 * (SPEC §10.5). `str(float)` prints `1.0` and `1e-05` where JS prints `1` and `0.00001`. The
 * reports also test values with Python truthiness and turn ids into strings with `str()`.
 */

/** `toFixed` that is exact for every double below 1e21 (it is, by the spec of `toFixed`). */
function fixed(x: number, digits: number): string {
  return x.toFixed(digits)
}

/** Is `|x|` exactly halfway between two multiples of 10^-n? (Only short binary fractions can be.) */
function isExactTie(x: number, n: number): boolean {
  const s = fixed(Math.abs(x), Math.min(100, n + 60))
  const dot = s.indexOf('.')
  const tail = s.slice(dot + 1 + n)
  return /^50*$/.test(tail)
}

/**
 * Python's `round(x, n)` for floats: the double nearest to the decimal obtained by rounding the
 * exact value of `x` to `n` places, ties to even. `n` is 0..20.
 */
export function pyRound(x: number, n = 0): number {
  if (!Number.isFinite(x) || x === 0) return x
  if (Math.abs(x) >= 1e21) return x
  return Number(pyFixed(x, n))
}

/** Python's `format(x, f".{n}f")`: exact value rounded half-to-even, rendered with `n` decimals. */
export function pyFixed(x: number, n: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (x === Infinity) return 'inf'
  if (x === -Infinity) return '-inf'
  if (Math.abs(x) >= 1e21) return BigInt(Math.trunc(x)).toString() + (n > 0 ? '.' + '0'.repeat(n) : '')
  const up = fixed(x, n) // ties away from zero
  if (!isExactTie(x, n)) return negZero(x, up)
  // A tie: toFixed went away from zero; keep that only when its last digit is even.
  const digits = up.replace('-', '').replace('.', '')
  const last = Number(digits[digits.length - 1])
  if (last % 2 === 0) return negZero(x, up)
  const truncated = fixed(x, n + 1).slice(0, -1) // exact (the tie digit 5 dropped), toward zero
  return negZero(x, n === 0 ? truncated.replace(/\.$/, '') : truncated)
}

/** Python keeps the sign of a negative value rounded to zero: `f"{-0.04:.1f}"` is `-0.0`. */
function negZero(x: number, s: string): string {
  if (x < 0 && !s.startsWith('-')) return '-' + s
  return s
}

/**
 * Python's `repr(float)` / `str(float)`: shortest round-trip digits, `1.0` for integral values,
 * exponent form (`1e-05`, `1.5e+16`) below 1e-4 and from 1e16 on.
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (x === Infinity) return 'inf'
  if (x === -Infinity) return '-inf'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const exp = x.toExponential() // shortest round-trip digits: "d.ddde±x"
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(exp)
  if (!m) return String(x)
  const sign = m[1]
  const digits = m[2] + (m[3] ?? '')
  const e = Number(m[4])
  if (e < -4 || e >= 16) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    const es = Math.abs(e) < 10 ? `0${Math.abs(e)}` : String(Math.abs(e))
    return `${sign}${mant}e${e < 0 ? '-' : '+'}${es}`
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`
  if (digits.length <= e + 1) return `${sign}${digits}${'0'.repeat(e + 1 - digits.length)}.0`
  return `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`
}

/** Python truthiness of a JSON value: `None`, `False`, `0`, `""`, `[]` and `{}` are false. */
export function pyTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === 'object') return Object.keys(value as object).length > 0
  return true
}

/** `isinstance(value, dict)` for a JSON value. */
export function isDict(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `value.get(key)` on a dict, `undefined` for anything that is not one. */
export function dictGet(value: unknown, key: string): unknown {
  return isDict(value) && Object.prototype.hasOwnProperty.call(value, key) ? value[key] : undefined
}

/**
 * Python's `str()` of a JSON value, as far as the reports need it (ids taken from free-form
 * `event_data`): strings unchanged, integers plainly, floats as `repr`, `True`/`False`/`None`,
 * containers as compact JSON (Python would print a repr; such ids never match anything anyway).
 */
export function pyStr(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 1e16 ? String(value) : pyFloatRepr(value)
  if (value === true) return 'True'
  if (value === false) return 'False'
  if (value === null || value === undefined) return 'None'
  return JSON.stringify(value)
}

/**
 * A dict key equal where Python's would be: `1`, `1.0` and `True` are one key, `"1"` another.
 * Used to group workflows by a raw `event_data.workflow_id`.
 */
export function pyKey(value: unknown): string {
  if (typeof value === 'string') return 's' + value
  if (typeof value === 'number') return 'n' + String(value)
  if (value === true) return 'n1'
  if (value === false) return 'n0'
  return 'j' + JSON.stringify(value)
}

/** A finite double as an exact integer scaled by 2^1074 (every double is a multiple of 2^-1074). */
function scaled(v: number): bigint {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, v)
  const hi = view.getUint32(0)
  const lo = view.getUint32(4)
  const negative = hi >>> 31 === 1
  const exp = (hi >>> 20) & 0x7ff
  const fraction = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  const magnitude = exp === 0 ? fraction : (fraction | (1n << 52n)) << BigInt(exp - 1)
  return negative ? -magnitude : magnitude
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length
}

/** p / q (q > 0) rounded once to the nearest double (for normal results). */
function ratioToDouble(p: bigint, q: bigint): number {
  if (p === 0n) return 0
  const negative = p < 0n
  if (negative) p = -p
  // Enough quotient bits that the one rounding in Number(bigint) is the only one; a sticky bit
  // records a non-zero remainder so a value just off a tie is not taken for one.
  let shift = 66 - (bitLength(p) - bitLength(q))
  let quotient: bigint
  let remainder: bigint
  if (shift >= 0) {
    quotient = (p << BigInt(shift)) / q
    remainder = (p << BigInt(shift)) % q
  } else {
    quotient = p / (q << BigInt(-shift))
    remainder = p % (q << BigInt(-shift))
  }
  quotient = (quotient << 1n) | (remainder === 0n ? 0n : 1n)
  shift += 1
  let x = Number(quotient)
  while (shift > 0) {
    const step = Math.min(shift, 500)
    x /= 2 ** step
    shift -= step
  }
  while (shift < 0) {
    const step = Math.min(-shift, 500)
    x *= 2 ** step
    shift += step
  }
  return negative ? -x : x
}

/**
 * `statistics.mean` of floats: the exact mean of the values, rounded once (Python sums them as
 * exact fractions). A float sum divided by the count can land on the other side of a rounding tie
 * (`mean([0.1, 0.2])` is 0.15000000000000000832…, which `round(·, 1)` takes up to 0.2).
 */
export function pyMean(values: readonly number[]): number {
  if (values.length === 0) return 0
  let sum = 0n
  for (const v of values) {
    if (!Number.isFinite(v)) return values.reduce((a, b) => a + b, 0) / values.length
    sum += scaled(v)
  }
  return ratioToDouble(sum, BigInt(values.length) << 1074n)
}

/** Python's `sum()` of floats (3.11: plain left-to-right addition). */
export function pySum(values: readonly number[]): number {
  let s = 0
  for (const v of values) s += v
  return s
}

/** Python's `repr()` of a string (for error messages such as `Invalid isoformat string: '…'`). */
export function pyReprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'"
  let out = quote
  for (const ch of s) {
    const code = ch.codePointAt(0) as number
    if (ch === '\\') out += '\\\\'
    else if (ch === quote) out += '\\' + quote
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0')
    else out += ch
  }
  return out + quote
}
