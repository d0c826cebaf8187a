// One `serve` instance as a child process, for scale-out runs (scripts/lib/cluster.mjs): loads
// `createServer` from a built server module (dist/server.js, or the bench's build), listens on
// 127.0.0.1, prints `listening http://127.0.0.1:PORT` once ready, and closes gracefully on
// SIGTERM/SIGINT. It exits by itself when its parent goes away (a killed test runner leaves no
// server behind).
//
//   node scripts/lib/serve-child.mjs '{"module":"/abs/dist/server.js","port":0,"settings":{...},"dir":"/tmp/x"}'
import { pathToFileURL } from 'node:url'

const { module: serverModule, port = 0, settings = {}, dir } = JSON.parse(process.argv[2] ?? '{}')
const { createServer } = await import(pathToFileURL(serverModule).href)
// A private HOME and settings directory: nothing of the developer's environment leaks in.
const server = createServer({
  env: { HOME: dir, MADSCI_SETTINGS_DIR: dir },
  settings,
  viewer: false,
  onWarning: (w) => process.stderr.write(`warning ${w.code}: ${w.message}\n`),
  onError: (err, where) => process.stderr.write(`error (${where}): ${err.message}\n`),
})
const { url } = await server.listen(port, '127.0.0.1')
process.stdout.write(`listening ${url}\n`)

let closing = false
const stop = async () => {
  if (closing) return
  closing = true
  await server.close({ timeoutMs: 5000 }).catch(() => undefined)
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent) void stop()
}, 250).unref()
