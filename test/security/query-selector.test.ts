/**
 * Hostile input (issue 9), `POST /events/query`: operators that run JavaScript are refused
 * wherever they hide (fast-check puts them at random depths and places), the depth, node and
 * size limits hold at their exact bounds, the `?selector=` form (what MADSci's Python client
 * sends) is checked the same way, and on the embedded file store — which runs `$regex` with
 * JavaScript's backtracking engine inside the server process — patterns that backtrack
 * exponentially are refused before they can block the server.
 *
 * test/security/fuzz.test.ts sends six fixed JavaScript selectors and one 200-deep selector;
 * this file covers the rest.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { QueryRefusedError } from '../../src/errors.js'
import { FORBIDDEN_OPERATORS, regexProblem, SELECTOR_LIMITS, validateSelector } from '../../src/stores/selector.js'
import { call, type Running, startServer, STORE_KINDS } from '../server/helpers.js'

const JS_OPERATORS = [...FORBIDDEN_OPERATORS]

/** A selector with `op` planted at a random place: under a field, in $and/$or/$nor lists, $elemMatch, $not, $expr, $in items. */
const planted = (op: string): fc.Arbitrary<Record<string, unknown>> => {
  const payload = op === '$where' ? 'sleep(1000) || true' : { body: 'function(){return true}', args: [], lang: 'js' }
  const leaf: Record<string, unknown> = { [op]: payload }
  const wrap = fc.constantFrom<(inner: Record<string, unknown>) => Record<string, unknown>>(
    (x) => ({ $and: [{ log_level: { $gte: 10 } }, x] }),
    (x) => ({ $or: [x, { event_type: 'log' }] }),
    (x) => ({ $nor: [x] }),
    (x) => ({ 'event_data.items': { $elemMatch: x } }),
    (x) => ({ event_data: { $not: x } }),
    (x) => ({ $expr: x }),
    (x) => ({ event_type: { $in: ['log', x] } }),
    (x) => ({ source: x }),
  )
  return fc.array(wrap, { minLength: 0, maxLength: 8 }).map((ws) => ws.reduce((inner, w) => w(inner), leaf))
}

/** A selector whose innermost object is at `depth` (the selector itself is depth 1). */
const nest = (depth: number): Record<string, unknown> => {
  let v: Record<string, unknown> = { log_level: 20 }
  for (let d = 1; d < depth; d++) v = { event_data: v }
  return v
}

describe('validateSelector', () => {
  it('refuses every JavaScript operator wherever it is planted (property, 3 × 1000 runs), naming it', () => {
    let runs = 0
    for (const op of JS_OPERATORS) {
      fc.assert(
        fc.property(planted(op), (selector) => {
          runs++
          expect(() => validateSelector(selector)).toThrow(QueryRefusedError)
          expect(() => validateSelector(selector)).toThrow(op)
        }),
        { numRuns: 1000 },
      )
    }
    expect(runs).toBe(3000)
  })

  it('holds the depth, node and size limits at their exact bounds', () => {
    expect(SELECTOR_LIMITS).toEqual({ maxDepth: 32, maxBytes: 256 * 1024, maxNodes: 10_000 })
    expect(() => validateSelector(nest(SELECTOR_LIMITS.maxDepth))).not.toThrow()
    expect(() => validateSelector(nest(SELECTOR_LIMITS.maxDepth + 1))).toThrow(/nested deeper than 32 levels/)
    const items = (n: number) => ({ $or: Array.from({ length: n }, () => 1) })
    expect(() => validateSelector(items(SELECTOR_LIMITS.maxNodes - 1))).not.toThrow()
    expect(() => validateSelector(items(SELECTOR_LIMITS.maxNodes))).toThrow(/more than 10000 keys and items/)
    const big = (bytes: number) => ({ event_type: 'x'.repeat(bytes - '{"event_type":""}'.length) })
    expect(() => validateSelector(big(SELECTOR_LIMITS.maxBytes))).not.toThrow()
    expect(() => validateSelector(big(SELECTOR_LIMITS.maxBytes + 1))).toThrow(/262145 bytes; the limit is 262144/)
  })

  it('the regex guard never throws, refuses the classic catastrophic patterns and lets ordinary ones pass (property, 5000 runs)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.stringMatching(/^[()[\]{}|*+?\\a-c0-9,^$.]{0,40}$/)), (p) => {
        const r = regexProblem(p)
        expect(r === undefined || typeof r === 'string').toBe(true)
      }),
      { numRuns: 5000 },
    )
    for (const bad of ['^(a+)+$', '(a|aa)*$', '(a*)*b', '(\\w+\\s?)+$', '([a-z]+)*$', '(?:x+x+)+y', '(a|a)+', '(.*a){12}', '.*.*.*.*=', '(a)\\1', `${'a'.repeat(600)}`]) {
      expect([bad, regexProblem(bad)]).toEqual([bad, expect.any(String)])
    }
    for (const ok of ['^node_\\d+$', 'error|fail', '(foo|bar)', '^\\w+-\\d{1,4}$', '^(ERROR|WARN)', 'x{5}', '^(bb){2}$', '[(]+a', '\\(a+\\)+', '^abc', '.*timeout.*']) {
      expect([ok, regexProblem(ok)]).toEqual([ok, undefined])
    }
  })
})

