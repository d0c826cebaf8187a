/**
 * Absurd numbers and dates (issue 21, item 3). On the file store,
 * `DELETE /events/archived?older_than_days=200000000` deleted every archived event, one archived
 * a second ago included: the cutoff `new Date(now − days × 86 400 000)` was an invalid date whose
 * text `NaN-…` sorts after every timestamp. Retention had the same overflow:
 * `EVENT_SOFT_DELETE_AFTER_DAYS` / `EVENT_HARD_DELETE_AFTER_DAYS` = 999999999 ("keep forever")
 * archived every event at the first pass, and the file store's purge then deleted them.
 *
 * Now a day count (or any duration) that gives no date in years 1 to 9999 is a 422 at a route and
 * a `ConfigError` for a setting; a negative `older_than_days` is a 422 too; a timer setting past
 * what Node's timers wait is a `ConfigError`; Unix times past 9999 are refused where events and
 * queries are parsed. Property tests cover every duration setting and every numeric or date
 * parameter of every route with extreme values.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createServer, loadSettings, type ServerSettings, settingsFromEnv } from '../../adapters/server/index.js'
import { Retention } from '../../adapters/server/retention.js'
import { ConfigError } from '../../src/errors.js'
import { FileStore, parseEvent } from '../../src/index.js'
import { MAX_TIMER_MS, maxDaysBack } from '../../src/stores/time-limits.js'
import type { ManagedStore } from '../../src/stores/types.js'
import { call, naiveDaysAgo, type Running, startServer, STORE_KINDS, tempDir } from '../server/helpers.js'

const DAY = 86_400_000

/** Naive UTC ISO with microseconds, the form archiving writes. */
function naiveUtc(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000')
}

/** Archive `id` with its archive time `daysAgo` days back (a BSON Date on FerretDB, as archiving writes). */
async function archivedAgo(r: Running, id: string, daysAgo: number): Promise<void> {
  if (daysAgo === 0 || r.kind === 'ferretdb') {
    expect((await call(r.url, 'POST', '/event', { event_id: id, event_type: 'test' })).status).toBe(200)
    expect((await call(r.url, 'POST', '/events/archive', { event_ids: [id] })).json().archived_count).toBe(1)
    if (daysAgo === 0) return
    const client = await MongoClient.connect(inject('mongoUrl'))
    try {
      await client.db(r.database).collection('events').updateOne({ _id: id as never }, { $set: { archived_at: new Date(Date.now() - daysAgo * DAY) } })
    } finally {
      await client.close()
    }
    return
  }
  // The file store compares archived_at as naive UTC text.
  expect((await call(r.url, 'POST', '/event', { event_id: id, event_type: 'test', archived: true, archived_at: naiveUtc(Date.now() - daysAgo * DAY) })).status).toBe(200)
}

async function archivedIds(r: Running): Promise<string[]> {
  return Object.keys((await call(r.url, 'GET', '/events/archived?number=0')).json()).sort()
}

