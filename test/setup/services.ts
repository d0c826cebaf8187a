import type { TestProject } from 'vitest/node'
// @ts-expect-error plain ESM scripts without type declarations
import { ensureFerretDB, startFerretDB } from '../../scripts/lib/ferretdb.mjs'
// @ts-expect-error plain ESM scripts without type declarations
import { ensurePythonPeer, startPythonEventManager } from '../../scripts/lib/python-peer.mjs'

/**
 * Starts the real services the suite uses, once, and stops them at the end:
 * - a MongoDB-compatible server: `MONGODB_URL` if the user set it (a real MongoDB), otherwise
 *   FerretDB 1.24.2 built from Go modules and started on loopback with its SQLite backend;
 * - the Python MADSci Event Manager from PyPI, against that database (its own database name).
 * Tests read them with `inject('mongoUrl')` etc. and use their own database names.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    mongoUrl: string
    mongoKind: 'ferretdb' | 'mongodb'
    ferretdbBinary: string
    python: string
    pythonEventManagerUrl: string
    madsciVersion: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = []
  const teardown = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined)
  }
  try {
    let mongoUrl = process.env.MONGODB_URL
    let banner: string
    const binary: string = await ensureFerretDB()
    project.provide('ferretdbBinary', binary)
    if (mongoUrl) {
      project.provide('mongoKind', 'mongodb')
      banner = `MongoDB from MONGODB_URL (${mongoUrl.replace(/\/\/[^@/]*@/, '//***@')})`
    } else {
      const db = await startFerretDB({ binary, timeoutMs: 60_000 })
      stops.push(() => db.stop())
      mongoUrl = db.url as string
      project.provide('mongoKind', 'ferretdb')
      banner = `FerretDB ${db.version} (SQLite backend) at ${db.url}`
    }
    project.provide('mongoUrl', mongoUrl)

    const peer = await ensurePythonPeer()
    const em = await startPythonEventManager({ python: peer.python, mongoUrl, databaseName: `madsci_events_python_${process.pid}` })
    stops.push(() => em.stop())
    project.provide('python', peer.python)
    project.provide('pythonEventManagerUrl', em.url)
    project.provide('madsciVersion', peer.version)
    process.stdout.write(`\nTest services: ${banner}; Python MADSci Event Manager ${em.version} (madsci-event-manager from PyPI) at ${em.url}\n\n`)
  } catch (err) {
    await teardown()
    throw err
  }
  return teardown
}
