import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, scratch, writeEventFile } from './helpers.js'

/**
 * `--bom` on export and report CSV: the file starts with a UTF-8 byte-order mark (for Excel),
 * only when asked; the help says when to use it.
 */
const dir = scratch('bom')
const events = join(dir, 'events.ndjson')
writeEventFile(events, 5, (i) => ({ message: `sample ${i} at 37 °C, 5 µL` }))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const BOM = Buffer.from([0xef, 0xbb, 0xbf])

describe('--bom', () => {
  it('export: only with --bom, to a file or stdout', async () => {
    const plain = join(dir, 'plain.csv')
    const marked = join(dir, 'marked.csv')
    expect((await runCli(['export', '--file', events, '-o', plain], { cwd: dir })).code).toBe(0)
    expect((await runCli(['export', '--file', events, '--bom', '-o', marked], { cwd: dir })).code).toBe(0)
    const a = readFileSync(plain)
    const b = readFileSync(marked)
    expect(a.subarray(0, 3).equals(BOM)).toBe(false)
    expect(b.equals(Buffer.concat([BOM, a]))).toBe(true)
    expect(b.toString('utf8')).toContain('37 °C, 5 µL')
    const stdout = await runCli(['export', '--file', events, '--bom'], { cwd: dir })
    expect(stdout.stdout.startsWith('\uFEFFevent_id,')).toBe(true)
  })

  it('report --format csv: only with --bom', async () => {
    const plain = await runCli(['report', 'users', '--file', events, '--format', 'csv'], { cwd: dir })
    const marked = await runCli(['report', 'users', '--file', events, '--format', 'csv', '--bom'], { cwd: dir })
    expect([plain.code, marked.code]).toEqual([0, 0])
    expect(plain.stdout.startsWith('\uFEFF')).toBe(false)
    // (but for the time of generation)
    const stable = (t: string) => t.replace(/^(.*Generated.*)$/gm, '')
    expect(marked.stdout.startsWith('\uFEFF=== ')).toBe(true)
    expect(stable(marked.stdout)).toBe(`\uFEFF${stable(plain.stdout)}`)
  })

  it('the help says what it is for', async () => {
    for (const command of ['export', 'report']) {
      const help = (await runCli([command, '--help'], { cwd: dir })).stdout.replace(/\s+/g, ' ')
      expect(help).toContain('--bom CSV only: start the file with a UTF-8 byte-order mark. Use it for files opened in Excel')
      expect(help).toContain('Off by default')
    }
  })
})
