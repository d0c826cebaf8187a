import { defineConfig } from 'tsup'
import { viewerAssetsPlugin } from './adapters/server/viewer/build.mjs'

// One build for every public entry: ESM + CJS + .d.ts.
// The CLI is ESM only (it is run, never imported) and carries a shebang.
// The viewer page (adapters/server/viewer/page) is bundled by esbuild into the server code as strings.
export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      transport: 'transports/pino.ts',
      server: 'adapters/server/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: true,
    shims: true,
    esbuildPlugins: [viewerAssetsPlugin()],
  },
  {
    entry: { cli: 'adapters/cli/index.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    esbuildPlugins: [viewerAssetsPlugin()],
  },
])
