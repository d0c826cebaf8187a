import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { escapeKey, escapeKeys, unescapeKey, unescapeKeys } from '../../src/index.js'

describe('key escaping', () => {
  it('escapes only keys a store cannot hold', () => {
    expect(escapeKey('plain')).toBe('plain')
    expect(escapeKey('50%')).toBe('50%')
    expect(escapeKey('a.b')).toBe('a%2Eb')
    expect(escapeKey('$set')).toBe('%24set')
    expect(escapeKey('a$b')).toBe('a$b')
    expect(escapeKey('nul\u0000')).toBe('nul%00')
    expect(escapeKey('x%2Ey')).toBe('x%252Ey')
  })

  it('round-trips every string key', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (k) => {
        expect(unescapeKey(escapeKey(k))).toBe(k)
        const e = escapeKey(k)
        expect(e.includes('.')).toBe(false)
        expect(e.startsWith('$')).toBe(false)
        expect(e.includes('\u0000')).toBe(false)
      }),
      { numRuns: 2000 },
    )
  })

  it('round-trips nested data and returns the same object when nothing changes', () => {
    const clean = { a: [{ b: 1 }], c: 'x' }
    expect(escapeKeys(clean)).toBe(clean)
    const dirty = { 'a.b': { $gt: [{ 'x.y': 1 }] }, ok: 1 }
    const stored = escapeKeys(dirty) as Record<string, unknown>
    expect(Object.keys(stored)).toEqual(['a%2Eb', 'ok'])
    expect(unescapeKeys(stored)).toEqual({ 'a.b': { $gt: [{ 'x.y': 1 }] }, ok: 1 })
  })

  it('never pollutes prototypes', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "a.b": 1}')
    const stored = escapeKeys(input) as Record<string, unknown>
    const back = unescapeKeys(stored) as Record<string, unknown>
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype.hasOwnProperty.call(back, '__proto__')).toBe(true)
  })
})
