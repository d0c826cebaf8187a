#!/usr/bin/env node
// The server's CPU while a client follows the live stream of a large FileStore:
//
//   node bench/live-filestore.mjs [--events 200000,1000000] [--seconds 10] [--json bench/results/live-filestore.json]
//
// createServer on a FileStore holding `--events` events (written before it starts), 50 events/s
// posted through the API, measured over `--seconds` after an 8 s warm-up, each condition in a fresh
// process: with one client on `GET /events/stream` against the baseline, the same without a client.
// Without change streams the live hub polls the store every 500 ms for what other writers append;
// that poll must cost what was written since the last one, not the store's size (before the
// after-id index it re-read the whole store: 91 % of a core at 200 000 events vs 13 % without a client).
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { buildForBench } from './lib/build.mjs'
import { runChild } from './lib/child.mjs'
import { describeMachine, machineInfo } from './lib/machine.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '200000,1000000' },
    seconds: { type: 'string', default: '10' },
    json: { type: 'string', default: join(HERE, 'results', 'live-filestore.json') },
  },
})

await buildForBench()
const machine = machineInfo()
process.stderr.write(`live-filestore: ${describeMachine(machine)}\n`)
const rows = []
for (const events of args.events.split(',').map(Number)) {
  const one = (stream) =>
    runChild(join(HERE, 'cases', 'live-filestore-child.mjs'), { events, stream, seconds: Number(args.seconds) }, { execArgv: ['--max-old-space-size=4096'] })
  const without = await one(false)
  const withClient = await one(true)
  const row = { events, cpuWithClient: withClient.cpuPercent, cpuWithout: without.cpuPercent, ratio: withClient.cpuPercent / without.cpuPercent, streamedBytes: withClient.streamedBytes }
  rows.push(row)
  process.stderr.write(`live-filestore: ${events} events: ${row.cpuWithClient.toFixed(0)} % of a core with a live client, ${row.cpuWithout.toFixed(0)} % without (${row.ratio.toFixed(2)}×)\n`)
}
const table = [
  '| events in the FileStore | server CPU, one live client | baseline: no client | ratio |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.events.toLocaleString('en-US').replace(/,/g, ' ')} | ${r.cpuWithClient.toFixed(0)} % of a core | ${r.cpuWithout.toFixed(0)} % | ${r.ratio.toFixed(2)}× |`),
].join('\n')
process.stdout.write(`${table}\n`)
mkdirSync(dirname(args.json), { recursive: true })
writeFileSync(args.json, `${JSON.stringify({ date: new Date().toISOString(), machine, seconds: Number(args.seconds), rows, table }, null, 2)}\n`)
