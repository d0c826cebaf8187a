import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, scratch, writeEventFile } from './helpers.js'

/**
 * Every command says what it wrote, on stderr when stdout carries the data: export (count,
 * source, format, destination), report, backup (count, size, and the directory on stdout, for
 * scripts), restore. `backup` printed nothing on success.
 */
const dir = scratch('says')
const events = join(dir, 'events.ndjson')
writeEventFile(events, 25)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('each command says what it wrote', () => {
  it('export to stdout: the data on stdout, the summary on stderr', async () => {
    const res = await runCli(['export', '--file', events, '--format', 'ndjson'], { cwd: dir })
    expect(res.code).toBe(0)
    expect(res.stdout.trim().split('\n')).toHaveLength(25)
    expect(res.stderr).toBe(`exported 25 events from ${events} as NDJSON to stdout\n`)
    const one = await runCli(['export', '--file', events, '--from', '2025-01-06T00:00:24'], { cwd: dir })
    expect(one.stderr).toBe(`exported 1 event from ${events} as CSV to stdout\n`)
  })

  it('report: to stdout and to a file', async () => {
    const res = await runCli(['report', 'sessions', '--file', events], { cwd: dir })
    expect(res.code).toBe(0)
    expect(JSON.parse(res.stdout)).toHaveProperty('report_metadata')
    expect(res.stderr).toBe(`wrote the sessions report of ${events} as JSON to stdout\n`)
    const svg = join(dir, 'periods.svg')
    const toFile = await runCli(['report', 'periods', '--file', events, '--from', '2025-01-05', '--to', '2025-01-08', '--format', 'svg', '-o', svg], { cwd: dir })
    expect(toFile.code, toFile.stderr).toBe(0)
    expect(toFile.stdout).toBe('')
    expect(toFile.stderr).toBe(`wrote the periods report of ${events} as SVG to ${svg}\n`)
    expect(readFileSync(svg, 'utf8')).toMatch(/^<\?xml/)
  })

  it('backup: the count and size on stderr, the new directory on stdout; restore says where it restores and how many', async () => {
    const backups = join(dir, 'backups')
    const res = await runCli(['backup', '--file', events, '--dir', backups, '--description', 'before upgrade'], { cwd: dir })
    expect(res.code, res.stderr).toBe(0)
    const made = readdirSync(backups)
    expect(made).toHaveLength(1)
    expect(made[0]).toMatch(/^madsci_events_backup_\d{8}_\d{6}_\d{6}_before_upgrade$/)
    expect(res.stdout).toBe(`${join(backups, made[0])}\n`)
    const meta = JSON.parse(readFileSync(join(backups, made[0], 'backup_metadata.json'), 'utf8'))
    expect(res.stderr).toBe(`backed up 25 events (${meta.backup_size} bytes) from ${events} to:\n`)

    const target = join(dir, 'restored.ndjson')
    const restored = await runCli(['restore', join(backups, made[0]), '--file', target], { cwd: dir })
    expect(restored.code, restored.stderr).toBe(0)
    expect(restored.stdout).toBe(`restored 25 events from ${join(backups, made[0])}\n`)
    expect(restored.stderr).toBe(`restoring into ${target}\n`)
    expect(existsSync(target)).toBe(true)
  })
})