describe.each(STORE_KINDS)('older_than_days on the %s store', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await startServer(kind, `day-counts-${kind}`)
  })
  afterAll(async () => {
    await r?.close()
  })

  it("the issue's request: DELETE /events/archived?older_than_days=200000000 is a 422 and deletes nothing; so is a negative count", async () => {
    await archivedAgo(r, 'dc-now', 0)
    await archivedAgo(r, 'dc-old', 40)
    for (const days of ['200000000', '2000000000000', String(Number.MAX_SAFE_INTEGER), String(maxDaysBack() + 1), '-1', '-200000000']) {
      const res = await call(r.url, 'DELETE', `/events/archived?older_than_days=${days}`)
      expect([days, res.status]).toEqual([days, 422])
      expect(res.json().detail[0]).toMatchObject({ loc: ['query', 'older_than_days'], type: days.startsWith('-') ? 'greater_than_equal' : 'less_than_equal' })
    }
    expect(await archivedIds(r)).toEqual(['dc-now', 'dc-old'])
    // The largest count back to year 1 is a date: nothing is that old.
    expect((await call(r.url, 'DELETE', `/events/archived?older_than_days=${maxDaysBack()}`)).json().deleted_count).toBe(0)
    expect((await call(r.url, 'DELETE', '/events/archived?older_than_days=39')).json().deleted_count).toBe(1)
    expect(await archivedIds(r)).toEqual(['dc-now'])
    // 0 purges everything archived (MADSci's conformance item 19).
    expect((await call(r.url, 'DELETE', '/events/archived?older_than_days=0')).json().deleted_count).toBe(1)
  })

  it('property: any older_than_days is 200 or 422, never 5xx; a count ≥ 1 never deletes what was archived just now, and deletes the 30.5-day-old exactly when ≤ 30', async () => {
    let n = 0
    let recent = ''
    let old = ''
    const seed = async (): Promise<void> => {
      n++
      recent = `dcp-now-${n}`
      old = `dcp-old-${n}`
      await archivedAgo(r, recent, 0)
      await archivedAgo(r, old, 30.5)
    }
    const days = fc.oneof(
      fc.integer({ min: -5, max: 40 }).map(String),
      fc.integer().map(String),
      fc.constantFrom('200000000', '999999999', '1e3', '1e309', '-0', '0x10', '1_0', ' 7 ', '7.0', '7.5', '', 'NaN', 'Infinity', String(maxDaysBack()), String(maxDaysBack() + 1), '99999999999999999999', String(2 ** 53)),
    )
    await fc.assert(
      fc.asyncProperty(days, async (d) => {
        // Seeded again when a run (or a failed one, while shrinking) deleted either.
        const before = await archivedIds(r)
        if (!before.includes(recent) || !before.includes(old)) await seed()
        const res = await call(r.url, 'DELETE', `/events/archived?older_than_days=${encodeURIComponent(d)}`)
        expect([d, res.status === 200 || res.status === 422], res.text).toEqual([d, true])
        const left = await archivedIds(r)
        if (res.status === 200) {
          const count = Number(d.trim().replace(/_/g, ''))
          expect([d, left.includes(recent)]).toEqual([d, count >= 1])
          expect([d, left.includes(old)]).toEqual([d, count > 30])
        } else expect([d, left.includes(recent), left.includes(old)]).toEqual([d, true, true])
      }),
      { numRuns: 60 },
    )
  })
})

