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
  /**
   * Refuse regular expressions that can backtrack for ever (see `regexProblem`). For stores that
   * run `$regex` in this process with JavaScript's backtracking engine (the file store, through
   * mingo): one `{"$regex": "^(a+)+$"}` against a 40-character string blocks the event loop, the
   * whole server with it. MongoDB and FerretDB run regexes on the database server, with match limits.
   */
  safeRegex?: boolean
}

/** Longest `$regex` pattern accepted with `safeRegex`. */
export const REGEX_LIMITS = { maxLength: 512, maxUnboundedRepeats: 3 } as const

/**
 * Why `pattern` may backtrack catastrophically, or undefined when it looks safe. Refused: a
 * backreference; a group repeated without bound (`*`, `+`, `{n,}`, `{n,m}` with m > 1) that
 * itself holds a repetition or an alternation (`(a+)+`, `(a|aa)*`: exponential); more than three
 * unbounded repeats in all (`.*.*.*.*x`: a high-degree polynomial); a pattern over 512
 * characters. A heuristic that errs on the side of refusing: plain patterns such as
 * `^node_\d+$`, `error|fail`, `(foo|bar)` or `^\w+-\d{1,4}` pass.
 */
export function regexProblem(pattern: string): string | undefined {
  if (pattern.length > REGEX_LIMITS.maxLength) return `it is longer than ${REGEX_LIMITS.maxLength} characters`
  if (/\\(?:[1-9]|k<)/.test(pattern)) return 'it uses a backreference'
  interface Frame {
    repeats: boolean
    alternates: boolean
  }
  const stack: Frame[] = [{ repeats: false, alternates: false }]
  let unbounded = 0
  let i = 0
  /** The quantifier at `at`, if any: its length, whether it repeats (more than once), varies (min < max) and is unbounded. */
  const quantifier = (at: number): { len: number; repeating: boolean; variable: boolean; unbounded: boolean } | undefined => {
    const c = pattern[at]
    let len = 0
    let repeating = false
    let unboundedQ = false
    let variable = true
    if (c === '*' || c === '+') {
      len = 1
      repeating = unboundedQ = true
    } else if (c === '?') len = 1
    else if (c === '{') {
      const m = /^\{(\d*)(,(\d*))?\}/.exec(pattern.slice(at))
      if (!m) return undefined
      len = m[0].length
      const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3])
      repeating = max > 1
      unboundedQ = max === Infinity
      variable = max !== Number(m[1] || 0)
    } else return undefined
    if (pattern[at + len] === '?' || pattern[at + len] === '+') len++ // lazy (or possessive, for PCRE) forms
    return { len, repeating, variable, unbounded: unboundedQ }
  }
  const top = (): Frame => stack[stack.length - 1]
  while (i < pattern.length) {
    const c = pattern[i]
    let atomEnd = i + 1
    let group: Frame | undefined
    if (c === '\\') atomEnd = i + 2
    else if (c === '[') {
      let j = i + 1
      if (pattern[j] === '^') j++
      if (pattern[j] === ']') j++
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1
      atomEnd = j + 1
    } else if (c === '(') {
      stack.push({ repeats: false, alternates: false })
      // Group modifiers: (?: (?= (?! (?<= (?<! (?<name>
      const m = /^\((\?(:|=|!|<=|<!|<[A-Za-z_][A-Za-z0-9_]*>))?/.exec(pattern.slice(i))
      i += m![0].length
      continue
    } else if (c === ')') {
      group = stack.length > 1 ? stack.pop() : undefined
    } else if (c === '|') {
      top().alternates = true
      i++
      continue
    }
    const q = quantifier(atomEnd)
    if (q) {
      if (q.unbounded && ++unbounded > REGEX_LIMITS.maxUnboundedRepeats) return `it has more than ${REGEX_LIMITS.maxUnboundedRepeats} unbounded repeats`
      if (group && q.repeating && (group.repeats || group.alternates)) {
        return `a repeated group holds ${group.repeats ? 'a repetition' : 'an alternation'} (nested repetition backtracks exponentially)`
      }
      // A fixed count ({3}) adds no ambiguity; a variable one does.
      if (q.variable) top().repeats = true
    }
    if (group?.repeats) top().repeats = true
    i = atomEnd + (q?.len ?? 0)
  }
  return undefined
}

function checkRegex(pattern: string, path: string): void {
  const problem = regexProblem(pattern)
  if (problem) throw new QueryRefusedError(`The regular expression at ${path || '(root)'} is refused on this store: ${problem}; simplify it (e.g. no (a+)+, (a|ab)*, backreferences)`)
}

/** Where a selector holds a pattern: `{$regex}` and the `regex` argument of `$regexMatch` / `$regexFind` / `$regexFindAll`. */
const PATTERN_PATH = /(^|\.)\$regex$|\$regex(Match|Find|FindAll)\.regex$/

/** Throw `QueryRefusedError` unless `selector` is a plain object within limits and runs no code. */
export function validateSelector(selector: unknown, limits: SelectorLimits = {}): Record<string, unknown> {
  const maxDepth = limits.maxDepth ?? SELECTOR_LIMITS.maxDepth
  const maxBytes = limits.maxBytes ?? SELECTOR_LIMITS.maxBytes
  const maxNodes = limits.maxNodes ?? SELECTOR_LIMITS.maxNodes
  const safeRegex = limits.safeRegex === true
  if (selector === null || typeof selector !== 'object' || Array.isArray(selector)) {
    throw new QueryRefusedError('A selector must be a JSON object such as {"log_level": {"$gte": 40}}')
  }
  let nodes = 0
  const visit = (value: unknown, depth: number, path: string): void => {
    if (value === null || typeof value !== 'object') {
      if (safeRegex && typeof value === 'string' && PATTERN_PATH.test(path)) checkRegex(value, path)
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
      if (safeRegex && value instanceof RegExp) checkRegex(value.source, path)
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