describe.each(STORE_KINDS)('POST /events/query on the %s store', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await startServer(kind, `sec-query-${kind}`)
    const res = await call(r.url, 'POST', '/events/batch', [
      { event_type: 'log_info', event_data: { s: `${'a'.repeat(26)}!`, node: 'node_12' } },
      { event_type: 'log_error', log_level: 40, event_data: { s: 'timeout while moving', node: 'node_7' } },
    ])
    expect(res.status).toBe(200)
    await r.server.flush()
  })
  afterAll(async () => {
    await r?.close()
  })

  it('refuses JavaScript operators planted at random (100 selectors over HTTP) with 400 naming the operator, and keeps serving', async () => {
    let sent = 0
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...JS_OPERATORS).chain((op) => planted(op).map((s) => [op, s] as const)), async ([op, selector]) => {
        const res = await call(r.url, 'POST', '/events/query', selector)
        sent++
        expect([res.status, res.json().detail]).toEqual([400, expect.stringContaining(`The operator ${op} runs JavaScript`)])
      }),
      { numRuns: 100 },
    )
    expect(sent).toBe(100)
    // Hidden in ways JSON allows: an escaped key, a __proto__ key (an own key after JSON.parse).
    for (const text of ['{"\\u0024where":"true"}', '{"__proto__":{"$where":"true"}}', '{"a":{"__proto__":{"$function":{"body":"x","args":[],"lang":"js"}}}}']) {
      const res = await call(r.url, 'POST', '/events/query', text)
      expect([text, res.status]).toEqual([text, 400])
    }
    expect(({} as Record<string, unknown>).$where).toBeUndefined()
    // Still serving: a plain selector answers.
    const plain = await call(r.url, 'POST', '/events/query', { log_level: { $gte: 40 } })
    expect(Object.values(plain.json()).map((e: any) => e.event_type)).toEqual(['log_error'])
  })

  it('applies the limits over HTTP at their bounds, in the body and in ?selector= (Python dict literal, as madsci-client sends)', async () => {
    const ok = await call(r.url, 'POST', '/events/query', nest(32))
    expect(ok.status).toBe(200)
    for (const [what, selector, message] of [
      ['depth 33', nest(33), /nested deeper than 32 levels/],
      ['10 000 nodes', { $or: Array.from({ length: 10_000 }, () => ({})) }, /more than 10000 keys and items/],
      ['256 KiB + 1', { event_type: 'x'.repeat(256 * 1024 + 1 - '{"event_type":""}'.length) }, /262145 bytes; the limit is 262144/],
    ] as const) {
      const res = await call(r.url, 'POST', '/events/query', selector)
      expect([what, res.status, res.json().detail]).toEqual([what, 400, expect.stringMatching(message)])
    }
    for (const literal of ["{'$where': 'sleep(1000)'}", "{'$or': [{'event_data': {'$function': {'body': 'x', 'args': [], 'lang': 'js'}}}]}", "{'event_data.s': {'$not': {'$where': 'true'}}}"]) {
      const res = await call(r.url, 'POST', `/events/query?selector=${encodeURIComponent(literal)}`)
      expect([literal, res.status, res.json().detail]).toEqual([literal, 400, expect.stringMatching(/runs JavaScript/)])
    }
    const deepLiteral = `${'{"a": '.repeat(40)}1${'}'.repeat(40)}`
    const deep = await call(r.url, 'POST', `/events/query?selector=${encodeURIComponent(deepLiteral)}`)
    expect(deep.status).toBe(400)
  })

  it('ordinary $regex selectors work; exponential ones are refused with 400 where the server runs them itself (file store)', async () => {
    const found = (await call(r.url, 'POST', '/events/query', { 'event_data.node': { $regex: '^node_\\d+$' }, 'event_data.s': { $regex: '.*timeout.*' } })).json()
    expect(Object.values(found).map((e: any) => e.event_type)).toEqual(['log_error'])
    const hostile = [
      { 'event_data.s': { $regex: '^(a+)+$' } },
      { 'event_data.s': { $not: { $regex: '(a|aa)*$' } } },
      { $or: [{ 'event_data.s': { $regex: '([a-z]+)*$', $options: 'i' } }] },
      { $expr: { $regexMatch: { input: '$event_data.s', regex: '(a*)*$' } } },
    ]
    for (const selector of hostile) {
      const res = await call(r.url, 'POST', '/events/query', selector)
      if (kind === 'file') {
        expect([JSON.stringify(selector), res.status, res.json().detail]).toEqual([JSON.stringify(selector), 400, expect.stringMatching(/regular expression .* is refused on this store: a repeated group holds/)])
      } else {
        // MongoDB/FerretDB run the pattern on the database server (FerretDB: Go's linear-time engine): a plain answer.
        expect([JSON.stringify(selector), res.status < 500]).toEqual([JSON.stringify(selector), true])
      }
    }
    // The same through ?selector= and the CSV export's min_level path is unaffected.
    const viaQuery = await call(r.url, 'POST', `/events/query?selector=${encodeURIComponent("{'event_data.s': {'$regex': '^(a+)+$'}}")}`)
    expect(viaQuery.status).toBe(kind === 'file' ? 400 : 200)
    expect((await call(r.url, 'GET', '/health')).status).toBe(200)
  })
})
