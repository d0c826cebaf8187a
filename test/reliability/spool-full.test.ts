import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { DELIVERY_DEFAULTS } from '../../src/pipeline/delivery.js'

/**
 * The spool directory runs out of room while the Event Manager is down, in a separate process:
 * - on a 1 MiB tmpfs (ENOSPC), when this machine lets us mount one (root);
 * - under `prlimit --fsize=1048576` (EFBIG: the file-size limit), always.
 * The overflow policy (`spool`) must act until the disk refuses, then drop and count; the process
 * keeps running; when the store is back every event that reached the disk is delivered, the drops
 * are reported as a MADSci event with the right count, and new events flow again (the spool frees
 * its file and recovers). If the store never comes back, close() counts what was lost and a next
 * process delivers exactly what reached the disk: delivered + dropped = logged.
 *
 * The spool directory unwritable (a file where the directory should be: ENOTDIR; a read-only
 * tmpfs: EROFS, as root): the logger starts anyway and warns, what the queue cannot hold is
 * dropped as `spool_error`, counted and reported; the spool is opened once it can be.
 */

const fixture = fileURLToPath(new URL('./fixtures/spool-full.ts', import.meta.url))
const TOTAL = 20_000

interface Stats {
  accepted: number
  delivered: number
  spooled: number
  dropped: Record<string, number>
  sinks: Array<{ spool?: { pendingBytes: number; error?: string } }>
}

function run(config: Record<string, unknown>, prefix: string[] = []): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const argv = [...prefix, process.execPath, '--import', 'tsx', fixture, JSON.stringify(config)]
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('exit', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '))
      if (code !== 0 || !line) reject(new Error(`spool-full fixture ended with ${signal ?? code} and no result:\n${err.slice(-2000)}`))
      else resolve(JSON.parse(line.slice(7)))
    })
  })
}

const root = mkdtempSync(join(tmpdir(), 'madsci-spool-full-'))
const mounted: string[] = []
afterAll(() => {
  for (const m of mounted) {
    try {
      execFileSync('umount', [m])
    } catch {
      /* already gone */
    }
  }
  rmSync(root, { recursive: true, force: true })
})

/** A 1 MiB tmpfs, or undefined when this machine does not let us mount one. */
function tinyFs(name: string): string | undefined {
  const dir = join(root, name)
  mkdirSync(dir)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' })
    mounted.push(dir)
    return dir
  } catch {
    return undefined
  }
}

const limits: Array<{ name: string; setup: () => { spool: string; prefix: string[] } | undefined; errno: RegExp }> = [
  {
    name: 'a 1 MiB tmpfs (ENOSPC)',
    setup: () => {
      const fs = tinyFs(`tmpfs-${mounted.length}`)
      return fs ? { spool: join(fs, 'spool'), prefix: [] } : undefined
    },
    errno: /ENOSPC/,
  },
  {
    name: 'a 1 MiB file-size limit (prlimit --fsize, EFBIG)',
    setup: () => ({ spool: mkdtempSync(join(root, 'fsize-')), prefix: ['prlimit', '--fsize=1048576'] }),
    errno: /EFBIG/,
  },
]

describe('the spool directory full', () => {
  for (const limit of limits) {
    it(`${limit.name}: drops counted and reported, the process keeps running, every spooled event delivered, the spool recovers`, async (ctx) => {
      const where = limit.setup()
      if (!where) {
        // Not root here: the prlimit case below covers the same code path (a write the disk refuses).
        ctx.annotate('mount -t tmpfs is not permitted here; covered by the file-size limit case')
        expect(mounted.length).toBe(0)
        return
      }
      const r = await run({ spool: where.spool, total: TOTAL, after: 500 }, where.prefix)
      const down = r.down as Stats
      // Every logging call returned (the process kept running and logging).
      expect(r.returnedIds).toBe(TOTAL)
      // The overflow policy acted: the queue overflowed into the spool until the disk refused.
      expect(down.spooled).toBeGreaterThan(1000)
      expect(down.sinks[0].spool?.error).toMatch(limit.errno)
      const userDrops = down.dropped.spool_error
      expect(userDrops).toBeGreaterThan(10_000)
      expect(Object.keys(down.dropped)).toEqual(['spool_error'])
      // The store comes back: what reached the disk (and the memory queue) is delivered, once.
      expect(r.flushedUp).toBe(true)
      expect(r.storedDown + userDrops).toBe(TOTAL)
      expect(r.duplicates).toBe(0)
      // The drops are reported as an event with the full count (the reports dropped while the
      // spool still refused are counted in too).
      expect(r.dropReports.length).toBeGreaterThanOrEqual(1)
      const reported = r.dropReports.reduce((a: number, d: { dropped: { spool_error?: number } }) => a + (d.dropped.spool_error ?? 0), 0)
      expect(reported).toBe(r.final.dropped.spool_error)
      expect(reported).toBeGreaterThanOrEqual(userDrops)
      // The spool recovered: new events flow again, nothing pending, nothing lost at close.
      expect(r.flushedAfter).toBe(true)
      expect(r.storedAfter).toBe(r.after)
      expect(r.report.lost).toBe(0)
      expect(r.report.spoolPendingBytes).toBe(0)
      expect(r.final.sinks[0].spool.error).toBeUndefined()
    }, 30_000)
  }

  it('the store never comes back: close() counts what could not be written, and a next process delivers exactly what reached the disk', async () => {
    const spool = mkdtempSync(join(root, 'never-'))
    const r = await run({ spool, total: TOTAL, neverBack: true }, ['prlimit', '--fsize=1048576'])
    expect(r.returnedIds).toBe(TOTAL)
    expect(r.report.lost).toBeGreaterThan(0)
    // The store is known to be down: close() spools at once rather than waiting out its deadline.
    expect(r.report.timedOut).toBe(false)
    // Everything is accounted for: stored by the next process, or counted as dropped (incl. lost at close).
    expect(r.storedDown + r.final.dropped.spool_error).toBe(TOTAL)
    expect(r.replayed.delivered).toBe(r.storedDown)
    expect(r.duplicates).toBe(0)
  }, 30_000)
})

