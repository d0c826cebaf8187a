'use strict'
// The benchmark's baseline target: pino-mongodb's transport, unchanged, plus a flush() so that
// `logger.flush(cb)` calls back once every line handed to the worker is inserted (pino-mongodb
// inserts them one by one, in order, through a Writable it pipes its line stream into). This lets
// bench/transport-vs-pino-mongodb.mjs time both transports the same way without polling the
// database, which on FerretDB costs a scan of the whole collection per poll.
const pinoMongodb = require('pino-mongodb')

module.exports = async function pinoMongodbFlushable(options) {
  const lines = await pinoMongodb(options)
  lines.flush = async function flush() {
    for (;;) {
      const inserter = lines._readableState.pipes[0]
      if (lines.readableLength === 0 && (!inserter || inserter.writableLength === 0)) return
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  }
  return lines
}
