/**
 * A small MongoDB selector matcher for in-memory event sources: equality on dotted paths, `$eq`,
 * `$ne`, `$in`, `$nin`, `$exists`, `$gt`/`$gte`/`$lt`/`$lte`, `$and`, `$or`, `$nor`. It covers the
 * selectors the analyzers send and is much faster than a general engine on millions of events;
 * anything else (or a path through an array) is handed to mingo, which implements MongoDB fully.
 */
import { Query } from 'mingo'

type Test = (doc: Record<string, unknown>) => boolean | undefined

const MISSING = Symbol('missing')

function resolve(doc: unknown, parts: readonly string[]): unknown {
  let cur: unknown = doc
  for (const p of parts) {
    if (Array.isArray(cur)) return undefined // arrays: let mingo decide
    if (cur === null || typeof cur !== 'object') return MISSING
    if (!Object.prototype.hasOwnProperty.call(cur, p)) return MISSING
    cur = (cur as Record<string, unknown>)[p]
  }
  return cur
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
}

function compare(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  return undefined
}

function compileField(path: string, cond: unknown): Test | null {
  const parts = path.split('.')
  const get = (doc: Record<string, unknown>): unknown => resolve(doc, parts)
  if (isScalar(cond)) {
    return (doc) => {
      const v = get(doc)
      if (v === undefined || Array.isArray(v)) return undefined
      if (cond === null) return v === MISSING || v === null
      return v === cond
    }
  }
  if (typeof cond !== 'object' || Array.isArray(cond)) return null
  const ops = Object.entries(cond as Record<string, unknown>)
  if (ops.length === 0 || !ops.every(([k]) => k.startsWith('$'))) return null
  const tests: Test[] = []
  for (const [op, arg] of ops) {
    switch (op) {
      case '$eq':
      case '$ne': {
        if (!isScalar(arg) || arg === null) return null
        const negate = op === '$ne'
        tests.push((doc) => {
          const v = get(doc)
          if (v === undefined || Array.isArray(v)) return undefined
          return negate ? v !== arg : v === arg
        })
        break
      }
      case '$in':
      case '$nin': {
        if (!Array.isArray(arg) || !arg.every((x) => isScalar(x) && x !== null)) return null
        const set = new Set(arg)
        const negate = op === '$nin'
        tests.push((doc) => {
          const v = get(doc)
          if (v === undefined || Array.isArray(v)) return undefined
          const hit = v !== MISSING && set.has(v)
          return negate ? !hit : hit
        })
        break
      }
      case '$exists': {
        const want = Boolean(arg)
        tests.push((doc) => {
          const v = get(doc)
          if (v === undefined) return undefined
          return (v !== MISSING) === want
        })
        break
      }
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte': {
        if (typeof arg !== 'string' && typeof arg !== 'number') return null
        tests.push((doc) => {
          const v = get(doc)
          if (v === undefined || Array.isArray(v)) return undefined
          if (v === MISSING) return false
          const c = compare(v, arg)
          if (c === undefined) return false
          return op === '$gt' ? c > 0 : op === '$gte' ? c >= 0 : op === '$lt' ? c < 0 : c <= 0
        })
        break
      }
      default:
        return null
    }
  }
  return (doc) => {
    for (const t of tests) {
      const r = t(doc)
      if (r !== true) return r
    }
    return true
  }
}

function compileSelector(selector: Record<string, unknown>): Test | null {
  const tests: Test[] = []
  for (const [key, value] of Object.entries(selector)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      if (!Array.isArray(value) || value.length === 0) return null
      const subs: Test[] = []
      for (const s of value) {
        if (s === null || typeof s !== 'object' || Array.isArray(s)) return null
        const t = compileSelector(s as Record<string, unknown>)
        if (!t) return null
        subs.push(t)
      }
      if (key === '$and') {
        tests.push((doc) => {
          for (const t of subs) {
            const r = t(doc)
            if (r !== true) return r
          }
          return true
        })
      } else {
        const nor = key === '$nor'
        tests.push((doc) => {
          let unknown = false
          for (const t of subs) {
            const r = t(doc)
            if (r === true) return !nor
            if (r === undefined) unknown = true
          }
          return unknown ? undefined : nor
        })
      }
      continue
    }
    if (key.startsWith('$')) return null
    const t = compileField(key, value)
    if (!t) return null
    tests.push(t)
  }
  return (doc) => {
    for (const t of tests) {
      const r = t(doc)
      if (r !== true) return r
    }
    return true
  }
}

/**
 * A predicate for a selector over plain documents. Uses the fast matcher when it understands the
 * selector and the document, mingo otherwise (same answers, MongoDB semantics).
 */
export function selectorPredicate(selector: Record<string, unknown>): (doc: Record<string, unknown>) => boolean {
  const fast = compileSelector(selector)
  let slow: Query | undefined
  const viaMingo = (doc: Record<string, unknown>): boolean => {
    slow ??= new Query(selector)
    return slow.test(doc)
  }
  if (!fast) return viaMingo
  return (doc) => {
    const r = fast(doc)
    return r === undefined ? viaMingo(doc) : r
  }
}
