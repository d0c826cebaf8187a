import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'

/**
 * The benchmark suite's smoke run: `node bench/run.mjs --smoke` runs every benchmark at a tiny
 * volume against the suite's FerretDB and Python Event Manager and must finish cleanly. Nothing
 * here looks at a time or a rate (speed is measured by `npm run bench`, never asserted in tests);
 * it checks that every benchmark produced its figures, and that no event was lost on the way.
 */

const dir = mkdtempSync(join(tmpdir(), 'madsci-bench-smoke-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Entry {
  group: string
  name: string
  unit: string | null
  runs: Array<number | null>
  median: number | null
  baseline: { median: number | null } | null
  goal: string | null
  met: boolean | null
  status?: string
  notes?: string
}

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bench/run.mjs', ...args], {
      cwd: join(__dirname, '..', '..'),
      env: {
        ...process.env,
        MADSCI_BENCH_MONGO_URL: inject('mongoUrl'),
        MADSCI_BENCH_PYTHON: inject('python'),
        MADSCI_BENCH_PYTHON_EM_URL: inject('pythonEventManagerUrl'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('npm run bench -- --smoke', () => {
  it('runs every benchmark at a tiny volume and reports each figure', { timeout: 240_000 }, async () => {
    const json = join(dir, 'smoke.json')
    const res = await runBench(['--smoke', '--json', json])
    expect(res.code, `bench/run.mjs --smoke failed:\n${res.stderr.slice(-4000)}`).toBe(0)
    expect(res.stdout).toContain('madsci-events benchmarks (SMOKE')
    const doc = JSON.parse(readFileSync(json, 'utf8')) as { smoke: boolean; machine: Record<string, unknown>; entries: Entry[]; failures: unknown[] }
    expect(doc.smoke).toBe(true)
    expect(doc.failures).toEqual([])
    expect(doc.machine).toMatchObject({ node: process.version, cores: expect.any(Number), ramGiB: expect.any(Number), cpu: expect.any(String) })

    const groups = new Set(doc.entries.map((e) => e.group))
    for (const g of ['hot path', 'mongodb', 'http', 'memory', 'shutdown', 'alerts', 'analyzers', 'scaling']) expect(groups, `no ${g} entries`).toContain(g)
    // The other helpers' scripts: present and working, or reported as not available.
    for (const g of ['transport', 'server']) expect(groups, `no ${g} row`).toContain(g)
    const failed = doc.entries.filter((e) => e.status === 'failed')
    expect(failed, JSON.stringify(failed)).toEqual([])

    for (const e of doc.entries.filter((x) => !x.status)) {
      // A smoke run judges no goal.
      expect(e.met, e.name).toBeNull()
      expect(e.runs.length, e.name).toBeGreaterThan(0)
      expect(Number.isFinite(e.median), `${e.name}: median ${e.median}`).toBe(true)
      if (e.baseline) expect(Number.isFinite(e.baseline.median), `${e.name}: baseline`).toBe(true)
    }
    // Correctness, not speed: nothing lost by our paths.
    const lossRows = doc.entries.filter((e) => /events lost/.test(e.name) && !/Python EventClient/.test(e.name))
    expect(lossRows.length).toBeGreaterThanOrEqual(5)
    for (const e of lossRows) expect(e.runs.every((x) => x === 0), `${e.name}: ${JSON.stringify(e.runs)}`).toBe(true)
  })
})
