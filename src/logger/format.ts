import { safeJsonStringify } from '../event/json-safe.js'

/**
 * pino's message interpolation (its `quick-format-unescaped`), for `logger.info('%s took %d ms',
 * name, ms)`:
 *
 * - `%s` → `String(arg)`; `%d` and `%f` → `Number(arg)`; `%i` → `Math.floor(Number(arg))`;
 *   `%o`, `%O`, `%j` → a string in single quotes, a function's name, anything else as JSON
 *   (`NaN` → `null`, as pino; objects as event data is written: Errors with their message, BigInts
 *   as digits, NaN inside an object as `"NaN"`, cycles as `"[Circular]"`); `%%` → `%`.
 * - `%d`/`%f`/`%i` with `null` or `undefined`, and `%o`/`%O`/`%j` with `undefined`, use the
 *   argument up and leave the placeholder as written; a placeholder with no argument left stays.
 * - With no arguments at all the text is returned as is (`%%` included).
 *
 * One difference: pino uses up an argument for an unknown placeholder (`50% done` eats one); here
 * only the placeholders above take arguments, so `info('50% done', { step })` keeps its fields.
 * (The logger also keeps a last plain object as fields when only `%s`/`%d`/`%i`/`%f` would take it.)
 *
 * Returns the text, how many arguments the placeholders used, and which placeholder (`s`, `d`,
 * `o`...) used the last one.
 */
export function formatMessage(f: string, args: readonly unknown[]): { text: string; used: number; lastBy?: string } {
  const argLen = args.length
  if (argLen === 0) return { text: f, used: 0 }
  let lastBy: string | undefined
  let str = ''
  let a = 0
  let lastPos = -1
  const flen = f.length
  for (let i = 0; i < flen; i++) {
    if (f.charCodeAt(i) !== 37 || i + 1 >= flen) continue
    const c = f.charCodeAt(i + 1)
    let out: string | undefined
    let takes = true
    switch (c) {
      case 100: // d
      case 102: // f
        if (a < argLen && args[a] != null) out = String(Number(args[a]))
        break
      case 105: // i
        if (a < argLen && args[a] != null) out = String(Math.floor(Number(args[a])))
        break
      case 79: // O
      case 111: // o
      case 106: {
        // j
        if (a >= argLen || args[a] === undefined) break
        const v = args[a]
        out = typeof v === 'string' ? `'${v}'` : typeof v === 'function' ? v.name || '<anonymous>' : typeof v === 'number' ? JSON.stringify(v) : safeJsonStringify(v)
        break
      }
      case 115: // s
        if (a < argLen) out = String(args[a])
        break
      case 37: // %
        out = '%'
        takes = false
        break
      default:
        takes = false
    }
    if (takes || out !== undefined) lastPos = lastPos > -1 ? lastPos : 0
    if (out !== undefined) {
      if (lastPos < i) str += f.slice(lastPos, i)
      str += out
      lastPos = i + 2
      i++
    }
    if (takes) {
      if (a === argLen - 1) lastBy = f[i + (out !== undefined ? 0 : 1)]
      a++
    }
  }
  if (lastPos === -1) return { text: f, used: 0 }
  if (lastPos < flen) str += f.slice(lastPos)
  return { text: str, used: Math.min(a, argLen), lastBy }
}
