import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { cleanEnv, ensureBuilt, readEventFiles, ROOT, runApp, summaries } from './helpers.js'

/**
 * The transport as users get it: the package is packed (`npm pack`) and installed with pino and
 * pino-pretty into a scratch project (from npm's cache when it has them), and small ESM and
 * CommonJS programs there load it by its target string 'madsci-events/transport' — alone, in
 * `targets: [...]` next to pino-pretty and pino/file, and at the end of a `pipeline` after a
 * transform of the project's own. Every line lands in the store (FerretDB or the NDJSON file).
 */
const COUNT = 1000
let project: string
const mongoUrl = inject('mongoUrl')
const database = `t_transport_packaging_${process.pid}`
const client = new MongoClient(mongoUrl)
afterAll(async () => {
  await client.db(database).dropDatabase().catch(() => undefined)
  await client.close()
})

function npm(args: string[], cwd: string): string {
  const res = spawnSync('npm', args, { cwd, encoding: 'utf8', env: cleanEnv() })
  if (res.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${res.status}):\n${res.stdout}\n${res.stderr}`)
  return res.stdout
}

const version = (name: string): string => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version

/** The body both module systems share: log COUNT lines, nothing else. */
const LOG = `
const cfg = JSON.parse(process.argv[2])
for (let i = 0; i < cfg.count; i++) logger.info({ i, run: cfg.run }, 'line ' + i)
`

const PROGRAMS: Record<string, string> = {
  'esm-alone.mjs': `
import pino from 'pino'
import { handleShutdown } from 'madsci-events'
import transport, { validateTransportOptions } from 'madsci-events/transport'
if (typeof transport !== 'function') throw new Error('no default export')
const options = validateTransportOptions(JSON.parse(process.argv[2]).options)
const logger = pino(pino.transport({ target: 'madsci-events/transport', options }))
handleShutdown(logger)
${LOG}`,
  'cjs-alone.cjs': `
const pino = require('pino')
const { handleShutdown } = require('madsci-events')
const { validateTransportOptions } = require('madsci-events/transport')
const options = validateTransportOptions(JSON.parse(process.argv[2]).options)
const logger = pino(pino.transport({ target: 'madsci-events/transport', options }))
handleShutdown(logger)
${LOG}`,
  'esm-targets.mjs': `
import pino from 'pino'
const { options, pretty, raw } = JSON.parse(process.argv[2])
const logger = pino(pino.transport({ targets: [
  { target: 'pino-pretty', options: { destination: pretty, colorize: false } },
  { target: 'pino/file', options: { destination: raw } },
  { target: 'madsci-events/transport', options },
] }))
${LOG}`,
  'cjs-targets.cjs': `
const pino = require('pino')
const { options, pretty, raw } = JSON.parse(process.argv[2])
const logger = pino(pino.transport({ targets: [
  { target: 'pino-pretty', options: { destination: pretty, colorize: false } },
  { target: 'pino/file', options: { destination: raw } },
  { target: 'madsci-events/transport', options },
] }))
${LOG}`,
  'esm-pipeline.mjs': `
import pino from 'pino'
const { options } = JSON.parse(process.argv[2])
const logger = pino(pino.transport({ pipeline: [{ target: './tag-transform.mjs' }, { target: 'madsci-events/transport', options }] }))
${LOG}`,
  'cjs-pipeline.cjs': `
const pino = require('pino')
const { options } = JSON.parse(process.argv[2])
const logger = pino(pino.transport({ pipeline: [{ target: './tag-transform.cjs' }, { target: 'madsci-events/transport', options }] }))
${LOG}`,
  // A pipeline stage of the project's own (pino's documented pattern): adds a field to each line.
  'tag-transform.mjs': `
import build from 'pino-abstract-transport'
import { pipeline, Transform } from 'node:stream'
export default async function () {
  return build((source) => {
    const tag = new Transform({ autoDestroy: true, objectMode: true, transform(line, _enc, cb) { cb(null, JSON.stringify({ ...line, stage: 'esm-tagged' }) + '\\n') } })
    pipeline(source, tag, () => {})
    return tag
  }, { enablePipelining: true })
}
`,
  'tag-transform.cjs': `
const build = require('pino-abstract-transport')
const { pipeline, Transform } = require('node:stream')
module.exports = async function () {
  return build((source) => {
    const tag = new Transform({ autoDestroy: true, objectMode: true, transform(line, _enc, cb) { cb(null, JSON.stringify({ ...line, stage: 'cjs-tagged' }) + '\\n') } })
    pipeline(source, tag, () => {})
    return tag
  }, { enablePipelining: true })
}
`,
}

beforeAll(async () => {
  ensureBuilt()
  const packDir = await mkdtemp(join(tmpdir(), 'madsci-pack-'))
  npm(['pack', '--pack-destination', packDir, '--loglevel=error'], ROOT)
  const tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz')) as string)
  project = await mkdtemp(join(tmpdir(), 'madsci-scratch-'))
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }))
  npm(
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, `pino@${version('pino')}`, `pino-pretty@${version('pino-pretty')}`, `pino-abstract-transport@${version('pino-abstract-transport')}`],
    project,
  )
  for (const [name, text] of Object.entries(PROGRAMS)) writeFileSync(join(project, name), text)
}, 600_000)

async function run(program: string, config: Record<string, unknown>) {
  const r = await runApp(config, { args: [join(project, program), JSON.stringify(config)], cwd: project, env: cleanEnv() })
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return r
}

/** The events of `run` in an NDJSON file: exactly COUNT, each as logged, plus the closing summary. */
function expectLines(events: Array<Record<string, unknown>>, run: string, pid: number, extra: Record<string, unknown> = {}) {
  const mine = events.filter((e) => (e.event_data as { run?: string } | null)?.run === run)
  expect(mine).toHaveLength(COUNT)
  expect(new Set(mine.map((e) => (e.event_data as { i: number }).i)).size).toBe(COUNT)
  for (const e of mine) {
    const { i } = e.event_data as { i: number }
    expect(e).toMatchObject({ event_type: 'log_info', log_level: 20, source: {}, event_data: { message: `line ${i}`, pid, i, run, ...extra } })
  }
  expect(summaries(events)).toHaveLength(1)
}

describe('the packed package in a scratch project', () => {
  it('installs the packed madsci-events with its dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(project, 'node_modules', 'madsci-events', 'package.json'), 'utf8'))
    expect(pkg.name).toBe('madsci-events')
    expect(readdirSync(join(project, 'node_modules', 'madsci-events'))).not.toContain('src')
  })

  it('ESM, alone: pino({ transport: madsci-events/transport }) into MongoDB', { timeout: 120_000 }, async () => {
    const r = await run('esm-alone.mjs', { options: { mongodb: { url: mongoUrl, database }, spool: join(project, 'spool') }, count: COUNT, run: 'esm-alone' })
    const events = (await client.db(database).collection('events').find({}).toArray()) as Array<Record<string, unknown>>
    expectLines(events, 'esm-alone', r.pid)
  })

  it('CommonJS, alone: into the NDJSON file', { timeout: 120_000 }, async () => {
    const file = join(project, 'cjs-alone.ndjson')
    const r = await run('cjs-alone.cjs', { options: { file }, count: COUNT, run: 'cjs-alone' })
    expectLines(readEventFiles(file), 'cjs-alone', r.pid)
  })

  for (const kind of ['esm', 'cjs']) {
    it(`${kind === 'esm' ? 'ESM' : 'CommonJS'}, in targets: [...] next to pino-pretty and pino/file`, { timeout: 120_000 }, async () => {
      const file = join(project, `${kind}-targets.ndjson`)
      const pretty = join(project, `${kind}-pretty.log`)
      const raw = join(project, `${kind}-raw.ndjson`)
      const r = await run(`${kind}-targets.${kind === 'esm' ? 'mjs' : 'cjs'}`, { options: { file }, pretty, raw, count: COUNT, run: `${kind}-targets` })
      expectLines(readEventFiles(file), `${kind}-targets`, r.pid)
      // The other targets got every line too.
      expect(readFileSync(raw, 'utf8').trim().split('\n')).toHaveLength(COUNT)
      const prettyText = readFileSync(pretty, 'utf8')
      expect(prettyText).toMatch(/INFO.*: line 0\n/)
      expect(prettyText).toMatch(/INFO.*: line 999\n/)
    })

    it(`${kind === 'esm' ? 'ESM' : 'CommonJS'}, at the end of a pipeline after a transform of the project`, { timeout: 120_000 }, async () => {
      const file = join(project, `${kind}-pipeline.ndjson`)
      const r = await run(`${kind}-pipeline.${kind === 'esm' ? 'mjs' : 'cjs'}`, { options: { file }, count: COUNT, run: `${kind}-pipeline` })
      expectLines(readEventFiles(file), `${kind}-pipeline`, r.pid, { stage: `${kind}-tagged` })
    })
  }
})
