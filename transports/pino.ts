import { writeSync } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Writable } from 'node:stream'
import { debuglog } from 'node:util'
import { workerData } from 'node:worker_threads'
import build from 'pino-abstract-transport'
import { ConfigError, EventValidationError } from '../src/errors.js'
import { parseLevel } from '../src/event/levels.js'
import { createLoggerCore, resolveSpool } from '../src/logger/create.js'
import { installExitHandling } from '../src/pipeline/exit.js'
import type { LoggerCore } from '../src/logger/logger.js'
import type { OwnershipInfo } from '../src/event/model.js'
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
 * - `logger.flush(cb)`: calls back when the lines written so far are delivered, or after
 *   `flushTimeoutMs` (they stay queued; a flush never fails the transport).
 * - Close (pino ends the transport at exit; on SIGTERM/SIGINT too when the main thread imports
 *   `madsci-events/transport` (see below) or creates an event logger, whose default signal handling
 *   ends the process through its exit path, or calls `handleShutdown(logger)`):
 *   delivers for up to `closeTimeoutMs` counted from that moment, inside pino's 10 s exit window,
 *   then spools the rest; a MADSci event (DEBUG) carries the totals, and a line on stderr says how
 *   many events were left in the spool, refused, dropped or lost, whenever any were (on every
 *   close with NODE_DEBUG=madsci-events).
 */
// Imported in the main thread (`import 'madsci-events/transport'`, the one line a pino program adds
// for it), SIGTERM and SIGINT end the process through its exit path, where pino ends its transports
// (pipeline/exit.ts); a worker thread never sees signals itself. In the worker: the exit listener.
installExitHandling()

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
 * 10 s for a worker that never started) and gets the error as the stream's `error` event. The
 * error is emitted as soon as thread-stream listens for it, before it tells the main thread the
 * worker is ready: the main thread stays alive until the error arrives and ends with it (exit
 * code 1), even when the program has nothing else to do.
 */
function failedDestination(err: Error): Writable {
  const dest = new Writable({
    write(_chunk, _encoding, callback) {
      callback()
    },
  })
  let emitted = false
  const emit = (): void => {
    if (emitted) return
    emitted = true
    dest.emit('error', err)
  }
  const on = dest.on.bind(dest)
  dest.on = ((event: string | symbol, listener: (...args: unknown[]) => void) => {
    on(event, listener)
    if (event === 'error') emit()
    return dest
  }) as typeof dest.on
  // Nobody listening (pino's multi-target worker): an uncaught error in the worker, which pino reports too.
  setImmediate(emit)
  return dest
}

/** What the parts of a running transport share. */
interface Running {
  core: LoggerCore
  source: OwnershipInfo
  minLevel: number
  keepPinoFields: boolean
  closeTimeoutMs: number
  flushTimeoutMs: number
  spoolDir: string | undefined
  /** The spool held events of an earlier process at start (they count as delivered too). */
  inheritedSpool: boolean
  counts: TransportCounts
  startedAt: number
  /** When pino ended the stream: the close deadline counts from here (pino's exit window starts then). */
  endRequestedAt: number | undefined
  /** A line is being handled (mapped, pushed, or waiting for room). */
  busy: boolean
}

async function startTransport(rawOptions?: MadsciTransportOptions) {
  const options = validateTransportOptions(rawOptions)
  const loggerOptions = loggerOptionsFor(options)
  // Throws ConfigError for bad options or environment variables: pino reports it on the main thread.
  let created: ReturnType<typeof createLoggerCore>
  try {
    created = createLoggerCore(loggerOptions)
  } catch (err) {
    // Ownership values that are not ULIDs (the `source` option or EVENT_CLIENT_SOURCE__*).
    if (err instanceof EventValidationError) throw new ConfigError('source', err.message)
    throw err
  }
  const { core, source } = created
  try {
    await checkFileSinks(core.pipeline.stats())
  } catch (err) {
    await core.close({ timeoutMs: 0 }).catch(() => undefined)
    throw err
  }
  const stats = core.pipeline.stats()
  const t: Running = {
    core,
    source,
    minLevel: options.minLevel === undefined ? 0 : (parseLevel(options.minLevel, { aliases: true }) as number),
    keepPinoFields: options.keepPinoFields ?? TRANSPORT_DEFAULTS.keepPinoFields,
    closeTimeoutMs: options.closeTimeoutMs ?? TRANSPORT_DEFAULTS.closeTimeoutMs,
    flushTimeoutMs: options.flushTimeoutMs ?? TRANSPORT_DEFAULTS.flushTimeoutMs,
    spoolDir: spoolRoot(loggerOptions, stats),
    inheritedSpool: stats.sinks.some((s) => (s.spool?.pendingBytes ?? 0) > 0),
    counts: { lines: 0, below_min_level: 0, unparsed_lines: 0, invalid_lines: 0 },
    startedAt: Date.now(),
    endRequestedAt: undefined,
    busy: false,
  }

  // Closing runs once, whoever asks first: the stream's destroy (pino ended a single target or one
  // of `targets`), or the end of its writable side (as the last stage of a `pipeline`: pino takes
  // the pipeline for done when that side finishes, and ends the worker right after).
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => (closing ??= closeTransport(t))
  let linesDone!: () => void
  const allLinesHandled = new Promise<void>((resolve) => (linesDone = resolve))

  const pinoWillSendConfig =
    (rawOptions as { pinoWillSendConfig?: boolean } | undefined)?.pinoWillSendConfig === true ||
    (workerData as { workerData?: { pinoWillSendConfig?: boolean } } | undefined)?.workerData?.pinoWillSendConfig === true

  let lines: LineStream | undefined
  const destination = await build(
    async (source) => {
      lines = source as unknown as LineStream
      hookEnd(lines, t, () => allLinesHandled.then(close))
      try {
        await consumeLines(lines, t)
      } finally {
        linesDone()
      }
    },
    { expectPinoConfig: pinoWillSendConfig, close },
  )
  // pino's `logger.flush(cb)` reaches this through thread-stream.
  ;(destination as unknown as { flush: () => Promise<void> }).flush = () => flushTransport(core, () => t.busy || (lines?.readableLength ?? 0) > 0, t.flushTimeoutMs)
  return destination
}

