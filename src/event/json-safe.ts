/**
 * Turning arbitrary JavaScript values into JSON without throwing and without silently losing
 * information. Documented mapping (also in the README):
 *
 * | value                         | becomes                                                        |
 * |-------------------------------|----------------------------------------------------------------|
 * | `Error` (any depth)           | `{ type, message, stack, code?, cause?, ...own fields }`        |
 * | `BigInt`                      | its decimal string (`"12345678901234567890"`)                  |
 * | `NaN`, `Infinity`, `-Infinity`| the strings `"NaN"`, `"Infinity"`, `"-Infinity"`               |
 * | `Buffer` / typed array        | `{ type: "Buffer", encoding: "base64", data: "<base64>" }`     |
 * | `Date`                        | its ISO string (`toJSON`); an invalid date becomes `null`      |
 * | `Map` / `Set`                 | an object of its entries / an array                            |
 * | a circular reference          | the string `"[Circular]"`                                      |
 * | nesting deeper than 64        | the string `"[MaxDepth]"`                                      |
 * | `undefined`, functions, symbols | dropped from objects, `null` in arrays (JSON's own rule)     |
 *
 * The fast path is one `JSON.stringify` call with a replacer; a circular structure falls back to
 * a walker that tracks ancestors.
 */

export const MAX_DEPTH = 64

/** Serialize an `Error` (its cause chain included, up to the depth limit). */
export function serializeError(err: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: err.name || err.constructor?.name || 'Error',
    message: err.message,
    stack: err.stack,
  }
  for (const key of Object.keys(err)) {
    if (key === 'cause' || key in out) continue
    out[key] = (err as unknown as Record<string, unknown>)[key]
  }
  const cause = (err as { cause?: unknown }).cause
  if (cause !== undefined) {
    out.cause = cause instanceof Error && depth < 8 ? serializeError(cause, depth + 1) : cause
  }
  if (err instanceof AggregateError && Array.isArray(err.errors)) {
    out.errors = err.errors.map((e: unknown) => (e instanceof Error && depth < 8 ? serializeError(e, depth + 1) : e))
  }
  return out
}

function bytesToJson(raw: ArrayBufferView | ArrayBuffer): Record<string, string> {
  const buf =
    raw instanceof ArrayBuffer ? Buffer.from(raw) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
  return { type: 'Buffer', encoding: 'base64', data: buf.toString('base64') }
}

/** The JSON-able stand-in for one value; `undefined` means "use the value as is". */
function special(raw: unknown): unknown {
  switch (typeof raw) {
    case 'bigint':
      return raw.toString()
    case 'number':
      if (Number.isFinite(raw)) return undefined
      return Number.isNaN(raw) ? 'NaN' : raw > 0 ? 'Infinity' : '-Infinity'
    case 'object':
      if (raw === null) return undefined
      if (raw instanceof Error) return serializeError(raw)
      if (ArrayBuffer.isView(raw) || raw instanceof ArrayBuffer) return bytesToJson(raw as ArrayBufferView)
      if (raw instanceof Map) return Object.fromEntries(raw)
      if (raw instanceof Set) return Array.from(raw)
      if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? null : raw.toISOString()
      return undefined
    default:
      return undefined
  }
}

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  // `this[key]` is the raw value before toJSON ran (Buffer and Date have one).
  const raw = key === '' ? value : this[key]
  const s = special(raw)
  return s === undefined ? value : s
}

function walk(value: unknown, ancestors: unknown[], depth: number): unknown {
  const s = special(value)
  if (s !== undefined) value = s
  if (value === null || typeof value !== 'object') return value
  if (ancestors.includes(value)) return '[Circular]'
  if (depth >= MAX_DEPTH) return '[MaxDepth]'
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return walk((toJSON as () => unknown).call(value), ancestors, depth)
  ancestors.push(value)
  let out: unknown
  if (Array.isArray(value)) {
    out = value.map((v) => {
      const w = walk(v, ancestors, depth + 1)
      return w === undefined || typeof w === 'function' || typeof w === 'symbol' ? null : w
    })
  } else {
    const obj: Record<string, unknown> = {}
    for (const k of Object.keys(value)) {
      const w = walk((value as Record<string, unknown>)[k], ancestors, depth + 1)
      if (w !== undefined && typeof w !== 'function' && typeof w !== 'symbol') obj[k] = w
    }
    out = obj
  }
  ancestors.pop()
  return out
}

/** The JSON text for any value; never throws. A top-level `undefined` becomes `null`. */
export function safeJsonStringify(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  try {
    const out = JSON.stringify(value, replacer)
    return out === undefined ? 'null' : out
  } catch {
    // Circular structure, a throwing getter/toJSON, or nesting deep enough to overflow the stack.
    try {
      const out = JSON.stringify(walk(value, [], 0))
      return out === undefined ? 'null' : out
    } catch (err) {
      return JSON.stringify({ unserializable: true, reason: String((err as Error)?.message ?? err) })
    }
  }
}

/** A JSON-safe copy of any value (the parse of `safeJsonStringify`). */
export function toJsonSafe(value: unknown): unknown {
  return JSON.parse(safeJsonStringify(value))
}
