// The viewer page's build step: esbuild bundles page/main.ts (and what it imports, including the
// event types from src/event) into one minified script, and page/app.css into one stylesheet.
// Used two ways, so the page shipped is the page tested:
// - at package build time, `viewerAssetsPlugin()` (in tsup.config.ts) replaces
//   adapters/server/viewer/assets.ts with the built page as string constants;
// - from source (tests, tsx), assets.ts calls `buildViewerAssets()` on first use.
// Plain .mjs so tsup's config and the tests load it without a build.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const page = join(here, 'page')

/** Browsers the page targets: anything from 2020 on (EventSource, CSS variables, dialog from 2022). */
const TARGET = ['chrome90', 'firefox90', 'safari15']

/**
 * Build the page: `{ html, js, css, version }`. `version` is a short hash of the three, used for
 * cache busting (`app.js?v=`) and as the assets' ETag.
 */
export async function buildViewerAssets({ minify = true } = {}) {
  const { build } = await import('esbuild')
  const common = { bundle: true, write: false, minify, target: TARGET, logLevel: 'silent', legalComments: 'none', charset: 'utf8' }
  const [js, css, html] = await Promise.all([
    build({ ...common, entryPoints: [join(page, 'main.ts')], format: 'iife', platform: 'browser' }),
    build({ ...common, entryPoints: [join(page, 'app.css')], loader: { '.css': 'css' } }),
    readFile(join(page, 'index.html'), 'utf8'),
  ])
  const assets = { html, js: js.outputFiles[0].text, css: css.outputFiles[0].text }
  const version = createHash('sha256').update(assets.html).update(assets.js).update(assets.css).digest('hex').slice(0, 12)
  return { ...assets, version }
}

/**
 * An esbuild plugin (tsup's `esbuildPlugins`) that swaps assets.ts for a module holding the built
 * page, so the package carries the page inside its server bundle and needs no files at run time.
 */
export function viewerAssetsPlugin() {
  let built
  return {
    name: 'madsci-viewer-assets',
    setup(b) {
      b.onLoad({ filter: /[\\/]adapters[\\/]server[\\/]viewer[\\/]assets\.ts$/ }, async () => {
        built ??= buildViewerAssets()
        const assets = await built
        return {
          loader: 'ts',
          contents:
            `/* The viewer page, built by adapters/server/viewer/build.mjs at package build time. */\n` +
            `export const PREBUILT = ${JSON.stringify(assets)};\n` +
            `export async function loadViewerAssets() { return PREBUILT }\n`,
        }
      })
    },
  }
}
