/**
 * Reversible escaping of `event_data` keys a document store cannot hold.
 *
 * MongoDB (and FerretDB, more strictly) refuses field names that start with `$`, contain `.` or
 * contain NUL. Such keys are written percent-escaped and restored on read:
 *
 * | character              | stored as |
 * |------------------------|-----------|
 * | `%` (only in a key that needs escaping) | `%25` |
 * | `.`                    | `%2E`     |
 * | `$` (first character)  | `%24`     |
 * | NUL                    | `%00`     |
 *
 * A key is escaped when it contains one of those characters, or when it already contains one of
 * the four escape sequences (so `"50%25"` survives a round trip); every other key, `"50%"` included,
 * is stored unchanged. Objects nested deeper than `MAX_STORE_DEPTH` are stored as their JSON text.
 */

export const MAX_STORE_DEPTH = 90

const NEEDS_ESCAPE = /[.\u0000]|^\$|%(?:25|2E|24|00)/
const SEQUENCES = /%(25|2E|24|00)/g

export function escapeKey(key: string): string {
  if (!NEEDS_ESCAPE.test(key)) return key
  let out = key.replace(/%/g, '%25').replace(/\./g, '%2E').replace(/\u0000/g, '%00')
  if (out.startsWith('$')) out = '%24' + out.slice(1)
  return out
}

export function unescapeKey(key: string): string {
  if (key.indexOf('%') === -1) return key
  return key.replace(SEQUENCES, (_m, code: string) => String.fromCharCode(parseInt(code, 16)))
}

/** Set an own property, even one named `__proto__` (which plain assignment would treat as the prototype). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
  else obj[key] = value
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** A copy of `value` with every object key escaped; returns `value` itself when nothing changes. */
export function escapeKeys(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value
  if (depth >= MAX_STORE_DEPTH) return JSON.stringify(value)
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const v = value[i]
      const e = escapeKeys(v, depth + 1)
      if (e !== v) {
        copy ??= value.slice()
        copy[i] = e
      }
    }
    return copy ?? value
  }
  if (!isPlainObject(value)) return value
  let copy: Record<string, unknown> | undefined
  const keys = Object.keys(value)
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    const v = value[k]
    const ek = escapeKey(k)
    const ev = escapeKeys(v, depth + 1)
    if (ek !== k || ev !== v) {
      if (!copy) {
        copy = {}
        for (let j = 0; j < i; j++) setOwn(copy, keys[j], value[keys[j]])
      }
    }
    if (copy) setOwn(copy, ek, ev)
  }
  return copy ?? value
}

/** The inverse of `escapeKeys`. */
export function unescapeKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const v = value[i]
      const u = unescapeKeys(v)
      if (u !== v) {
        copy ??= value.slice()
        copy[i] = u
      }
    }
    return copy ?? value
  }
  if (!isPlainObject(value)) return value
  let copy: Record<string, unknown> | undefined
  const keys = Object.keys(value)
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    const v = value[k]
    const uk = unescapeKey(k)
    const uv = unescapeKeys(v)
    if ((uk !== k || uv !== v) && !copy) {
      copy = {}
      for (let j = 0; j < i; j++) setOwn(copy, keys[j], value[keys[j]])
    }
    if (copy) setOwn(copy, uk, uv)
  }
  return copy ?? value
}