describe('retention day counts', () => {
  const home = tempDir('day-count-settings')
  const base = { HOME: home, MADSCI_SETTINGS_DIR: home }

  it("the issue's settings: EVENT_SOFT_DELETE_AFTER_DAYS / EVENT_HARD_DELETE_AFTER_DAYS = 999999999 are a ConfigError, from the environment and in code; the server does not start", () => {
    for (const name of ['EVENT_SOFT_DELETE_AFTER_DAYS', 'EVENT_HARD_DELETE_AFTER_DAYS']) {
      expect(() => settingsFromEnv({ ...base, [name]: '999999999' }), name).toThrow(ConfigError)
      expect(() => settingsFromEnv({ ...base, [name]: '999999999' })).toThrow(new RegExp(`${name}.*not a date.*at most \\d+.*EVENT_RETENTION_ENABLED=false`))
      expect(() => createServer({ env: { ...base, EVENT_RETENTION_ENABLED: 'true', [name]: '999999999' } })).toThrow(ConfigError)
    }
    expect(() => loadSettings({ soft_delete_after_days: 999999999 }, base)).toThrow(/soft_delete_after_days/)
    expect(() => loadSettings({ hard_delete_after_days: -1 }, base)).toThrow(/hard_delete_after_days/)
    expect(loadSettings({ soft_delete_after_days: maxDaysBack() }, base).soft_delete_after_days).toBe(maxDaysBack())
  })

  it.each(STORE_KINDS.filter((k) => k === 'file'))('a retention pass given such counts anyway (settings built by hand) archives and purges nothing (%s store)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'madsci-day-count-'))
    const store = new FileStore(join(dir, 'events.ndjson'))
    try {
      const aged = parseEvent({ event_type: 'test', event_timestamp: naiveDaysAgo(3) })
      const fresh = parseEvent({ event_type: 'test' })
      await store.write([aged, fresh])
      const errors: Error[] = []
      for (const bad of [{ soft_delete_after_days: 999999999 }, { soft_delete_after_days: 1, hard_delete_after_days: 999999999 }]) {
        const s = { ...loadSettings({ retention_enabled: true }, base), ...bad } as ServerSettings
        await expect(new Retention(store, s, (e) => errors.push(e)).runOnce()).rejects.toThrow(ConfigError)
      }
      // The second pass archived (soft = 1 is fine), then refused to purge with the bad hard count.
      expect((await store.getEvent(fresh.event_id))?.archived).toBe(false)
      expect(await store.countEvents()).toBe(2)
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a check interval past 24.8 days does not run passes back to back (Node fires such a timer after 1 ms)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'madsci-day-count-'))
    const store = new FileStore(join(dir, 'events.ndjson'))
    let passes = 0
    const counting = new Proxy(store, {
      get(target, key) {
        if (key === 'archiveEvents') return (...a: Parameters<ManagedStore['archiveEvents']>) => (passes++, target.archiveEvents(...a))
        const v = Reflect.get(target, key, target)
        return typeof v === 'function' ? v.bind(target) : v
      },
    }) as ManagedStore
    const r = new Retention(counting, loadSettings({ retention_enabled: true, retention_check_interval_hours: 1000 }, base), () => undefined)
    try {
      await r.start()
      await new Promise((res) => setTimeout(res, 300))
      expect(passes).toBe(1)
    } finally {
      await r.stop()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** Every duration setting: its variables, and whether it counts back from now (days). */
const DURATION_SETTINGS: Array<[keyof ServerSettings, string]> = [
  ['soft_delete_after_days', 'EVENT_SOFT_DELETE_AFTER_DAYS'],
  ['hard_delete_after_days', 'EVENT_HARD_DELETE_AFTER_DAYS'],
  ['retention_check_interval_hours', 'EVENT_RETENTION_CHECK_INTERVAL_HOURS'],
  ['rate_limit_window', 'EVENT_RATE_LIMIT_WINDOW'],
  ['rate_limit_short_window', 'EVENT_RATE_LIMIT_SHORT_WINDOW'],
  ['rate_limit_cleanup_interval', 'EVENT_RATE_LIMIT_CLEANUP_INTERVAL'],
  ['ingest_timeout_ms', 'EVENT_INGEST_TIMEOUT_MS'],
  ['live_poll_interval_ms', 'EVENT_LIVE_POLL_INTERVAL_MS'],
]
const UNIT_MS: Record<string, number> = { soft_delete_after_days: DAY, hard_delete_after_days: DAY, retention_check_interval_hours: 3_600_000, rate_limit_window: 1000, rate_limit_short_window: 1000, rate_limit_cleanup_interval: 1000 }

const extreme = fc.oneof(
  fc.integer({ min: -3, max: 100 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, 1, 49, 50, MAX_TIMER_MS, MAX_TIMER_MS + 1, maxDaysBack(), maxDaysBack() + 1, 999999999, 2 ** 53 - 1, 2 ** 53, 1e21, 1e300, -1, -0, Number.NaN, Number.POSITIVE_INFINITY),
)
const extremeText = fc.oneof(extreme.map(String), fc.constantFrom('1e309', '0x10', ' 5 ', '5.0', '5.5', '-0', 'Infinity', 'NaN', '99999999999999999999', '1_000'))

describe('property: every duration setting with extreme values', () => {
  const home = tempDir('day-count-props')
  const base = { HOME: home, MADSCI_SETTINGS_DIR: home }

  /** What an accepted value must allow: a date back or forward from now, or a timer that waits that long. */
  function usable(key: string, v: number): boolean {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (v === 0 && key !== 'ingest_timeout_ms')) return false
    if (key === 'ingest_timeout_ms' || key === 'live_poll_interval_ms') return v <= MAX_TIMER_MS
    const back = key.endsWith('_days')
    const t = Date.now() + (back ? -1 : 1) * v * UNIT_MS[key]
    const d = new Date(t)
    return Number.isFinite(t) && d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999
  }

  it('from the environment and in code: a ConfigError naming the setting, or a value that gives a date (or fits a timer); nothing else is thrown', () => {
    let accepted = 0
    let refused = 0
    fc.assert(
      fc.property(fc.constantFrom(...DURATION_SETTINGS), extremeText, extreme, ([key, name], text, value) => {
        for (const [attempt, label] of [
          [() => settingsFromEnv({ ...base, [name]: text })[key], name],
          [() => loadSettings({ [key]: value }, base)[key], key],
        ] as const) {
          try {
            const v = attempt() as number
            expect([label, v, usable(key, v)]).toEqual([label, v, true])
            accepted++
          } catch (err) {
            expect(err, `${label}=${String(text)} / ${String(value)}`).toBeInstanceOf(ConfigError)
            expect((err as Error).message).toContain(label)
            refused++
          }
        }
      }),
      { numRuns: 2000 },
    )
    expect(accepted).toBeGreaterThan(200)
    expect(refused).toBeGreaterThan(200)
  })

  it('soft_delete_after_days: an accepted count archives exactly the events older than it (one 3.5 days old, one a day ahead)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'madsci-day-count-'))
    try {
      let run = 0
      await fc.assert(
        fc.asyncProperty(extreme, async (days) => {
          let s: ServerSettings
          try {
            s = loadSettings({ retention_enabled: true, soft_delete_after_days: days }, base)
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError)
            return
          }
          const store = new FileStore(join(dir, `events-${run++}.ndjson`))
          try {
            const aged = parseEvent({ event_type: 'test', event_timestamp: naiveDaysAgo(3.5) })
            // A day ahead: younger than any cutoff, however small the count.
            const fresh = parseEvent({ event_type: 'test', event_timestamp: naiveDaysAgo(-1) })
            await store.write([aged, fresh])
            const { archived } = await new Retention(store, s, () => undefined).runOnce()
            expect([days, archived]).toEqual([days, days < 3.5 ? 1 : 0])
            expect((await store.getEvent(fresh.event_id))?.archived).toBe(false)
          } finally {
            await store.close()
          }
        }),
        { numRuns: 80 },
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

// ------------------------------------------------------------------ every numeric and date parameter of every route

const NUMBERS = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: false }).map(String),
  fc.constantFrom(
    '0', '-0', '-1', '1e3', '1e21', '1e309', '-1e309', '0x10', '1_000', ' 5 ', '5.0', '5.5', '', 'NaN', 'Infinity', '-Infinity',
    '99999999999999999999', String(2 ** 53), String(2 ** 31), '200000000', '999999999',
  ),
)
const DATES = fc.oneof(
  NUMBERS,
  fc.constantFrom(
    '253402300799', '253402300800', '253402300799999', '253402300800000', '-62135596800000', '-62135596800001', '8.64e15', '20000000001', '2e10', '-2e10',
    '9999-12-31T23:59:59.999999', '0001-01-01T00:00:00', '0000-01-01', '10000-01-01', '+275760-09-13', '2026-02-29', '2024-02-29T24:00:00', '2024-02-29',
    '9999-12-31T23:59:59.999999-23:59', '0001-01-01T00:00:00+23:59', '1970-01-01T00:00:00Z',
  ),
)
/** A JSON value for a body field: the extreme numbers as numbers (when JSON can carry them) or as text. */
const JSON_VALUES = fc.oneof(DATES, DATES.map((t) => (Number.isFinite(Number(t)) && t.trim() !== '' ? Number(t) : t)), fc.constant(null), fc.boolean())

/** A query value, and for a date its end one day later when it parses (an extreme window would only measure the report's size). */
function window(start: string): string {
  const ms = Date.parse(/^\d{4}-/.test(start) && !/[zZ]|[+-]\d\d:?\d\d$/.test(start) ? `${start}Z` : start)
  const end = Number.isFinite(ms) && ms + DAY <= 253_402_300_799_999 ? new Date(ms + DAY).toISOString().slice(0, 19) : start
  return `start_time=${encodeURIComponent(start)}&end_time=${encodeURIComponent(end)}`
}

describe.each(STORE_KINDS)('property: extreme numbers and dates in every route parameter (%s store)', (kind) => {
  let r: Running
  beforeAll(async () => {
    r = await startServer(kind, `day-count-routes-${kind}`)
    expect((await call(r.url, 'POST', '/events/batch', Array.from({ length: 5 }, (_, i) => ({ event_type: i % 2 ? 'workflow_complete' : 'workflow_start', event_timestamp: naiveDaysAgo(i) })))).status).toBe(200)
  })
  afterAll(async () => {
    await r?.close()
  })

  it('never a 5xx; every stored timestamp stays a date of years 1 to 9999', async () => {
    const q = (v: string): string => encodeURIComponent(v)
    const requests: Array<fc.Arbitrary<[string, string, unknown?]>> = [
      fc.tuple(fc.constantFrom('number', 'offset', 'level'), NUMBERS).map(([k, v]) => ['GET', `/events?${k}=${q(v)}`]),
      fc.tuple(fc.constantFrom('start_time', 'end_time'), DATES).map(([k, v]) => ['GET', `/events?${k}=${q(v)}&include_archived=true`]),
      fc.tuple(fc.constantFrom('number', 'offset'), NUMBERS).map(([k, v]) => ['GET', `/events/archived?${k}=${q(v)}`]),
      fc.tuple(DATES, fc.constantFrom('/events/export?', '/events/export?format=ndjson&', '/events/aggregate?', '/events/aggregate?bucket=day&')).map(([v, p]) => ['GET', `${p}${window(v)}`]),
      NUMBERS.map((v) => ['GET', `/events/export?min_level=${q(v)}`]),
      fc.tuple(DATES, fc.constantFrom('sessions', 'periods', 'user', 'users', 'periods.svg', 'sessions.svg'), fc.constantFrom('daily', 'hourly', 'weekly', 'monthly')).map(([v, route, t]) => ['GET', `/utilization/${route}?${window(v)}&analysis_type=${t}`]),
      fc.tuple(JSON_VALUES, JSON_VALUES).map(([d, b]) => ['POST', '/events/archive', { before_date: d, batch_size: b }]),
      fc.tuple(JSON_VALUES, JSON_VALUES, JSON_VALUES).map(([t, a, l]) => ['POST', '/event', { event_type: 'test', event_timestamp: t, archived_at: a, log_level: l }]),
      fc.tuple(JSON_VALUES, JSON_VALUES).map(([t, a]) => ['POST', '/events/batch', [{ event_type: 'test', event_timestamp: t, archived: true, archived_at: a }]]),
    ]
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(fc.oneof(...requests), async ([method, path, body]) => {
        const res = await call(r.url, method, path, body)
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        expect([method, path, JSON.stringify(body), res.status < 500], res.text.slice(0, 300)).toEqual([method, path, JSON.stringify(body), true])
      }),
      { numRuns: 400 },
    )
    expect(statuses.get(422) ?? 0).toBeGreaterThan(30)
    expect(statuses.get(200) ?? 0).toBeGreaterThan(30)
    const stored = Object.values((await call(r.url, 'POST', '/events/query', {})).json<Record<string, { event_timestamp: string; archived_at: string | null }>>())
    expect(stored.length).toBeGreaterThan(5)
    for (const e of stored) {
      for (const t of [e.event_timestamp, e.archived_at]) {
        if (t === null) continue
        expect([t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(t) && t.slice(0, 4) >= '0001']).toEqual([t, true])
      }
    }
    expect(r.errors).toEqual([])
  })
})
