// A batch job that logs 100 000 events with pino and exits; every one arrives.
//
//   npm install madsci-events pino
//   node index.mjs                                         → .madsci/events/events.ndjson
//   EVENT_DB_URL=mongodb://localhost:27017 node index.mjs  → MongoDB (EVENT_SERVER_URL: an Event Manager)
//
// How nothing is lost:
// - `await flush` waits until the transport has delivered everything logged so far (up to
//   flushTimeoutMs), so the job ends with its events stored, however slow the store;
// - at exit pino gives the transport up to 10 s more; what a store still cannot take by then is
//   written to .madsci/spool/ and sent by the next run (the transport says how many on stderr);
// - `handleShutdown(logger)` does the same when the job is stopped with SIGTERM or Ctrl-C.
import pino from 'pino'
import { handleShutdown } from 'madsci-events'

const COUNT = 100_000
// No sink options: EVENT_DB_URL, else EVENT_SERVER_URL, else the project's NDJSON file.
const logger = pino(pino.transport({ target: 'madsci-events/transport', options: { flushTimeoutMs: 600_000 } }))
handleShutdown(logger)

const started = Date.now()
const job = logger.child({ job: 'plate-scan', batch: 7 })
for (let i = 0; i < COUNT; i++) {
  job.info({ item: i, od600: Math.round(Math.sin(i) * 1000) / 1000 }, 'item processed')
}
job.info({ event_type: 'experiment_complete', items: COUNT }, 'batch done')

await new Promise((resolve) => logger.flush(resolve))
console.log(`logged ${COUNT + 1} events in ${Date.now() - started} ms; all delivered or spooled`)
