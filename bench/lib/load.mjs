// The library as the bench uses it: the private build in bench/.build (see build.mjs).
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BUILD_DIR } from './build.mjs'

const url = (f) => pathToFileURL(join(BUILD_DIR, f)).href

export function buildFile(f) {
  return join(BUILD_DIR, f)
}

export async function loadCore() {
  if (!existsSync(join(BUILD_DIR, 'index.js'))) throw new Error(`No bench build in ${BUILD_DIR}; run node bench/run.mjs (it builds first) or node bench/lib/build.mjs`)
  return import(url('index.js'))
}

export async function loadServer() {
  return import(url('server.js'))
}

/** The transport's path for pino's `target` (the same module `madsci-events/transport` resolves to, from this build). */
export const TRANSPORT_TARGET = join(BUILD_DIR, 'transport.js')

/** A module's export from the core build or the optional entry, or undefined when it has not landed. */
async function findExport(entry, name) {
  const core = await loadCore()
  if (typeof core[name] === 'function') return core[name]
  if (existsSync(join(BUILD_DIR, `${entry}.js`))) {
    const m = await import(url(`${entry}.js`))
    if (typeof m[name] === 'function') return m[name]
  }
  return undefined
}

/** `createAlertDispatcher` (issue 6), or undefined. */
export function loadAlertDispatcher() {
  return findExport('notify', 'createAlertDispatcher')
}

/** The three report functions of the analyzers (issue 7) and `eventsReader`, or undefined when any is missing. */
export async function loadReports() {
  const names = ['sessionUtilizationReport', 'utilizationPeriodsReport', 'userUtilizationReport', 'eventsReader']
  const fns = {}
  for (const n of names) {
    fns[n] = await findExport('analyze', n)
    if (!fns[n]) return undefined
  }
  return fns
}

/** The analyzers' module of the build (its optional exports), or an empty object. */
export async function loadAnalyzeModule() {
  if (existsSync(join(BUILD_DIR, 'analyze.js'))) return import(url('analyze.js'))
  return {}
}
