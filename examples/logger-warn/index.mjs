// Plain `logger.warn(...)` in node code, no pino: MADSci's Python-logging-style API.
//
//   npm install madsci-events
//   node index.mjs                                   → .madsci/events/events.ndjson (no server needed)
//   EVENT_SERVER_URL=http://localhost:8001 node index.mjs   → a MADSci Event Manager
//   EVENT_DB_URL=mongodb://localhost:27017 node index.mjs   → MongoDB
import { createEventLogger } from 'madsci-events'

const logger = createEventLogger()

const reading = { celsius: 41.5, setpoint: 37 }
if (reading.celsius > reading.setpoint + 2) {
  // A call appends to an in-memory queue and returns: no I/O, no await.
  logger.warn('incubator temperature above setpoint', reading)
}

// Ownership fields bound once; a MADSci event type picked per call.
const incubator = logger.child({ source: { node_id: '01JRB6Y0000000000000000005' } })
incubator.warning('door open for 30 s', { event_type: 'node_status_update', seconds: 30 })
incubator.error('heater fault', { event_type: 'node_error', code: 'E42', alert: true })

// Deliver before exiting; the report says what was delivered, spooled or lost.
const report = await logger.close()
console.log(`delivered ${report.delivered}, spooled ${report.spooled}, lost ${report.lost}`)
