// One condition of bench/live-filestore.mjs: {"events": N, "stream": bool, "seconds": S}.
// A FileStore of N events behind createServer, 50 events/s posted, optionally one client on the live
// stream; answers with the process's CPU over S seconds after an 8 s warm-up (LIVE_WARMUP_MS).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BUILD_DIR } from '../lib/build.mjs'
import { childParams, failChild, sendResult, sleep } from '../lib/child.mjs'

async function main() {
  const cfg = childParams()
  const { FileStore, parseEvent, eventToJson } = await import(pathToFileURL(join(BUILD_DIR, 'index.js')).href)
  const { createServer } = await import(pathToFileURL(join(BUILD_DIR, 'server.js')).href)
  const dir = mkdtempSync(join(tmpdir(), 'madsci-live-filestore-'))
  const path = join(dir, 'events.ndjson')
  const lines = []
  for (let i = 0; i < cfg.events; i++) {
    lines.push(eventToJson(parseEvent({ event_type: 'log_info', log_level: 20, event_data: { message: `tick ${i}`, pad: 'x'.repeat(100) } })))
    if (lines.length === 10_000) {
      writeFileSync(path, `${lines.join('\n')}\n`, { flag: 'a' })
      lines.length = 0
    }
  }
  if (lines.length) writeFileSync(path, `${lines.join('\n')}\n`, { flag: 'a' })
  // The live hub re-reads the last 5 s of ids on each poll (for other instances' late writes): let
  // the history written just now age past that, or the first polls would re-read all of it.
  await sleep(6000)
  const server = createServer({ store: new FileStore(path, { maxFiles: 0 }), settings: { server_url: 'http://127.0.0.1:0' } })
  const { url } = await server.listen()
  const base = url.endsWith('/') ? url : `${url}/`
  const ctl = new AbortController()
  let streamed = 0
  if (cfg.stream) {
    const res = await fetch(new URL('events/stream', base), { signal: ctl.signal })
    const reader = res.body.getReader()
    ;(async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          streamed += value.length
        }
      } catch {}
    })()
  }
  let posted = 0
  const timer = setInterval(() => {
    fetch(new URL('event', base), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event_type: 'log_info', log_level: 20, event_data: { message: `live ${posted++}` } }),
    }).catch(() => {})
  }, 20)
  await sleep(Number(process.env.LIVE_WARMUP_MS ?? 8000)) // warm-up: the first poll indexes the store once
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const streamedBefore = streamed
  await sleep(cfg.seconds * 1000)
  const c = process.cpuUsage(c0)
  const ms = performance.now() - t0
  clearInterval(timer)
  ctl.abort()
  await server.close()
  rmSync(dir, { recursive: true, force: true })
  await sendResult({ cpuPercent: ((c.user + c.system) / 1000 / ms) * 100, streamedBytes: streamed - streamedBefore, posted })
  process.exit(0)
}

main().catch(failChild)
