import { defineConfig } from 'tsup'

// One build for every public entry: ESM + CJS + .d.ts.
// The CLI is ESM only (it is run, never imported) and carries a shebang.
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
  },
  {
    entry: { cli: 'adapters/cli/index.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
])
