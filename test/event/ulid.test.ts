import { describe, expect, it } from 'vitest'
import { isUlid, newUlid, ulidLowerBound, ulidTime } from '../../src/event/index.js'

describe('ULIDs', () => {
  it('are 26 uppercase Crockford characters carrying the millisecond time', () => {
    const now = Date.now()
    const id = newUlid(now)
    expect(isUlid(id)).toBe(true)
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
    expect(ulidTime(id)).toBe(now)
  })

  it('are strictly increasing within one millisecond and when the clock steps back', () => {
    const t = Date.now() + 10_000
    let last = newUlid(t)
    for (let i = 0; i < 5000; i++) {
      const next = newUlid(t)
      expect(next > last).toBe(true)
      last = next
    }
    const back = newUlid(t - 5000)
    expect(back > last).toBe(true)
  })

  it('gives a lower bound that sorts before every id of that millisecond', () => {
    const t = Date.now() + 20_000
    const id = newUlid(t)
    expect(ulidLowerBound(t) <= id).toBe(true)
    expect(ulidLowerBound(t + 1) > id).toBe(true)
    expect(ulidTime('not-a-ulid')).toBeUndefined()
  })
})
