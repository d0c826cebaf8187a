#!/usr/bin/env node
// `npm run bench`: every benchmark of issue 8, measured in one run on this machine, printed as one
// table and written to bench/results/latest.json (the README's table is generated from it by
// `node bench/readme.mjs`).
//
//   node bench/run.mjs [--smoke] [--only hotpath,mongo,...] [--runs N] [--json PATH] [--full]
//
// --smoke   every benchmark at a tiny volume, once: checks that the bench works (CI); no goal is
//           judged and bench/results/latest.json is not touched (writes bench/results/smoke.json).
// --only    a comma-separated subset of: hotpath, mongo, http, memory, shutdown, alerts, analyzers,
//           transport, server.
// --runs    runs per condition (default 5; fewer at the largest volumes).
// --full    also the 100× volume of the MongoDB throughput (1 M events: ~6 minutes per run on FerretDB).
//
// Services: a private FerretDB (or MONGODB_URL) and the Python MADSci Event Manager from PyPI,
// started for the run; MADSCI_BENCH_MONGO_URL with MADSCI_BENCH_PYTHON (the peer venv's python)
// and MADSCI_BENCH_PYTHON_EM_URL reuse running ones instead (the vitest smoke test passes the
// suite's services).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildForBench, ROOT } from './lib/build.mjs'
import { describeMachine, machineInfo } from './lib/machine.mjs'
import { scratchDir, startServices, stopServices } from './lib/services.mjs'
import { unavailable } from './lib/stats.mjs'
import { printTable } from './lib/table.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const RESULTS = join(HERE, 'results')

export const CASES = ['hotpath', 'mongo', 'http', 'memory', 'shutdown', 'alerts', 'analyzers', 'transport', 'server']

function parseArgs(argv) {
  const a = { smoke: false, only: null, runs: 5, json: null, full: false, build: true }
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]
    const val = () => {
      if (x.includes('=')) return x.slice(x.indexOf('=') + 1)
      if (i + 1 >= argv.length) throw new Error(`${x} needs a value`)
      return argv[++i]
    }
    if (x === '--smoke') a.smoke = true
    else if (x === '--full') a.full = true
    else if (x === '--no-build') a.build = false
    else if (x.startsWith('--only')) a.only = val().split(',').map((s) => s.trim()).filter(Boolean)
    else if (x.startsWith('--runs')) a.runs = Number(val())
    else if (x.startsWith('--json')) a.json = val()
    else if (x === '--help' || x === '-h') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 20).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n')
      process.exit(0)
    } else throw new Error(`unknown argument ${x}; see node bench/run.mjs --help`)
  }
  if (a.only) for (const c of a.only) if (!CASES.includes(c)) throw new Error(`--only: unknown benchmark ${c}; use ${CASES.join(', ')}`)
  if (!Number.isInteger(a.runs) || a.runs < 1) throw new Error('--runs must be an integer ≥ 1')
  return a
}

/**
 * Run one of the other helpers' standalone scripts and read the entries it wrote (its JSON:
 * an array of entries, or { entries: [...] }). A script that documents `--out PATH` is given one in
 * smoke runs, so a smoke run never overwrites its real results.
 */
