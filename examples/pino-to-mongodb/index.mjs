// A node service logging with pino straight into MongoDB, as MADSci Events.
//
//   npm install madsci-events pino
//   EVENT_DB_URL=mongodb://localhost:27017 node index.mjs
//
// EVENT_DB_URL is MADSci's variable for the Event Manager's database; the events go to its
// database (EVENT_DATABASE_NAME, default madsci_events), collection `events`, exactly as the
// Python Event Manager stores them, so it (and its dashboards) can read them.
import pino from 'pino'
import { handleShutdown } from 'madsci-events'

const logger = pino(
  { level: 'debug' },
  pino.transport({
    target: 'madsci-events/transport',
    options: {
      mongodb: { url: process.env.EVENT_DB_URL ?? 'mongodb://localhost:27017', database: process.env.EVENT_DATABASE_NAME },
    },
  }),
)
// On SIGTERM or Ctrl-C: deliver what is queued (what the store cannot take in time is spooled
// to .madsci/spool and sent by the next start), then end as the signal would have.
handleShutdown(logger)

// Ownership (MADSci `source`): a child logger per node; ids are ULIDs.
const node = logger.child({ node_id: '01JRB6Y0000000000000000005' })
node.info({ event_type: 'node_start' }, 'liquid handler online')

const workflow = node.child({ workflow_id: '01JRB6Y0000000000000000009' })
workflow.info({ event_type: 'workflow_start', plate: 'P-001' }, 'transfer workflow started')
for (let step = 1; step <= 3; step++) {
  workflow.debug({ event_type: 'workflow_step_start', step }, `step ${step} started`)
  workflow.info({ event_type: 'workflow_step_complete', step, volume_ul: 50 * step }, `step ${step} done`)
}
workflow.warn({ tip_count: 3 }, 'tips running low')
try {
  throw new Error('gripper did not close', { cause: new Error('pressure 0.2 bar below 1.5 bar') })
} catch (err) {
  // `alert: true` makes the Event Manager (and madsci-events notifiers) send an alert.
  workflow.error({ err, event_type: 'workflow_abort', alert: true }, 'transfer workflow failed')
}
node.info({ event_type: 'node_stop' }, 'liquid handler going offline')
// The process ends here; the transport delivers the rest inside pino's exit window.
