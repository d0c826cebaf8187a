import { QueryRefusedError } from '../errors.js'

/**
 * Checks on a MongoDB selector before any store runs it. MADSci passes `POST /events/query`
 * bodies straight to `collection.find()`; we refuse what would run code on the database server
 * and bound what could exhaust it.
 */

/** Operators that execute JavaScript on the server. */
export const FORBIDDEN_OPERATORS = new Set(['$where', '$function', '$accumulator'])

export const SELECTOR_LIMITS = {
  /** Nesting depth of objects and arrays. Real selectors rarely pass 6; 32 leaves room. */
  maxDepth: 32,
  /** Serialized size. A selector is a filter, not data: 256 KiB is generous. */
  maxBytes: 256 * 1024,
  /** Keys and array items in total, against selectors that are huge but shallow. */
  maxNodes: 10_000,
} as const

export interface SelectorLimits {
  maxDepth?: number
  maxBytes?: number
  maxNodes?: number
}

/** Throw `QueryRefusedError` unless `selector` is a plain object within limits and runs no code. */
export function validateSelector(selector: unknown, limits: SelectorLimits = {}): Record<string, unknown> {
  const maxDepth = limits.maxDepth ?? SELECTOR_LIMITS.maxDepth
  const maxBytes = limits.maxBytes ?? SELECTOR_LIMITS.maxBytes
  const maxNodes = limits.maxNodes ?? SELECTOR_LIMITS.maxNodes
  if (selector === null || typeof selector !== 'object' || Array.isArray(selector)) {
    throw new QueryRefusedError('A selector must be a JSON object such as {"log_level": {"$gte": 40}}')
  }
  let nodes = 0
  const visit = (value: unknown, depth: number, path: string): void => {
    if (value === null || typeof value !== 'object') {
      if (typeof value === 'function') throw new QueryRefusedError(`The selector contains a function at ${path || '(root)'}; selectors are data only`)
      return
    }
    if (depth > maxDepth) throw new QueryRefusedError(`The selector is nested deeper than ${maxDepth} levels (at ${path}); simplify it`)
    if (Array.isArray(value)) {
      nodes += value.length
      if (nodes > maxNodes) throw new QueryRefusedError(`The selector has more than ${maxNodes} keys and items; split the query`)
      value.forEach((v, i) => visit(v, depth + 1, `${path}[${i}]`))
      return
    }
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) {
      // Dates and RegExps are legitimate selector values (driver-side); other classes are not data.
      if (value instanceof Date || value instanceof RegExp) return
      throw new QueryRefusedError(`The selector contains a ${proto?.constructor?.name ?? 'non-plain'} object at ${path || '(root)'}; use plain JSON`)
    }
    const keys = Object.keys(value)
    nodes += keys.length
    if (nodes > maxNodes) throw new QueryRefusedError(`The selector has more than ${maxNodes} keys and items; split the query`)
    for (const key of keys) {
      if (FORBIDDEN_OPERATORS.has(key)) {
        throw new QueryRefusedError(`The operator ${key} runs JavaScript on the database server and is not allowed; express the condition with query operators such as $gte, $in or $regex`)
      }
      // BSON cannot encode a NUL in a key (the driver threw, and the server answered 500).
      if (key.includes('\u0000')) throw new QueryRefusedError(`The selector has a key containing a NUL character at ${path || '(root)'}; field names and operators cannot contain NUL`)
      visit((value as Record<string, unknown>)[key], depth + 1, path ? `${path}.${key}` : key)
    }
  }
  visit(selector, 1, '')
  let size: number
  try {
    size = Buffer.byteLength(JSON.stringify(selector))
  } catch {
    throw new QueryRefusedError('The selector cannot be serialized as JSON; use plain JSON values')
  }
  if (size > maxBytes) throw new QueryRefusedError(`The selector is ${size} bytes; the limit is ${maxBytes}`)
  return selector as Record<string, unknown>
}
