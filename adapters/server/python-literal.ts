/**
 * Parse a Python literal (`str()` of a dict/list/str/number/bool/None), as MADSci's EventClient
 * puts a selector in the query string of `POST /events/query` (SPEC D2): `{'event_type': 'test'}`.
 * Only literals, never code; throws SyntaxError on anything else.
 */
export function parsePythonLiteral(text: string): unknown {
  let i = 0
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++
  }
  const fail = (what: string): never => {
    throw new SyntaxError(`Not a Python literal: ${what} at position ${i}`)
  }
  const str = (): string => {
    const q = text[i]
    i++
    let out = ''
    while (i < text.length && text[i] !== q) {
      if (text[i] === '\\') {
        const c = text[++i]
        const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' }
        if (c === 'x') {
          out += String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16))
          i += 3
          continue
        }
        if (c === 'u') {
          out += String.fromCharCode(parseInt(text.slice(i + 1, i + 5), 16))
          i += 5
          continue
        }
        out += map[c] ?? `\\${c}`
        i++
        continue
      }
      out += text[i++]
    }
    if (text[i] !== q) fail('unterminated string')
    i++
    return out
  }
  const value = (depth: number): unknown => {
    if (depth > 64) fail('nesting too deep')
    ws()
    const c = text[i]
    if (c === "'" || c === '"') return str()
    if (c === '{') {
      i++
      const obj: Record<string, unknown> = {}
      ws()
      if (text[i] === '}') {
        i++
        return obj
      }
      for (;;) {
        const k = value(depth + 1)
        if (typeof k !== 'string') fail('a dict key that is not a string')
        ws()
        if (text[i++] !== ':') fail('expected ":"')
        Object.defineProperty(obj, k as string, { value: value(depth + 1), enumerable: true, writable: true, configurable: true })
        ws()
        if (text[i] === ',') {
          i++
          ws()
          if (text[i] === '}') {
            i++
            return obj
          }
          continue
        }
        if (text[i++] !== '}') fail('expected "}"')
        return obj
      }
    }
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')'
      i++
      const arr: unknown[] = []
      ws()
      if (text[i] === close) {
        i++
        return arr
      }
      for (;;) {
        arr.push(value(depth + 1))
        ws()
        if (text[i] === ',') {
          i++
          ws()
          if (text[i] === close) {
            i++
            return arr
          }
          continue
        }
        if (text[i++] !== close) fail(`expected "${close}"`)
        return arr
      }
    }
    const rest = text.slice(i)
    for (const [word, v] of [['True', true], ['False', false], ['None', null]] as const) {
      if (rest.startsWith(word)) {
        i += word.length
        return v
      }
    }
    const m = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(rest)
    if (m) {
      i += m[0].length
      return Number(m[0])
    }
    return fail('unexpected input')
  }
  const v = value(0)
  ws()
  if (i !== text.length) fail('trailing input')
  return v
}
