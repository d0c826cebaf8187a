import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { ProgressBar } from '../../src/export/index.js'

function sink(tty: boolean, columns = 100) {
  const writes: string[] = []
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        writes.push(String(chunk))
        done()
      },
    }),
    { isTTY: tty, columns },
  )
  return { stream, writes }
}

describe('export progress line', () => {
  it('writes nothing when the stream is not a terminal', () => {
    const { stream, writes } = sink(false)
    const bar = new ProgressBar({ stream, total: 100 })
    expect(bar.enabled).toBe(false)
    for (let i = 0; i <= 100; i++) bar.update(i)
    bar.finish()
    expect(writes).toEqual([])
  })

  it('redraws one line in place on a terminal, at most every 100 ms, and ends it', () => {
    const { stream, writes } = sink(true)
    let t = 0
    const bar = new ProgressBar({ stream, total: 1000, label: 'Exporting', now: () => t })
    t = 1000
    bar.update(250)
    bar.update(260) // same instant: throttled
    t = 1050
    bar.update(300) // 50 ms later: throttled
    t = 2000
    bar.update(500)
    expect(writes).toHaveLength(2)
    expect(writes[0]).toBe(`\r${'Exporting [##########------------------------------]  25% 250/1,000 events 250/s ETA 3s'}\x1b[K`)
    expect(writes[1]).toContain(' 50% 500/1,000 events 250/s ETA 2s')
    t = 4000
    bar.update(1000)
    bar.finish()
    expect(writes.at(-2)).toContain('100% 1,000/1,000 events 250/s 4s')
    expect(writes.at(-1)).toBe('\n')
    bar.update(5) // after finish: nothing
    expect(writes).toHaveLength(5)
  })

  it('counts without a total, and can print a closing message instead', () => {
    const { stream, writes } = sink(true)
    let t = 0
    const bar = new ProgressBar({ stream, unit: 'rows', now: () => t })
    t = 2000
    bar.update(12_345)
    expect(writes[0]).toBe('\rExporting 12,345 rows 6,173/s 2s\x1b[K')
    bar.finish('Exported 12,345 rows to events.csv')
    expect(writes[1]).toBe('\rExported 12,345 rows to events.csv\x1b[K\n')
  })
})
