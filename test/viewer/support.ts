import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Page } from 'playwright-core'
// @ts-expect-error plain ESM scripts without type declarations
import { CHROMIUM_ARGS, findChromium } from '../../scripts/lib/chromium.mjs'
import { viewerPlugin } from '../../adapters/server/viewer.js'
import { startServer, type Running, type StartOptions } from '../server/helpers.js'

/**
 * What the viewer's browser tests share: Chromium (Debian's package, through playwright-core), a
 * server with the viewer plugin, and a TCP proxy in front of it that can cut every connection.
 */

/** The browser, or why there is none (the test command installs it or says why it could not). */
export const chromium: { path: string | null; reason?: string; version?: string } = process.env.MADSCI_CHROMIUM_MISSING
  ? { path: null, reason: process.env.MADSCI_CHROMIUM_MISSING }
  : findChromium()

export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

export interface Browser {
  context: BrowserContext
  page(): Promise<Page>
  close(): Promise<void>
}

/** Chromium with a fresh profile directory, removed on close. */
export async function launchBrowser(): Promise<Browser> {
  const { chromium: pw } = await import('playwright-core')
  const profile = mkdtempSync(join(tmpdir(), 'madsci-viewer-chromium-'))
  const context = await pw.launchPersistentContext(profile, {
    executablePath: chromium.path as string,
    headless: true,
    args: CHROMIUM_ARGS as string[],
    viewport: { width: 1400, height: 860 },
    timezoneId: 'UTC',
  })
  return {
    context,
    page: async () => {
      return context.newPage()
    },
    close: async () => {
      await context.close().catch(() => undefined)
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true })
  return join(ARTIFACTS, name)
}

/**
 * A TCP proxy on loopback: the browser talks to the server through it, and the test can drop
 * every connection (as a network failure or a server restart would) and refuse new ones until
 * `resume()`.
 */
export class DroppableProxy {
  readonly #sockets = new Set<Socket>()
  readonly #server: TcpServer
  #refusing = false
  target: number
  port = 0
  /** Connections accepted and forwarded so far. */
  forwarded = 0

  constructor(target: number) {
    this.target = target
    this.#server = createTcpServer((client) => {
      if (this.#refusing) {
        client.destroy()
        return
      }
      this.forwarded++
      const upstream = connect(this.target, '127.0.0.1')
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('close', () => this.#sockets.delete(s))
        s.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream).pipe(client)
    })
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as { port: number }).port
    return `http://127.0.0.1:${this.port}`
  }

  /** Cut every open connection and refuse new ones. */
  drop(): void {
    this.#refusing = true
    for (const s of this.#sockets) s.destroy()
  }

  resume(): void {
    this.#refusing = false
  }

  async close(): Promise<void> {
    this.drop()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/** Our server on FerretDB with the viewer plugin (the server tests' helper). */
export function startViewerServer(name: string, options: StartOptions = {}): Promise<Running> {
  return startServer('ferretdb', `viewer_${name}`, { plugins: [viewerPlugin], ...options })
}

export const LEVEL_OF = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 } as const

/** POST events to the batch route; returns the stored ids in order. */
export async function postBatch(url: string, events: object[], token?: string): Promise<string[]> {
  const res = await fetch(`${url}/events/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(events),
  })
  if (res.status !== 200) throw new Error(`POST /events/batch answered ${res.status}: ${await res.text()}`)
  const results = (await res.json()) as Array<{ event_id: string; status: string; error?: unknown }>
  const bad = results.find((r) => r.status !== 'stored')
  if (bad) throw new Error(`an event was refused: ${JSON.stringify(bad)}`)
  return results.map((r) => r.event_id)
}

/** Ids the page's list holds, newest first (the page's scripting hook). */
export function pageIds(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { madsciViewer: { ids(): string[] } }).madsciViewer.ids())
}

export interface PageStats {
  loaded: number
  shown: number
  received: number
  flushes: number
  renders: number
  rows: number
  connections: number
  state: string
  more: boolean
  aggregate: string
}

export function pageStats(page: Page): Promise<PageStats> {
  return page.evaluate(() => (window as unknown as { madsciViewer: { stats(): PageStats } }).madsciViewer.stats())
}

/** Wait until the page holds exactly `n` events (and say what it held when it did not). */
export async function waitForLoaded(page: Page, n: number, timeout = 30_000): Promise<void> {
  try {
    await page.waitForFunction((n) => (window as unknown as { madsciViewer?: { stats(): { loaded: number } } }).madsciViewer?.stats().loaded === n, n, { timeout, polling: 50 })
  } catch (err) {
    const stats = await pageStats(page).catch(() => null)
    throw new Error(`the page did not reach ${n} events: ${JSON.stringify(stats)} (${(err as Error).message.split('\n')[0]})`)
  }
}

export async function waitForState(page: Page, state: string, timeout = 30_000): Promise<void> {
  await page.waitForFunction((s) => (window as unknown as { madsciViewer?: { stats(): { state: string } } }).madsciViewer?.stats().state === s, state, { timeout, polling: 50 })
}
