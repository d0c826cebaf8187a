#!/usr/bin/env node
// The test command (`npm test`): builds the package (the transport and examples load it as a user
// would), then runs the whole vitest suite, whose global setup builds and starts the real services
// (FerretDB from Go modules, the Python MADSci Event Manager from PyPI). Extra arguments go to vitest.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureChromium } from './lib/chromium.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const started = Date.now()
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env })

process.stdout.write(`madsci-events tests on Node ${process.version} (${process.platform}/${process.arch})\n`)
const build = run(process.execPath, [join(root, 'node_modules', 'tsup', 'dist', 'cli-default.js'), '--silent'])
if (build.status !== 0) {
  process.stderr.write('The build failed; fix it before the tests can run.\n')
  process.exit(build.status ?? 1)
}
// The viewer's browser tests need Chromium (Debian's package): install it, or tell them why not.
const chromium = ensureChromium()
if (chromium.path) process.env.MADSCI_CHROMIUM = chromium.path
else {
  process.env.MADSCI_CHROMIUM_MISSING = chromium.reason
  process.stdout.write(`The viewer's browser tests will be skipped: ${chromium.reason}\n`)
}
const vitest = run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...process.argv.slice(2)])
process.stdout.write(`Test command finished in ${Math.round((Date.now() - started) / 1000)} s\n`)
process.exit(vitest.status ?? 1)