async function externalScript(ctx, { script, output, group, goal }) {
  const path = join(HERE, script)
  const row = (status, reason) => ({ ...unavailable({ group, name: `${group}: bench/${script}`, reason, goal }), status })
  if (!existsSync(path)) return [row('not available', `not available: bench/${script} is not in this checkout`)]
  const takesOut = /--out\b/.test(readFileSync(path, 'utf8'))
  const outPath = ctx.smoke && takesOut ? join(ctx.scratch, output) : join(RESULTS, output)
  const before = existsSync(outPath) ? readFileSync(outPath, 'utf8') : null
  const args = [...(ctx.smoke ? ['--smoke'] : []), ...(ctx.smoke && takesOut ? ['--out', outPath] : [])]
  ctx.log(`${group}: running node bench/${script} ${args.join(' ')}`)
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [path, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, MADSCI_BENCH_SMOKE: ctx.smoke ? '1' : '', MADSCI_BENCH_BUILD_DIR: join(HERE, '.build') },
    })
    child.on('exit', (c, s) => resolve(s ? `signal ${s}` : c))
    child.on('error', (err) => resolve(err.message))
  })
  if (code !== 0) return [row('failed', `bench/${script} failed (exit ${code})`)]
  if (!existsSync(outPath)) return [row('failed', `bench/${script} wrote no ${relative(ROOT, outPath)}`)]
  const text = readFileSync(outPath, 'utf8')
  if (text === before) return [row('failed', `bench/${script} did not rewrite ${relative(ROOT, outPath)}`)]
  let parsed
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    return [row('failed', `${relative(ROOT, outPath)} is not JSON: ${err.message}`)]
  }
  const list = Array.isArray(parsed) ? parsed : Array.isArray(parsed.entries) ? parsed.entries : []
  if (list.length === 0) return [row('failed', `${relative(ROOT, outPath)} has no entries`)]
  if (parsed.method) ctx.methods[group] = parsed.method
  // Goals are judged here as everywhere: never in a smoke run.
  return list.map((e) => ({ group, ...e, met: ctx.smoke ? null : e.met ?? null, source: `bench/${script}` }))
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const selected = args.only ?? CASES
  const log = (m) => process.stderr.write(`[bench] ${m}\n`)
  const started = new Date()
  const machine = machineInfo()
  log(`${describeMachine(machine)}; load average ${machine.loadAverageAtStart.join(' ')}`)
  if (args.build) {
    const b = await buildForBench()
    log(`built the package into ${relative(ROOT, b.dir)} in ${b.ms} ms`)
  }

  const needsMongo = selected.some((c) => ['mongo', 'http', 'shutdown'].includes(c))
  const needsPython = selected.includes('http')
  const ctx = { smoke: args.smoke, runs: args.runs, full: args.full, log, scratch: scratchDir(), services: null, methods: {} }
  let services = { stops: [] }
  const entries = []
  const failures = []
  const methods = ctx.methods
  try {
    if (needsMongo || needsPython) {
      if (process.env.MADSCI_BENCH_MONGO_URL) {
        services.mongoUrl = process.env.MADSCI_BENCH_MONGO_URL
        services.mongoDescription = 'the MongoDB-compatible server given by MADSCI_BENCH_MONGO_URL'
        services.python = process.env.MADSCI_BENCH_PYTHON
        services.pythonEventManagerUrl = process.env.MADSCI_BENCH_PYTHON_EM_URL
        if (needsPython && !(services.python && services.pythonEventManagerUrl)) {
          throw new Error('MADSCI_BENCH_MONGO_URL is set but MADSCI_BENCH_PYTHON and MADSCI_BENCH_PYTHON_EM_URL are not; set all three or none')
        }
      } else {
        services = await startServices({ python: needsPython, log })
      }
      log(`services: ${services.mongoDescription}${services.pythonEventManagerUrl ? `; Python MADSci Event Manager ${services.madsciVersion ?? ''} at ${services.pythonEventManagerUrl}` : ''}`)
    }
    ctx.services = services
    for (const name of selected) {
      if (name === 'transport' || name === 'server') continue
      const t0 = Date.now()
      try {
        const mod = await import(`./cases/${name}.mjs`)
        if (mod.METHOD) methods[name] = mod.METHOD
        const got = await mod[name](ctx)
        entries.push(...got)
        log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      } catch (err) {
        failures.push({ name, error: err.stack ?? String(err) })
        log(`${name}: FAILED: ${err.stack ?? err}`)
        entries.push({ ...unavailable({ group: name, name: `${name}: failed`, reason: String(err.message ?? err).split('\n')[0] }), status: 'failed' })
      }
    }
  } finally {
    await stopServices(services)
  }
  // The other helpers' scripts start their own services (MADSCI_BENCH_MONGO_URL, when set, is
  // passed on); ours are stopped first so they do not compete for the machine.
  try {
    if (selected.includes('transport')) {
      entries.push(...(await externalScript(ctx, { script: 'transport-vs-pino-mongodb.mjs', output: 'transport.json', group: 'transport', goal: '≥ 20× pino-mongodb' })))
    }
    if (selected.includes('server')) {
      entries.push(...(await externalScript(ctx, { script: 'server-vs-python.mjs', output: 'server.json', group: 'server', goal: '≥ 5× the Python server (single POST)' })))
    }
  } finally {
    rmSync(ctx.scratch, { recursive: true, force: true })
  }

  machine.loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100)
  const result = {
    generatedAt: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    command: `node bench/run.mjs${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    smoke: args.smoke,
    machine,
    services: { mongo: services.mongoDescription ?? null, pythonEventManager: services.madsciVersion ? `madsci-event-manager ${services.madsciVersion} (PyPI)` : null },
    methods,
    entries,
    failures,
  }
  process.stdout.write(`\nmadsci-events benchmarks${args.smoke ? ' (SMOKE: tiny volumes, goals not judged)' : ''} — ${describeMachine(machine)}\n`)
  process.stdout.write(`load average at start ${machine.loadAverageAtStart.join(' ')}, at end ${machine.loadAverageAtEnd.join(' ')}; ${result.durationSeconds} s\n\n`)
  printTable(entries)
  const judged = entries.filter((e) => e.met !== null && e.met !== undefined)
  process.stdout.write(`\nGoals: ${judged.filter((e) => e.met).length} met, ${judged.filter((e) => !e.met).length} not met, ${entries.filter((e) => e.status === 'not available').length} not available.\n`)
  const out = args.json ?? join(RESULTS, args.smoke ? 'smoke.json' : 'latest.json')
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(`${out}.tmp`, `${JSON.stringify(result, null, 2)}\n`)
  renameSync(`${out}.tmp`, out)
  process.stdout.write(`Written to ${relative(process.cwd(), out) || out}. Methods: see "methods" in the JSON.\n`)
  const failed = entries.filter((e) => e.status === 'failed')
  if (failed.length) {
    process.stderr.write(`${failed.length} benchmark(s) failed: ${failed.map((e) => `${e.name} (${e.notes})`).join('; ')}\n`)
    process.exitCode = 1
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack ?? err}\n`)
  process.exit(1)
})