/** The line stream pino-abstract-transport hands us (split2: a Transform of parsed lines). */
type LineStream = NodeJS.ReadableStream & {
  readableLength: number
  end: (...args: unknown[]) => unknown
  _final: (callback: (err?: Error | null) => void) => void
  levels?: { labels?: Record<number, string> }
  messageKey?: string
  errorKey?: string
}

/**
 * Note when pino ends the stream, and hold back its 'finish' (the end of the writable side)
 * until `whenDone` resolves: every line handled and closing finished.
 */
function hookEnd(stream: LineStream, t: Running, whenDone: () => Promise<void>): void {
  const end = stream.end.bind(stream)
  stream.end = (...args: unknown[]) => {
    t.endRequestedAt ??= Date.now()
    return end(...args)
  }
  const final = stream._final.bind(stream)
  stream._final = (callback) =>
    final((err) => {
      if (err) return callback(err)
      whenDone().then(() => callback(), callback)
    })
}

/** Map every line to an Event and push it into the pipeline, honouring `block` backpressure. */
async function consumeLines(stream: LineStream, t: Running): Promise<void> {
  const { core, counts, minLevel } = t
  const mapOptions: LineMapOptions = {
    labels: stream.levels?.labels,
    messageKey: stream.messageKey,
    errorKey: stream.errorKey,
    timestampMode: core.timestampMode,
    keepPinoFields: t.keepPinoFields,
    source: t.source,
  }
  // Lines that are not JSON (a text-formatting pipeline stage before us) are kept as INFO events.
  stream.on('unknown', (text: unknown) => {
    if (typeof text !== 'string' || text.trim() === '') return
    counts.unparsed_lines++
    if (20 >= minLevel) core.pipeline.push(mapTextLine(text, mapOptions))
  })
  for await (const line of stream as AsyncIterable<Record<string, unknown>>) {
    t.busy = true
    counts.lines++
    try {
      const level = lineLevel(line, mapOptions.labels)
      if (level < minLevel) {
        counts.below_min_level++
        continue
      }
      if (!core.pipeline.push(mapPinoLine(line, mapOptions, level))) {
        // Overflow `block`: stop reading until the blocking sinks have room; pino buffers meanwhile.
        while (!core.pipeline.hasCapacity() && !core.pipeline.closed) await sleep(5)
      }
    } catch (err) {
      // A line that cannot be mapped must not stop the transport: count and report it.
      counts.invalid_lines++
      core.pipeline.emit('error', err as Error, { stage: 'transport-map' })
    } finally {
      t.busy = false
    }
  }
}

/**
 * Deliver for up to `closeTimeoutMs` from the moment pino ended the stream (most of it flushing,
 * the last part for spooling what is left), log the summary event, close the pipeline, and say
 * on stderr what was not delivered, if anything.
 */
async function closeTransport(t: Running): Promise<void> {
  const { core } = t
  const startedClose = t.endRequestedAt ?? Date.now()
  const deadline = startedClose + t.closeTimeoutMs
  const reserve = Math.min(1000, t.closeTimeoutMs * 0.2)
  // Not waiting for a store known to be down: what it has not taken is spooled at once.
  await core.pipeline.settle({ timeoutMs: Math.max(0, deadline - reserve - Date.now()) })
  core.pipeline.push(summaryEvent(core.pipeline.stats(), t.counts, t.source, core.timestampMode, t.startedAt))
  let report: CloseReport
  try {
    report = await core.close({ timeoutMs: Math.max(50, deadline - Date.now()) })
  } catch (err) {
    say(`madsci-events transport: closing failed: ${(err as Error).message}\n`)
    return
  }
  const line = summaryLine(core.pipeline.stats(), report, {
    spoolDir: t.spoolDir,
    inheritedSpool: t.inheritedSpool,
    elapsedMs: Date.now() - startedClose,
    // NODE_DEBUG=madsci-events (Node's debuglog convention): the totals line on every close.
    always: debuglog('madsci-events').enabled,
  })
  if (line) say(line)
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
