import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
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

  it('installs the madsci-events command, which runs from the package (its code split in chunks)', () => {
    const bin = join(project, 'node_modules', '.bin', 'madsci-events')
    const help = spawnSync(bin, ['--help'], { cwd: project, encoding: 'utf8', env: cleanEnv() })
    expect(help.stderr).toBe('')
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('Commands:')
    const missing = spawnSync(bin, ['export', '--file', join(project, 'none.ndjson')], { cwd: project, encoding: 'utf8', env: cleanEnv() })
    expect([missing.status, missing.stderr]).toEqual([1, `madsci-events export: no event file at ${join(project, 'none.ndjson')}\n`])
  })

  it('ships the MIT LICENSE package.json names', () => {
    const dir = join(project, 'node_modules', 'madsci-events')
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).license).toBe('MIT')
    const license = readFileSync(join(dir, 'LICENSE'), 'utf8')
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} madsci-events contributors\n/)
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND')
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

/**
 * Types for every resolver: a small TypeScript consumer in the scratch project imports the three
 * entries and is type-checked with this repository's compiler under `moduleResolution` node10
 * (the old `node`, which ignores `exports` and needs `typesVersions`), node16 (as ESM and as
 * CommonJS) and bundler. An `@ts-expect-error` on a wrong option proves the types are real (an
 * entry resolved to `any` would make it unused, an error).
 */
const CONSUMER = `
import { createEventLogger, type EventLoggerOptions } from 'madsci-events'
import transport, { validateTransportOptions, type MadsciTransportOptions } from 'madsci-events/transport'
import { createServer, type ServerSettings } from 'madsci-events/server'

const options: EventLoggerOptions = { file: 'events.ndjson' }
const logger = createEventLogger(options)
logger.warn('pump stalled', { pump: 'A' })
const t: MadsciTransportOptions = validateTransportOptions({ file: 'events.ndjson' })
const build: typeof transport = transport
const port: ServerSettings['server_url'] = 'http://localhost:8001'
const server = createServer({ settings: { server_url: port } })
// @ts-expect-error an unknown option: only reported when the types were found
createEventLogger({ notAnOption: true })
// @ts-expect-error settings are typed
createServer({ settings: { max_body_bytes: 'big' } })
export const used = [logger, t, build, server]
`

/** `skipLibCheck: false` once per declaration flavour (.d.ts through ESM, .d.cts through CommonJS): a type our declarations use but users lack would fail there. */
const RESOLVERS: Array<{ name: string; file: string; compilerOptions: Record<string, unknown> }> = [
  { name: 'node10 (moduleResolution: node, CommonJS)', file: 'consumer.ts', compilerOptions: { module: 'commonjs', moduleResolution: 'node', esModuleInterop: true, skipLibCheck: true } },
  { name: 'node16, ESM (.mts)', file: 'consumer.mts', compilerOptions: { module: 'node16', moduleResolution: 'node16', skipLibCheck: false } },
  { name: 'node16, CommonJS (.cts)', file: 'consumer.cts', compilerOptions: { module: 'node16', moduleResolution: 'node16', skipLibCheck: false } },
  { name: 'bundler', file: 'consumer.ts', compilerOptions: { module: 'esnext', moduleResolution: 'bundler', skipLibCheck: true } },
]

/** Type-check the consumer under one resolver (tsc's output with `--traceResolution`). */
function typeCheck(r: (typeof RESOLVERS)[number]): Promise<{ code: number | null; stdout: string }> {
  const dir = join(project, `types-${r.name.replace(/\W+/g, '-')}`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, r.file), CONSUMER)
  const compilerOptions = { target: 'es2022', strict: true, noEmit: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')], ...r.compilerOptions }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: [r.file] }, null, 2))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir, '--traceResolution'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout }))
  })
}

describe('types of the packed package under each moduleResolution', () => {
  // The four compilations run at once (each takes seconds).
  let checks: Array<Promise<{ code: number | null; stdout: string }>>
  beforeAll(() => {
    checks = RESOLVERS.map(typeCheck)
  })
  RESOLVERS.forEach((r, i) => {
    it(r.name, { timeout: 120_000 }, async () => {
      const res = await checks[i]
      const errors = res.stdout.split('\n').filter((l) => /error TS\d+/.test(l))
      expect(errors, errors.join('\n')).toEqual([])
      expect(res.code).toBe(0)
      // Each entry resolved to the package's own declarations in dist/.
      for (const entry of ['madsci-events', 'madsci-events/transport', 'madsci-events/server']) {
        const line = res.stdout.split('\n').find((l) => l.startsWith(`======== Module name '${entry}' was successfully resolved to`))
        expect(line, entry).toMatch(/node_modules\/madsci-events\/dist\/(index|transport|server)\.d\.c?ts'/)
      }
    })
  })
})
