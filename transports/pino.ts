import { writeSync } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Writable } from 'node:stream'
import { workerData } from 'node:worker_threads'
import build from 'pino-abstract-transport'
import { ConfigError } from '../src/errors.js'
import { parseLevel } from '../src/event/levels.js'
import { createLoggerCore, resolveSpool } from '../src/logger/create.js'
import type { LoggerCore } from '../src/logger/logger.js'
import type { CloseReport, PipelineStats } from '../src/pipeline/pipeline.js'
import { type LineMapOptions, lineLevel, mapPinoLine, mapTextLine } from './map-line.js'
import { loggerOptionsFor, type MadsciTransportOptions, TRANSPORT_DEFAULTS, validateTransportOptions } from './options.js'
import { summaryEvent, summaryLine, type TransportCounts } from './summary.js'

export { validateTransportOptions, TRANSPORT_DEFAULTS, MAX_CLOSE_TIMEOUT_MS, type MadsciTransportOptions } from './options.js'
export { mapPinoLine, lineLevel, normalizeError, type LineMapOptions } from './map-line.js'

/**
 * The pino transport: `pino({ transport: { target: 'madsci-events/transport', options } })`.
 *
 * A thin adapter: each pino line becomes a MADSci Event (`map-line.ts`) pushed into the same
 * pipeline `createEventLogger()` builds — same sinks, spool, retries, overflow policy and stats.
 *
 * - Start: options are checked and the sinks built before pino is told the worker is ready, so a
 *   bad option (or an unwritable file sink) fails on the main thread with a `ConfigError`.
 * - Memory: the worker holds at most the sinks' bounded queues. With overflow `block` it stops
 *   reading (pino keeps the lines in its own buffer meanwhile); with `spool` the rest goes to disk;
 *   with the drop policies lines are dropped, counted and reported.
 * - `logger.flush(cb)`: resolves when the lines written so far are delivered, or after
 *   `closeTimeoutMs` (they stay queued; a flush never fails the transport).
 * - Close (pino ends the transport at exit, or `handleShutdown(logger)` on SIGTERM/SIGINT):
 *   delivers for up to `closeTimeoutMs` counted from that moment, inside pino's 10 s exit window,
 *   then spools the rest; a MADSci event (DEBUG) carries the totals, and a line on stderr says how
 *   many events were left in the spool, refused, dropped or lost, whenever any were.
 */
export default async function madsciTransport(rawOptions?: MadsciTransportOptions) {
  try {
    return await startTransport(rawOptions)
  } catch (err) {
    // Said here too: a program that exits at once never hears of the worker's error otherwise.
    say(`madsci-events transport: cannot start: ${(err as Error).message}\n`)
    return failedDestination(err as Error)
  }
}

/**
 * A destination that reports `err` through thread-stream's error path: the worker marks the
 * shared state as failed at once, so pino's main thread fails fast (its flushSync no longer waits
 * 10 s for a worker that never started) and gets the error as the stream's `error` event.
 */
function failedDestination(err: Error): Writable {
  const dest = new Writable({
    write(_chunk, _encoding, callback) {
      callback()
    },
  })
  setImmediate(() => dest.emit('error', err))
  return dest
}

