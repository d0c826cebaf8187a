import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { afterAll, describe, expect, it } from 'vitest'
import { newUlid } from '../../src/event/ulid.js'
import { loadViewerAssets } from '../../adapters/server/viewer/assets.js'
import { viewerAssetsPlugin } from '../../adapters/server/viewer/build.mjs'
import { prettyJson } from '../../adapters/server/viewer/page/format.js'
import { parseSourceText } from '../../adapters/server/viewer/page/filters.js'
import { STORE_KINDS, startServer, type Running } from '../server/helpers.js'
import { viewerPlugin } from '../../adapters/server/viewer.js'
import { postBatch } from './support.js'

/**
 * The viewer plugin without a browser: the page and its assets (public, cache-busted, under a
 * strict CSP), the history route the page pages with (filters as the live stream's, newest first,
 * `before` cursor, token required), the gap-free handoff from a history page to the live stream
 * under concurrent ingest, the packaged build (assets embedded by the tsup plugin), and the exact
 * JSON indentation of the detail view.
 */

const running: Running[] = []
afterAll(async () => {
  for (const r of running) await r.close().catch(() => undefined)
})

async function serve(kind: 'ferretdb' | 'file', name: string, settings: Record<string, unknown> = {}): Promise<Running> {
  const r = await startServer(kind, `viewer_${name}`, { plugins: [viewerPlugin], settings })
  running.push(r)
  return r
}

interface Page {
  events: Array<Record<string, unknown> & { _id: string }>
  more: boolean
  live_cursor: string | null
}

async function history(url: string, params: Record<string, string> = {}, token?: string): Promise<Page> {
  const res = await fetch(`${url}/ui/api/events?${new URLSearchParams(params)}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  if (res.status !== 200) throw new Error(`history answered ${res.status}: ${await res.text()}`)
  return (await res.json()) as Page
}

/** A minimal SSE reader over fetch: collects `id:`s of `event` messages until aborted. */
function readStream(url: string): { ids: string[]; opened: Promise<void>; close(): void } {
  const ids: string[] = []
  const ac = new AbortController()
  let markOpen: () => void = () => undefined
  const opened = new Promise<void>((r) => (markOpen = r))
  void (async () => {
    const res = await fetch(url, { signal: ac.signal })
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buf = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buf += value
      if (buf.includes(': live')) markOpen()
      let cut: number
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut)
        buf = buf.slice(cut + 2)
        const id = /^id: (.+)$/m.exec(block)
        if (id && /^event: event$/m.test(block)) ids.push(id[1])
      }
    }
  })().catch(() => undefined)
  return { ids, opened, close: () => ac.abort() }
}

describe('viewer page and assets', () => {
  it('serves the page at /, /ui and /ui/ with asset URLs relative to it, under a strict CSP', async () => {
    const r = await serve('file', 'page')
    const assets = await loadViewerAssets()
    for (const [path, prefix] of [['/', ''], ['/ui', ''], ['/ui/', '../']] as const) {
      const res = await fetch(`${r.url}${path}`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      const csp = res.headers.get('content-security-policy') ?? ''
      expect(csp).toContain("default-src 'none'")
      expect(csp).toContain("script-src 'self'")
      expect(csp).toContain("connect-src 'self'")
      const html = await res.text()
      expect(html).toContain(`<script defer src="${prefix}ui/app.js?v=${assets.version}"></script>`)
      expect(html).toContain(`<link rel="stylesheet" href="${prefix}ui/app.css?v=${assets.version}">`)
      // Nothing from elsewhere.
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//)
    }
    const js = await fetch(`${r.url}/ui/app.js`)
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const etag = js.headers.get('etag')
    expect(etag).toBe(`"${assets.version}"`)
    expect(await js.text()).toBe(assets.js)
    expect((await fetch(`${r.url}/ui/app.js`, { headers: { 'if-none-match': etag as string } })).status).toBe(304)
    const css = await fetch(`${r.url}/ui/app.css`)
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8')
    expect(await css.text()).toBe(assets.css)
    const icon = await fetch(`${r.url}/favicon.ico`)
    expect(icon.headers.get('content-type')).toBe('image/svg+xml')
    expect(await icon.text()).toMatch(/^<svg /)
    const head = await fetch(`${r.url}/`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    // The script references no other origin either (the bundle includes everything it uses).
    expect(assets.js).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/)
  })

  it('keeps the page public and the data behind the token when auth is on', async () => {
    const token = `t-${newUlid()}`
    const r = await serve('file', 'auth', { auth_token: token })
    for (const path of ['/', '/ui', '/ui/', '/ui/app.js', '/ui/app.css', '/favicon.ico']) expect((await fetch(`${r.url}${path}`)).status, path).toBe(200)
    expect((await fetch(`${r.url}/ui/api/events`)).status).toBe(401)
    expect((await fetch(`${r.url}/ui/api/events`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401)
    expect((await history(r.url, {}, token)).events).toEqual([])
  })

  it('embeds the page in the packaged build (the tsup plugin), identical to the one built from source', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'madsci-viewer-bundle-'))
    try {
      const out = join(dir, 'viewer.mjs')
      await build({
        entryPoints: [fileURLToPath(new URL('../../adapters/server/viewer/assets.ts', import.meta.url))],
        bundle: true,
        platform: 'node',
        format: 'esm',
        outfile: out,
        plugins: [viewerAssetsPlugin()],
        logLevel: 'silent',
      })
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
      const { readFileSync } = await import('node:fs')
      const text = readFileSync(out, 'utf8')
      expect(text).not.toContain('build.mjs')
      expect(text).not.toContain('esbuild')
      const mod = (await import(pathToFileURL(out).href)) as { loadViewerAssets(): Promise<{ version: string; js: string; css: string; html: string }> }
      const packaged = await mod.loadViewerAssets()
      expect(packaged).toEqual(await loadViewerAssets())
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe.each(STORE_KINDS)('viewer history route (%s store)', (kind) => {
  it('filters as the live stream does, newest first by id, and pages with before/more', async () => {
    const r = await serve(kind, `history_${kind}`)
    const nodeA = newUlid()
    const nodeB = newUlid()
    const ids = await postBatch(r.url, [
      { event_type: 'node_error', log_level: 40, source: { node_id: nodeA } },
      { event_type: 'log_info', log_level: 20, source: { node_id: nodeA } },
      { event_type: 'node_error', log_level: 50, source: { node_id: nodeB }, alert: true },
      { event_type: 'action_failed', log_level: 40, source: { node_id: nodeA } },
      { event_type: 'log_debug', log_level: 10, source: { node_id: nodeB } },
    ])
    const all = await history(r.url)
    expect(all.events.map((e) => e._id)).toEqual([...ids].reverse())
    expect(all.more).toBe(false)
    expect(Object.keys(all.events[0])[0]).toBe('_id')
    expect((await history(r.url, { min_level: '40' })).events.map((e) => e._id)).toEqual([ids[3], ids[2], ids[0]])
    expect((await history(r.url, { min_level: 'ERROR', event_type: 'node_error' })).events.map((e) => e._id)).toEqual([ids[2], ids[0]])
    expect((await history(r.url, { event_type: 'node_error,action_failed', 'source.node_id': nodeA })).events.map((e) => e._id)).toEqual([ids[3], ids[0]])
    expect((await history(r.url, { alerts_only: 'true' })).events.map((e) => e._id)).toEqual([ids[2]])

    // Pages of 2, following `before`.
    const seen: string[] = []
    let before: string | undefined
    for (;;) {
      const p = await history(r.url, { number: '2', ...(before ? { before } : {}) })
      seen.push(...p.events.map((e) => e._id))
      if (!p.more) break
      before = p.events[p.events.length - 1]._id
    }
    expect(seen).toEqual([...ids].reverse())

    // Archived events are left out unless asked for, as GET /events does.
    const archive = await fetch(`${r.url}/events/archive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event_ids: [ids[4]] }) })
    expect(archive.status).toBe(200)
    expect((await history(r.url)).events.map((e) => e._id)).not.toContain(ids[4])
    expect((await history(r.url, { include_archived: 'true' })).events.map((e) => e._id)).toContain(ids[4])

    // Bad parameters: FastAPI-shaped 422s.
    for (const q of ['number=1001', 'number=x', 'min_level=LOUD', 'event_type=not_a_type']) {
      const res = await fetch(`${r.url}/ui/api/events?${q}`)
      expect(res.status, q).toBe(422)
      expect(await res.json()).toHaveProperty('detail')
    }
  })
})

