// The same service, logging into a MADSci Event Manager over HTTP (the Python one, or
// `madsci-events serve`).
//
//   npm install madsci-events pino
//   EVENT_SERVER_URL=http://localhost:8001 node index.mjs
//
// The node id comes from MADSci's EVENT_CLIENT_SOURCE__NODE_ID when set (every event's source).
import pino from 'pino'
import { handleShutdown } from 'madsci-events'

const logger = pino(
  pino.transport({
    target: 'madsci-events/transport',
    options: { eventManager: process.env.EVENT_SERVER_URL ?? 'http://localhost:8001' },
  }),
)
handleShutdown(logger)

logger.info({ event_type: 'node_start' }, 'plate reader online')
for (let well = 1; well <= 8; well++) {
  logger.info({ event_type: 'action_complete', well: `A${well}`, absorbance: 0.1 * well }, `read well A${well}`)
}
logger.warn({ lamp_hours: 1950 }, 'lamp near end of life')
logger.info({ event_type: 'node_stop' }, 'plate reader going offline')