async function startTransport(rawOptions?: MadsciTransportOptions) {
  const options = validateTransportOptions(rawOptions)
  const loggerOptions = loggerOptionsFor(options)
  // Throws ConfigError for bad options or environment variables: pino reports it on the main thread.
  const { core, source } = createLoggerCore(loggerOptions)
  try {
    await checkFileSinks(core.pipeline.stats())
  } catch (err) {
    await core.close({ timeoutMs: 0 }).catch(() => undefined)
    throw err
  }
  const minLevel = options.minLevel === undefined ? 0 : (parseLevel(options.minLevel, { aliases: true }) as number)
  const keepPinoFields = options.keepPinoFields ?? TRANSPORT_DEFAULTS.keepPinoFields
  const closeTimeoutMs = options.closeTimeoutMs ?? TRANSPORT_DEFAULTS.closeTimeoutMs
  const spoolDir = spoolRoot(loggerOptions, core.pipeline.stats())
  // Records a previous process left in the spool are delivered by this one (counted as delivered).
  const inheritedSpool = core.pipeline.stats().sinks.some((s) => (s.spool?.pendingBytes ?? 0) > 0)
  const counts: TransportCounts = { lines: 0, below_min_level: 0, unparsed_lines: 0, invalid_lines: 0 }
  const started = Date.now()
  let endRequestedAt: number | undefined
  let busy = false

  const pinoWillSendConfig =
    (rawOptions as { pinoWillSendConfig?: boolean } | undefined)?.pinoWillSendConfig === true ||
    (workerData as { workerData?: { pinoWillSendConfig?: boolean } } | undefined)?.workerData?.pinoWillSendConfig === true

  let lineStream: (NodeJS.ReadableStream & { readableLength: number }) | undefined
  const destination = await build(
    async (stream) => {
      lineStream = stream as unknown as typeof lineStream
      // The close deadline counts from the moment pino ends the stream (its exit window starts then).
      const end = stream.end.bind(stream) as (...args: unknown[]) => unknown
      ;(stream as unknown as { end: (...args: unknown[]) => unknown }).end = (...args: unknown[]) => {
        endRequestedAt ??= Date.now()
        return end(...args)
      }
      const s = stream as unknown as { levels?: { labels?: Record<number, string> }; messageKey?: string; errorKey?: string }
      const mapOptions: LineMapOptions = {
        labels: s.levels?.labels,
        messageKey: s.messageKey,
        errorKey: s.errorKey,
        timestampMode: core.timestampMode,
        keepPinoFields,
        source,
      }
      // Lines that are not JSON (a text-formatting pipeline stage before us) are kept as INFO events.
      stream.on('unknown', (text: unknown) => {
        if (typeof text !== 'string' || text.trim() === '') return
        counts.unparsed_lines++
        if (20 >= minLevel) core.pipeline.push(mapTextLine(text, mapOptions))
      })
      for await (const line of stream) {
        busy = true
        counts.lines++
        try {
          const level = lineLevel(line as Record<string, unknown>, mapOptions.labels)
          if (level < minLevel) {
            counts.below_min_level++
            continue
          }
          if (!core.pipeline.push(mapPinoLine(line as Record<string, unknown>, mapOptions, level))) {
            // Overflow `block`: stop reading until the blocking sinks have room; pino buffers meanwhile.
            while (!core.pipeline.hasCapacity() && !core.pipeline.closed) await sleep(5)
          }
        } catch (err) {
          // A line that cannot be mapped must not stop the transport: count and report it.
          counts.invalid_lines++
          core.pipeline.emit('error', err as Error, { stage: 'transport-map' })
        } finally {
          busy = false
        }
      }
    },
    {
      expectPinoConfig: pinoWillSendConfig,
      async close() {
        const startedClose = endRequestedAt ?? Date.now()
        const deadline = startedClose + closeTimeoutMs
        // Deliver what is queued with most of the window; the last part is for spooling the rest.
        const reserve = Math.min(1000, closeTimeoutMs * 0.2)
        await core.pipeline.flush({ timeoutMs: Math.max(0, deadline - reserve - Date.now()) }).catch(() => undefined)
        core.pipeline.push(summaryEvent(core.pipeline.stats(), counts, source, core.timestampMode, started))
        let report: CloseReport
        try {
          report = await core.close({ timeoutMs: Math.max(50, deadline - Date.now()) })
        } catch (err) {
          say(`madsci-events transport: closing failed: ${(err as Error).message}\n`)
          return
        }
        const line = summaryLine(core.pipeline.stats(), report, { spoolDir, inheritedSpool, elapsedMs: Date.now() - startedClose })
        if (line) say(line)
      },
    },
  )
  // pino's `logger.flush(cb)` reaches this through thread-stream.
  ;(destination as unknown as { flush: () => Promise<void> }).flush = () => flushTransport(core, () => busy || (lineStream?.readableLength ?? 0) > 0, closeTimeoutMs)
  return destination
}

async function flushTransport(core: LoggerCore, reading: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  // Lines already handed to the stream are mapped and queued first.
  while (reading() && Date.now() < deadline) await sleep(1)
  await core.pipeline.flush({ timeoutMs: Math.max(0, deadline - Date.now()) }).catch(() => undefined)
}

/** The file sink is opened at start: an unwritable path is a configuration error, not silent loss. */
async function checkFileSinks(stats: PipelineStats): Promise<void> {
  for (const s of stats.sinks) {
    if (s.sink !== 'file') continue
    try {
      await mkdir(dirname(s.target), { recursive: true })
      const fh = await open(s.target, 'a')
      await fh.close()
    } catch (err) {
      throw new ConfigError('file', `cannot write the event file ${s.target}: ${(err as Error).message}; choose a writable path`)
    }
  }
}

function spoolRoot(options: ReturnType<typeof loggerOptionsFor>, stats: PipelineStats): string | undefined {
  try {
    return resolveSpool(options, process.env, stats.sinks.some((s) => s.sink !== 'file'))?.dir
  } catch {
    return undefined
  }
}

/** Straight to fd 2: a worker's `process.stderr` is relayed through the main thread, which is exiting. */
function say(text: string): void {
  try {
    writeSync(2, text)
  } catch {
    /* stderr closed */
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
