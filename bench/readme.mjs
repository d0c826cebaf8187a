#!/usr/bin/env node
// Regenerates the README's benchmark table from bench/results/latest.json: everything between
// `<!-- bench:start -->` and `<!-- bench:end -->` in README.md is replaced (the rest of the README
// is left alone; a README without the markers is refused, and a missing README is created with
// just the markers and the table).
//
//   node bench/readme.mjs [--json PATH] [--readme PATH] [--check]
//
// --check: exit 1 when the README's table differs from what the JSON gives (for CI), write nothing.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatBaseline, formatMet, formatRatio, formatValue } from './lib/table.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..')
export const START = '<!-- bench:start -->'
export const END = '<!-- bench:end -->'

const GROUPS = {
  'hot path': 'Hot path: cost of one logging call',
  mongodb: 'MongoDB throughput',
  http: 'HTTP: our sink and server vs the Python client and server',
  server: 'Server adapter vs the Python Event Manager (single POST /event)',
  transport: 'pino transport vs pino-mongodb',
  memory: 'Memory while the store is down',
  shutdown: 'Shutdown: SIGTERM with 100 k queued events',
  alerts: 'Alerts: logging cost with failing notifiers',
  analyzers: 'Analyzers over 1 M stored events',
  scaling: 'Scaling: 1×, 10×, 100× the base volume',
}

const cell = (s) => String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ')

/** The markdown between the markers, from a results document. */
export function renderTable(doc) {
  const m = doc.machine
  const lines = []
  lines.push(`Measured with \`npm run bench\` (\`${doc.command}\`) on ${doc.generatedAt.slice(0, 10)}, in one run of ${Math.round(doc.durationSeconds / 60)} minutes on one machine:`)
  lines.push(`${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.os}, Node ${m.node}${m.commit ? `, commit ${m.commit}` : ''}.`)
  lines.push(`Services: ${doc.services.mongo ?? '—'}${doc.services.pythonEventManager ? `; Python ${doc.services.pythonEventManager}` : ''}. Load average ${m.loadAverageAtStart.join(' / ')} at the start and ${(m.loadAverageAtEnd ?? []).join(' / ')} at the end (other work on the machine skews every figure).`)
  lines.push('')
  lines.push('Each figure is the median of several runs (min–max in brackets); every ratio is against the baseline named next to it, measured in the same run. ' +
    'Goals are printed next to the measured value and judged as measured, met or not. Methods are in `bench/results/latest.json` (`methods`). ' +
    'Reproduce with `npm run bench` (15 to 30 minutes), then `node bench/readme.mjs` to regenerate this table.')
  const groups = [...new Set(doc.entries.map((e) => e.group))].sort((a, b) => Object.keys(GROUPS).indexOf(a) - Object.keys(GROUPS).indexOf(b))
  for (const g of groups) {
    lines.push('')
    lines.push(`**${GROUPS[g] ?? g}**`)
    lines.push('')
    lines.push('| Benchmark | Measured | Baseline (same run) | Ratio | Goal | Met |')
    lines.push('|---|---|---|---|---|---|')
    for (const e of doc.entries.filter((x) => x.group === g)) {
      const name = e.status ? `${e.name} — ${e.notes ?? e.status}` : e.name
      lines.push(`| ${cell(name)} | ${cell(formatValue(e))} | ${cell(formatBaseline(e))} | ${cell(formatRatio(e))} | ${cell(e.goal ?? '')} | ${cell(formatMet(e))} |`)
    }
  }
  const judged = doc.entries.filter((e) => e.met === true || e.met === false)
  lines.push('')
  lines.push(`Goals: ${judged.filter((e) => e.met).length} met, ${judged.filter((e) => !e.met).length} not met, ${doc.entries.filter((e) => e.status === 'not available').length} not available.`)
  return lines.join('\n')
}

function main() {
  const args = process.argv.slice(2)
  const opt = (name, dflt) => {
    const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`))
    if (i < 0) return dflt
    return args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1]
  }
  const jsonPath = opt('--json', join(HERE, 'results', 'latest.json'))
  const readmePath = opt('--readme', join(ROOT, 'README.md'))
  const check = args.includes('--check')
  if (!existsSync(jsonPath)) {
    process.stderr.write(`No results at ${jsonPath}; run \`npm run bench\` first.\n`)
    process.exit(1)
  }
  const doc = JSON.parse(readFileSync(jsonPath, 'utf8'))
  if (doc.smoke) {
    process.stderr.write(`${jsonPath} is a smoke run (tiny volumes); the README table needs a full run (\`npm run bench\`).\n`)
    process.exit(1)
  }
  const block = `${START}\n${renderTable(doc)}\n${END}`
  const current = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : null
  let next
  if (current === null) next = `${block}\n`
  else {
    const a = current.indexOf(START)
    const b = current.indexOf(END)
    if (a < 0 || b < a) {
      process.stderr.write(`${readmePath} has no ${START} … ${END} markers; add them where the benchmark table belongs.\n`)
      process.exit(1)
    }
    next = current.slice(0, a) + block + current.slice(b + END.length)
  }
  if (check) {
    if (next !== current) {
      process.stderr.write(`${readmePath}: the benchmark table is not what ${jsonPath} gives; run node bench/readme.mjs\n`)
      process.exit(1)
    }
    return
  }
  writeFileSync(readmePath, next)
  process.stdout.write(`Benchmark table written to ${readmePath} from ${jsonPath}.\n`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main()
