// One life of the logging process in the SIGKILL soak: replays what the previous life left in
// the spool, then logs events numbered from `from` at a steady pace until it is killed, reporting
// after each chunk over IPC how many it has logged and how many of those are in the spool's file
// ("acknowledged as spooled": written, so they survive a SIGKILL of the process).
// With `drain: true` it logs nothing, delivers what the spool holds, closes and reports.
import { loadCore } from '../lib/load.mjs'

const p = JSON.parse(process.argv[2])
const { createEventLogger } = await loadCore()
const logger = createEventLogger({
  eventManager: { url: p.url, mode: 'batch' },
  spool: { dir: p.spool, mode: 'always', fsync: p.fsync ?? 'interval' },
  batch: { maxEvents: 500 },
  retry: { baseMs: 20, maxMs: 200 },
  env: {},
  onWarning: () => {},
})
logger.on('error', () => {})

if (p.drain) {
  await logger.flush({ timeoutMs: 60_000 })
  const stats = logger.stats()
  const report = await logger.close()
  process.send({ type: 'result', value: { stats, report } })
  process.disconnect()
} else {
  let i = p.from
  process.send({ type: 'ready' })
  const tick = () => {
    for (let k = 0; k < p.chunk; k++, i++) logger.info('soak', { seq: i, round: p.round })
    const s = logger.stats().sinks[0]
    // In `always` mode every event goes through the spool in order: the first (spooled - unwritten) are in the file.
    const written = s.spooled - (s.spool?.unwritten ?? 0)
    process.send({ type: 'progress', logged: i - p.from, written, delivered: s.delivered, replayed: s.replayed })
    setTimeout(tick, p.intervalMs)
  }
  tick()
}
