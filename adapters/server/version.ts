import { createRequire } from 'node:module'

/** This package's version (reported by `/health` and the `x-madsci-events` header). */
export const VERSION: string = (() => {
  try {
    const require = createRequire(import.meta.url)
    for (const p of ['../../package.json', '../package.json', './package.json']) {
      try {
        const pkg = require(p) as { name?: string; version?: string }
        if (pkg.name === 'madsci-events' && pkg.version) return pkg.version
      } catch {
        /* try the next layout (source vs dist) */
      }
    }
  } catch {
    /* fall through */
  }
  return '0.0.0'
})()
