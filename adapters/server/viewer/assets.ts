/**
 * The viewer page's assets (HTML shell, script, stylesheet). In the package, tsup's build replaces
 * this module with the page built by `build.mjs` (see `viewerAssetsPlugin`), so nothing is read or
 * built at run time. From source (tests, tsx) the page is bundled with esbuild on first use.
 */
export interface ViewerAssets {
  html: string
  js: string
  css: string
  /** Short content hash: cache busting and ETag. */
  version: string
}

export const PREBUILT: ViewerAssets | undefined = undefined

export async function loadViewerAssets(): Promise<ViewerAssets> {
  if (PREBUILT) return PREBUILT
  const { buildViewerAssets } = await import('./build.mjs')
  return buildViewerAssets()
}
