import type { ViewerAssets } from './assets.js'

export function buildViewerAssets(options?: { minify?: boolean }): Promise<ViewerAssets>
export function viewerAssetsPlugin(): { name: string; setup(build: unknown): void }
