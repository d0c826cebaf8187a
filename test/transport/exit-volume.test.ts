import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { checkMix, ensureBuilt, projectDir, replaySpool, runExitPath, summaries } from './helpers.js'

/**
 * Volume at exit, MongoDB sink (FerretDB, or MONGODB_URL): a program logs 100 000 pino lines
 * through the transport and calls process.exit(). FerretDB stores ~3000 events/s, so pino's 10 s
 * exit window is too short for all of them: the transport delivers what it can within
 * `closeTimeoutMs`, spools the rest and says how many on stderr; the next logger started with the
 * same spool directory delivers them. Then the database holds every line exactly once, as the
 * Event it must become, and the counts the transport printed add up. (Every way of ending, with
 * every sink and both APIs, is the exit matrix: test/pipeline/exit-matrix.test.ts.)
 */
beforeAll(() => ensureBuilt())

const COUNT = 100_000
const url = inject('mongoUrl')
const client = new MongoClient(url)
const databases: string[] = []
afterAll(async () => {
  for (const d of databases) await client.db(d).dropDatabase().catch(() => undefined)
  await client.close()
})

/** "madsci-events transport: closed in 8.1 s: 48674 delivered, 51327 left in the spool ..." */
function closingCounts(stderr: string): { delivered: number; left: number; lost: number } | undefined {
  const m = /madsci-events transport: closed in [\d.]+ s: (\d+) delivered, (?:(?:at least )?(\d+) left in the spool[^,]*, )?.*?(\d+) lost/.exec(stderr)
  return m ? { delivered: Number(m[1]), left: Number(m[2] ?? 0), lost: Number(m[3]) } : undefined
}

describe('exit with a large backlog, MongoDB sink: 100 000 lines → exactly 100 000 events', () => {
  for (const path of ['exit'] as const) {
    it(`${path}: delivered within the exit window or spooled and counted`, { timeout: 300_000 }, async () => {
      const dir = await projectDir()
      const database = `t_transport_exit_${path.toLowerCase()}_${process.pid}`
      databases.push(database)
      const spool = join(dir, 'spool')
      const run = `mongo-${path}`
      const r = await runExitPath(path, { mongodb: { url, database }, spool }, COUNT, run, { cwd: dir })

      // Whatever was not delivered in the window was spooled, and the transport said how many.
      const said = closingCounts(r.stderr)
      const left = said ? said.left : 0
      if (said) {
        expect(said.lost).toBe(0)
        expect(said.delivered + said.left).toBe(COUNT + 1) // the lines and the closing summary
      }
      const replay = await replaySpool({ mongodb: { url, database } }, spool)
      expect(replay.replayed).toBeGreaterThanOrEqual(left)
      expect(replay.failed).toBe(0)

      const events = (await client.db(database).collection('events').find({}).toArray()) as Array<Record<string, unknown>>
      const check = checkMix(events, COUNT, run, r.pid)
      expect(check.mismatches).toEqual([])
      expect(check.count).toBe(COUNT)
      expect(check.distinct).toBe(COUNT)
      const [summary] = summaries(events)
      expect((summary.event_data as { madsci_events: object }).madsci_events).toMatchObject({ lines: COUNT, accepted: COUNT, dropped: {} })
      expect(events).toHaveLength(COUNT + 1)
    })
  }
})
