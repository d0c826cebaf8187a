import { describe, expect, it } from 'vitest'
import { pyFixed, pyFloatRepr, pyMean, pyRound } from '../../src/analyze/pynum.js'

// Expected values are what CPython 3.11 prints for the same inputs (`round`, `format(x, ".nf")`,
// `repr`, `statistics.mean`); JS's own functions differ on each of the tie cases below.
describe('Python number semantics', () => {
  it('rounds the exact binary value, ties to even (round / format .nf)', () => {
    const cases: Array<[number, number, number, string]> = [
      [0.125, 2, 0.12, '0.12'],
      [0.375, 2, 0.38, '0.38'],
      [2.675, 2, 2.67, '2.67'],
      [0.5, 0, 0, '0'],
      [1.5, 0, 2, '2'],
      [2.5, 0, 2, '2'],
      [-0.125, 2, -0.12, '-0.12'],
      [-2.5, 0, -2, '-2'],
      [1.005, 2, 1, '1.00'],
      [12.345, 1, 12.3, '12.3'],
      [0.05, 1, 0.1, '0.1'],
      [0.25, 1, 0.2, '0.2'],
      [0.35, 1, 0.3, '0.3'],
      [99.95, 1, 100, '100.0'],
      [33.33333333333333, 2, 33.33, '33.33'],
      [1e-7, 3, 0, '0.000'],
    ]
    for (const [x, n, rounded, formatted] of cases) {
      expect(pyRound(x, n), `round(${x}, ${n})`).toBe(rounded)
      expect(pyFixed(x, n), `format(${x}, '.${n}f')`).toBe(formatted)
    }
    expect((2.5).toFixed(0)).toBe('3') // the JS behaviour this replaces
  })

  it('prints floats as Python repr does', () => {
    const cases: Array<[number, string]> = [
      [1, '1.0'],
      [1e-5, '1e-05'],
      [1.5e16, '1.5e+16'],
      [0.1, '0.1'],
      [123456789012345680, '1.2345678901234568e+17'],
      [1e16, '1e+16'],
      [9999999999999998, '9999999999999998.0'],
      [0.0001, '0.0001'],
      [12.5, '12.5'],
      [-0, '-0.0'],
      [100, '100.0'],
      [1 / 3, '0.3333333333333333'],
      [Math.SQRT2 * 1e-5, '1.4142135623730953e-05'],
      [123456.789, '123456.789'],
    ]
    for (const [x, s] of cases) expect(pyFloatRepr(x), String(x)).toBe(s)
  })

  it('takes the exact mean like statistics.mean (one rounding, not a float sum divided)', () => {
    expect(pyMean([0.1, 0.2, 0.3])).toBe(0.2)
    expect((0.1 + 0.2 + 0.3) / 3).toBe(0.20000000000000004)
    expect(pyMean([0.1, 0.2])).toBe(0.15000000000000002)
    expect(pyRound(pyMean([0.1, 0.2]), 1)).toBe(0.2)
    expect(pyMean([1, 2, 4])).toBe(2.3333333333333335)
    expect(pyMean([-0.1, 0.2])).toBe(0.05)
    expect(pyMean([1e300, 1e300])).toBe(1e300)
    expect(pyMean([12.34, 12.35])).toBe(12.344999999999999)
    expect(pyMean([])).toBe(0)
  })
})
