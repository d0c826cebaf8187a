import { describe, expect, it } from 'vitest'
import { safeJsonStringify, toJsonSafe } from '../../src/index.js'

describe('safeJsonStringify', () => {
  it('never throws and maps the JSON-hostile values as documented', () => {
    const circular: Record<string, unknown> = { a: 1 }
    circular.self = circular
    const out = toJsonSafe({
      big: 12345678901234567890n,
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      ninf: Number.NEGATIVE_INFINITY,
      buf: Buffer.from('hi'),
      date: new Date('2026-01-02T03:04:05.678Z'),
      bad: new Date('nope'),
      map: new Map([['k', 1]]),
      set: new Set([1, 2]),
      fn: () => 1,
      undef: undefined,
      circular,
    }) as Record<string, unknown>
    expect(out.big).toBe('12345678901234567890')
    expect(out.nan).toBe('NaN')
    expect(out.inf).toBe('Infinity')
    expect(out.ninf).toBe('-Infinity')
    expect(out.buf).toEqual({ type: 'Buffer', encoding: 'base64', data: 'aGk=' })
    expect(out.date).toBe('2026-01-02T03:04:05.678Z')
    expect(out.bad).toBeNull()
    expect(out.map).toEqual({ k: 1 })
    expect(out.set).toEqual([1, 2])
    expect('fn' in out).toBe(false)
    expect('undef' in out).toBe(false)
    expect((out.circular as Record<string, unknown>).self).toBe('[Circular]')
  })

  it('serializes errors with type, message, stack, code and cause', () => {
    const err = Object.assign(new TypeError('outer', { cause: new Error('inner') }), { code: 'E_X' })
    const out = toJsonSafe({ err }) as { err: Record<string, unknown> }
    expect(out.err.type).toBe('TypeError')
    expect(out.err.message).toBe('outer')
    expect(out.err.code).toBe('E_X')
    expect(String(out.err.stack)).toContain('outer')
    expect((out.err.cause as Record<string, unknown>).message).toBe('inner')
  })

  it('handles top-level oddities and deep nesting', () => {
    expect(safeJsonStringify(undefined)).toBe('null')
    expect(safeJsonStringify('plain')).toBe('"plain"')
    let deep: Record<string, unknown> = {}
    const root = deep
    for (let i = 0; i < 20_000; i++) {
      deep.d = {}
      deep = deep.d as Record<string, unknown>
    }
    const text = safeJsonStringify(root)
    expect(text).toContain('[MaxDepth]')
    expect(() => JSON.parse(text)).not.toThrow()
  })

  it('a throwing getter does not crash the logger', () => {
    const obj = {
      get bad(): never {
        throw new Error('getter')
      },
    }
    expect(() => safeJsonStringify(obj)).not.toThrow()
  })
})