describe('viewer history → live handoff', () => {
  it('a stream opened at the history page\'s live_cursor continues it without gaps while events keep arriving', async () => {
    const r = await serve('ferretdb', 'handoff')
    const posted: string[] = []
    let stop = false
    // Four writers posting small batches back to back, so events are always in flight (accepted,
    // not yet stored) while the history is read and the stream opens.
    let i = 0
    const writer = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) posted.push(...(await postBatch(r.url, Array.from({ length: 5 }, () => ({ event_type: 'log_info', log_level: 20, event_data: { i: i++ } })))))
      }),
    )
    while (posted.length < 50) await new Promise((res) => setTimeout(res, 10))
    const page = await history(r.url, { number: '1000' })
    expect(page.live_cursor).not.toBeNull()
    const stream = readStream(`${r.url}/events/stream?last_event_id=${page.live_cursor}`)
    await stream.opened
    while (posted.length < page.events.length + 200) await new Promise((res) => setTimeout(res, 10))
    stop = true
    await writer
    const last = posted[posted.length - 1]
    while (!stream.ids.includes(last)) await new Promise((res) => setTimeout(res, 10))
    stream.close()
    const got = new Set([...page.events.map((e) => e._id), ...stream.ids])
    expect(posted.filter((id) => !got.has(id))).toEqual([])
    expect(got.size).toBe(posted.length)
  })
})

describe('viewer page helpers', () => {
  it('indents JSON text without re-serializing it', () => {
    const samples = [
      '{"_id":"01J","event_data":{"2":"b","10":"a","z":[1,2.50,1e3,-0.0,null,true,false],"s":"a, b: {c} [d] \\"e\\" \\\\ \\u00e9"},"empty":{},"list":[],"nested":[[],[{}]]}',
      '[]',
      '"plain"',
      '{"a":{"b":{"c":{}}}}',
    ]
    for (const text of samples) {
      const pretty = prettyJson(text)
      expect(JSON.parse(pretty)).toEqual(JSON.parse(text))
      // Only whitespace was added, outside strings: removing it gives the same text back.
      expect(pretty.replace(/\n */g, '').replace(/": /g, '":')).toBe(text)
    }
    expect(prettyJson('{"a":[1,{"b":2}],"c":{}}')).toBe('{\n  "a": [\n    1,\n    {\n      "b": 2\n    }\n  ],\n  "c": {}\n}')
  })

  it('reads source filters as field=value pairs and says what is wrong with a bad one', () => {
    expect(parseSourceText('node_id=01JA  source.workcell_id=01JB, lab_id:01JC')).toEqual({ node_id: '01JA', workcell_id: '01JB', lab_id: '01JC' })
    expect(parseSourceText('  ')).toEqual({})
    expect(() => parseSourceText('node_id')).toThrow('"node_id" is not field=value')
  })
})
