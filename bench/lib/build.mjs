// Builds the package's public entries (ESM, as `npm run build` does, without type declarations)
// into a private directory, so a bench run measures one consistent build and never races with a
// concurrent `npm run build` / `npm test` rewriting dist/.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BUILD_DIR = join(ROOT, 'bench', '.build')

export const OPTIONAL_ENTRIES = { notify: 'src/notify/index.ts', analyze: 'src/analyze/index.ts' }

/** Build src/index.ts, transports/pino.ts and adapters/server/index.ts into bench/.build/. */
export async function buildForBench({ quiet = true } = {}) {
  const { build } = await import('tsup')
  const started = Date.now()
  const entry = {
    index: join(ROOT, 'src/index.ts'),
    transport: join(ROOT, 'transports/pino.ts'),
    server: join(ROOT, 'adapters/server/index.ts'),
  }
  // The alerts and analyzers modules, when present (benchmarked from the same build, so classes
  // are shared with the core).
  for (const [name, file] of Object.entries(OPTIONAL_ENTRIES)) if (existsSync(join(ROOT, file))) entry[name] = join(ROOT, file)
  await build({
    entry,
    outDir: BUILD_DIR,
    format: ['esm'],
    dts: false,
    sourcemap: false,
    clean: true,
    target: 'node20',
    splitting: true,
    shims: true,
    silent: quiet,
    config: false,
    tsconfig: join(ROOT, 'tsconfig.json'),
  })
  for (const f of ['index.js', 'transport.js', 'server.js']) {
    if (!existsSync(join(BUILD_DIR, f))) throw new Error(`The bench build did not produce ${join(BUILD_DIR, f)}`)
  }
  return { dir: BUILD_DIR, ms: Date.now() - started }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await buildForBench({ quiet: false })
  console.log(`built into ${r.dir} in ${r.ms} ms`)
}
