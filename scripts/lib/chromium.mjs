// Chromium for the viewer's browser tests: Debian's `chromium` package, driven by playwright-core
// (`npx playwright install` cannot download browsers on these machines). Plain ESM; Node builtins only.
//
//   findChromium()                 → { path } when a usable Chromium is there, else { path: null, reason }
//   ensureChromium({ log? })       → the same, after trying `apt-get install -y chromium` when missing
//   CHROMIUM_ARGS                  → the command-line flags the tests launch it with
//
// CLI: node scripts/lib/chromium.mjs   (installs if needed, prints the outcome)
//
// `MADSCI_CHROMIUM` names another binary (for example a distribution that installs elsewhere).
// The test command (scripts/test.mjs) calls ensureChromium() before vitest and passes the outcome
// on as MADSCI_CHROMIUM (found) or MADSCI_CHROMIUM_MISSING (the reason), so the browser tests
// either run or say exactly why they were skipped.
import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'

/** Where Debian's chromium package puts the browser. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium'

/** Headless, sandbox-free (containers, root), nothing fetched from the network by the browser itself. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
]

/** How long apt-get may take (a download of ~100 MB on a slow mirror). */
const INSTALL_TIMEOUT_MS = 10 * 60_000

function executable(path) {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The browser to use, or why there is none. No installation. */
export function findChromium(env = process.env) {
  const path = env.MADSCI_CHROMIUM || DEFAULT_CHROMIUM
  if (!executable(path)) return { path: null, reason: `no Chromium at ${path}; install Debian's package with \`apt-get install -y chromium\` (npm test does this when it runs as root)` }
  // The binary must start: a half-installed package leaves a path that fails.
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, HOME: process.env.HOME ?? '/tmp' } })
  if (r.status !== 0) return { path: null, reason: `${path} --version failed (${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop()})` }
  return { path, version: r.stdout.trim() }
}

function apt(args, log) {
  log(`  $ apt-get ${args.join(' ')}`)
  const r = spawnSync('apt-get', args, {
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  })
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ')
  return { ok: r.status === 0, detail: r.error ? r.error.message : `exit ${r.status}: ${tail}` }
}

/**
 * Chromium for the tests: found, or installed with apt-get (as root, non-interactive; one
 * `apt-get update` and a second try when the first install fails), or the reason it cannot be.
 */
export function ensureChromium({ log = (line) => process.stdout.write(`${line}\n`) } = {}) {
  const found = findChromium()
  if (found.path) return found
  if (process.env.MADSCI_CHROMIUM) return found
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { path: null, reason: `${found.reason}; not root, so the test command cannot install it (run \`sudo apt-get install -y chromium\`)` }
  }
  if (spawnSync('apt-get', ['--version'], { encoding: 'utf8' }).status !== 0) {
    return { path: null, reason: `${found.reason}; apt-get is not available on this machine` }
  }
  log('Chromium for the viewer browser tests is missing: installing Debian\'s chromium package with apt-get (a minute or two, once per machine)')
  const started = Date.now()
  let r = apt(['install', '-y', 'chromium'], log)
  if (!r.ok) {
    const u = apt(['update'], log)
    if (!u.ok) return { path: null, reason: `apt-get update failed (${u.detail}); the Debian package registry may be unreachable` }
    r = apt(['install', '-y', 'chromium'], log)
  }
  if (!r.ok) return { path: null, reason: `apt-get install chromium failed (${r.detail})` }
  const after = findChromium()
  if (after.path) log(`Chromium installed in ${Math.round((Date.now() - started) / 1000)} s: ${after.version}`)
  return after
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = ensureChromium()
  if (r.path) process.stdout.write(`${r.version} at ${r.path}\n`)
  else {
    process.stderr.write(`Chromium unavailable: ${r.reason}\n`)
    process.exitCode = 1
  }
}
