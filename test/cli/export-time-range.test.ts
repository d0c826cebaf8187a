import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, scratch, writeEventFile } from './helpers.js'

/**
 * `export --from/--to` select by time, whatever offset they are written with: the bounds are
 * turned into the stored form (naive UTC) before the stores compare strings. They used to be
 * compared as written: `…T00:00:05Z` missed the event at 00:00:05 and `…T01:00:05+01:00` matched
 * nothing. Both stored forms count: with microseconds (`…:05.000000`, this library's) and without
 * (`…:05`, Python's isoformat when they are zero).
 */
const dir = scratch('time-range')
const withMicros = join(dir, 'micros.ndjson')
const python = join(dir, 'python.ndjson')
writeEventFile(withMicros, 10)
writeFileSync(
  python,
  Array.from({ length: 10 }, (_, i) => JSON.stringify({ event_id: `01JH${String(i).padStart(22, '0')}`, event_type: 'log_info', log_level: 20, event_timestamp: `2025-01-06T00:00:0${i}`, source: {}, event_data: { i } })).join('\n') + '\n',
)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function exported(file: string, args: string[]): Promise<number[]> {
  const res = await runCli(['export', '--file', file, '--format', 'ndjson', ...args], { cwd: dir })
  expect(res.code, res.stderr).toBe(0)
  return res.stdout.trim() ? res.stdout.trim().split('\n').map((l) => (JSON.parse(l).event_data as { i: number }).i) : []
}

describe('export --from / --to', () => {
  for (const [name, file] of [
    ['stored with microseconds', withMicros],
    ['stored as Python writes whole seconds', python],
  ] as const) {
    it(`select by time, any offset (${name})`, async () => {
      const five = [5, 6, 7, 8, 9]
      expect(await exported(file, ['--from', '2025-01-06T00:00:05'])).toEqual(five)
      expect(await exported(file, ['--from', '2025-01-06T00:00:05Z'])).toEqual(five)
      expect(await exported(file, ['--from', '2025-01-06T01:00:05+01:00'])).toEqual(five)
      expect(await exported(file, ['--from', '2025-01-05T19:00:05-05:00'])).toEqual(five)
      expect(await exported(file, ['--to', '2025-01-06T00:00:02Z'])).toEqual([0, 1, 2])
      expect(await exported(file, ['--from', '2025-01-06T00:00:03.5', '--to', '2025-01-06T00:00:05'])).toEqual([4, 5])
      expect(await exported(file, ['--from', '2025-01-06', '--to', '2025-01-06'])).toEqual([0])
    })
  }

  it('--from after --to is refused', async () => {
    const res = await runCli(['export', '--file', withMicros, '--from', '2025-01-07', '--to', '2025-01-06'], { cwd: dir })
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('--from must not be after --to')
  })
})