describe('the spool directory unwritable', () => {
  // At most this many events are held in memory while the store is down: the fixture's queue
  // (200) and the batches in flight (DELIVERY_DEFAULTS: 4 of 1 000).
  const HELD = 200 + DELIVERY_DEFAULTS.maxInFlight * DELIVERY_DEFAULTS.maxBatchEvents
  const unwritable: Array<{ name: string; setup: () => string | undefined; errno: RegExp }> = [
    {
      name: 'a file where the spool directory should be (ENOTDIR)',
      setup: () => {
        const blocker = join(mkdtempSync(join(root, 'notdir-')), 'spool')
        writeFileSync(blocker, 'not a directory')
        return join(blocker, 'inner')
      },
      errno: /ENOTDIR/,
    },
    {
      name: 'a read-only file system (EROFS)',
      setup: () => {
        const dir = join(root, `ro-${mounted.length}`)
        mkdirSync(dir)
        try {
          execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir], { stdio: 'ignore' })
        } catch {
          return undefined
        }
        mounted.push(dir)
        return join(dir, 'spool')
      },
      // Node's recursive mkdir reports a directory it cannot create on a read-only parent as ENOENT.
      errno: /EROFS|ENOENT/,
    },
  ]
  for (const u of unwritable) {
    it(`${u.name}: the logger starts and warns, drops counted as spool_error and reported, nothing else lost`, async (ctx) => {
      const spool = u.setup()
      if (!spool) {
        ctx.annotate('mount -t tmpfs is not permitted here; covered by the ENOTDIR case')
        expect(mounted.length).toBe(0)
        return
      }
      const r = await run({ spool, total: TOTAL, after: 150 })
      const down = r.down as Stats
      expect(r.returnedIds).toBe(TOTAL)
      expect(r.warnings).toContain('MADSCI_WARN_SPOOL_UNAVAILABLE')
      expect(r.errors.some((e: string) => e.startsWith('spool-open: Cannot open the spool directory'))).toBe(true)
      expect(down.sinks[0].spool?.error).toMatch(u.errno)
      expect(down.spooled).toBe(0)
      // The queue and the batches in flight hold the first events; the rest are dropped.
      expect(Object.keys(down.dropped)).toEqual(['spool_error'])
      expect(down.dropped.spool_error).toBeGreaterThanOrEqual(TOTAL - HELD)
      // The store comes back: what was held is delivered once; everything is accounted for.
      expect(r.flushedUp).toBe(true)
      expect(r.storedDown + down.dropped.spool_error).toBe(TOTAL)
      expect(r.duplicates).toBe(0)
      const reported = r.dropReports.reduce((a: number, d: { dropped: { spool_error?: number } }) => a + (d.dropped.spool_error ?? 0), 0)
      expect(reported).toBe(r.final.dropped.spool_error)
      // Life goes on without a spool: new events within the queue's bound are delivered.
      expect(r.storedAfter).toBe(r.after)
      expect(r.report.lost).toBe(0)
    }, 30_000)
  }

  it('the directory becomes possible during the outage: the spool opens and takes the overflow from then on', async () => {
    const blocker = join(mkdtempSync(join(root, 'later-')), 'spool')
    writeFileSync(blocker, 'not a directory yet')
    const r = await run({ spool: blocker, total: 5_000, unblock: blocker, thenTotal: 5_000, after: 150 })
    const down = r.down as Stats
    const unblocked = r.unblocked as Stats
    expect(r.returnedIds).toBe(10_000)
    expect(down.dropped.spool_error).toBeGreaterThanOrEqual(5_000 - HELD)
    // After the file is gone: the spool is open, the new overflow is spooled, not dropped.
    expect(unblocked.sinks[0].spool?.error).toBeUndefined()
    expect(unblocked.spooled).toBeGreaterThanOrEqual(5_000 - HELD)
    expect(unblocked.dropped.spool_error).toBe(down.dropped.spool_error)
    // The store comes back: everything spooled is delivered; dropped + stored = logged.
    expect(r.flushedUp).toBe(true)
    expect(r.storedDown + down.dropped.spool_error).toBe(10_000)
    expect(r.duplicates).toBe(0)
    expect(r.storedAfter).toBe(r.after)
    expect(r.report.lost).toBe(0)
    expect(r.report.spoolPendingBytes).toBe(0)
  }, 30_000)
})
