// The services a bench run measures against, started once per run and stopped at the end:
// - a MongoDB-compatible server: MONGODB_URL when set (a real MongoDB), otherwise a private
//   FerretDB 1.24.2 (SQLite backend) from scripts/lib/ferretdb.mjs, on loopback;
// - the Python MADSci Event Manager 0.8.1 from PyPI (scripts/lib/python-peer.mjs) on that server;
// - a scratch directory on tmpfs (/dev/shm) for file sinks, so the disk is not what is measured.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureFerretDB, startFerretDB } from '../../scripts/lib/ferretdb.mjs'
import { ensurePythonPeer, startPythonEventManager } from '../../scripts/lib/python-peer.mjs'

/** A scratch directory on tmpfs when there is one (Linux /dev/shm), else the temp dir. */
export function scratchDir(prefix = 'madsci-bench-') {
  let root = tmpdir()
  try {
    mkdirSync('/dev/shm', { recursive: true })
    root = '/dev/shm'
    return mkdtempSync(join(root, prefix))
  } catch {
    return mkdtempSync(join(tmpdir(), prefix))
  }
}

export async function startServices({ python = true, log = () => {} } = {}) {
  const stops = []
  const services = { scratch: scratchDir(), stops }
  stops.push(async () => rmSync(services.scratch, { recursive: true, force: true }))
  try {
    const binary = await ensureFerretDB()
    services.ferretdbBinary = binary
    if (process.env.MONGODB_URL) {
      services.mongoUrl = process.env.MONGODB_URL
      services.mongoKind = 'mongodb'
      services.mongoDescription = 'MongoDB from MONGODB_URL'
    } else {
      log('starting FerretDB...')
      const db = await startFerretDB({ binary, timeoutMs: 60_000 })
      stops.push(() => db.stop())
      services.ferretdb = db
      services.mongoUrl = db.url
      services.mongoKind = 'ferretdb'
      services.mongoDescription = `FerretDB ${db.version} (SQLite backend, data in ${db.dataDir})`
    }
    if (python) {
      log('preparing the Python MADSci peer...')
      const peer = await ensurePythonPeer({ log })
      services.python = peer.python
      services.madsciVersion = peer.version
      const em = await startPythonEventManager({ python: peer.python, mongoUrl: services.mongoUrl, databaseName: `madsci_bench_python_${process.pid}` })
      stops.push(() => em.stop())
      services.pythonEventManager = em
      services.pythonEventManagerUrl = em.url
    }
  } catch (err) {
    await stopServices(services)
    throw err
  }
  return services
}

export async function stopServices(services) {
  for (const stop of services.stops.splice(0).reverse()) await stop().catch(() => undefined)
}
