import pino from 'pino'
import { saveAllSync } from './exit.js'
import type { CloseReport } from './pipeline.js'

/**
 * Shutdown handling for a process that logs: on `beforeExit` everything is flushed; on SIGTERM or
 * SIGINT the logger is closed within `timeoutMs` (undelivered events are spooled) and the signal
 * is raised again, so the process ends exactly as it would have — pino alone loses buffered lines
 * on an unhandled SIGTERM. Returns a function that removes the handlers.
 *
 * Accepts our logger (anything with `flush()` and `close()` returning promises), a pino logger
 * whose transport is `madsci-events/transport`, or the transport stream itself (`pino.transport()`):
 * for pino, the transport's worker is ended synchronously (pino's own exit path, which waits up to
 * 10 s for the worker to deliver or spool), then the signal is raised again.
 */

export interface Closable {
  flush(options?: { timeoutMs?: number }): Promise<void>
  close(options?: { timeoutMs?: number }): Promise<CloseReport>
}

/** The parts of pino's ThreadStream used here. */
interface TransportStream {
  flushSync(): void
  end(): void
  closed?: boolean
}

export interface ShutdownOptions {
  /** Deadline for delivery after a signal. 5 s: well inside the 10 s most supervisors wait. */
  timeoutMs?: number
  /** Signals handled. Default SIGTERM and SIGINT. */
  signals?: NodeJS.Signals[]
  /** Called with the close report before the signal is raised again (our logger only). */
  onClose?: (report: CloseReport, signal: NodeJS.Signals) => void
}

function isClosable(t: unknown): t is Closable {
  return typeof (t as Closable)?.flush === 'function' && typeof (t as Closable)?.close === 'function' && !isStream(t)
}

function isStream(t: unknown): t is TransportStream {
  return typeof (t as TransportStream)?.flushSync === 'function' && typeof (t as TransportStream)?.end === 'function'
}

/** The transport stream behind a pino logger, if any. */
function streamOf(t: unknown): TransportStream | undefined {
  if (isStream(t)) return t
  const sym = pino.symbols?.streamSym
  const stream = sym ? (t as Record<symbol, unknown>)?.[sym] : undefined
  return isStream(stream) ? stream : undefined
}

export function handleShutdown(target: Closable | pino.Logger | TransportStream, options: ShutdownOptions = {}): () => void {
  const timeoutMs = options.timeoutMs ?? 5000
  const signals = options.signals ?? ['SIGTERM', 'SIGINT']
  const closable = isClosable(target) ? target : undefined
  const stream = closable ? undefined : streamOf(target)
  if (!closable && !stream) throw new TypeError('handleShutdown() needs a madsci-events logger, a pino logger with a transport, or a pino transport stream')
  let flushing = false
  let closing = false

  const onBeforeExit = (): void => {
    if (!closable) return // pino ends its transport at exit by itself
    // beforeExit fires again after the flush's own work ends; flush once per idle period.
    if (flushing) return
    flushing = true
    closable.flush({ timeoutMs }).then(
      () => {
        flushing = false
      },
      () => {
        flushing = false
      },
    )
  }

  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) return
    closing = true
    if (stream) {
      try {
        if (!stream.closed) {
          stream.flushSync()
          // Blocks until the worker has closed its pipeline (delivered or spooled): pino's exit path.
          stream.end()
        }
      } finally {
        raise(signal)
      }
      return
    }
    const c = closable as Closable
    const hardStop = setTimeout(() => raise(signal), timeoutMs + 1000)
    hardStop.unref()
    c.close({ timeoutMs }).then(
      (report) => {
        clearTimeout(hardStop)
        try {
          options.onClose?.(report, signal)
        } finally {
          raise(signal)
        }
      },
      () => {
        clearTimeout(hardStop)
        raise(signal)
      },
    )
  }

  const raise = (signal: NodeJS.Signals): void => {
    remove()
    // Other loggers of the process save what they hold (the signal skips the `exit` listeners).
    saveAllSync()
    // With our handler gone, the default action (termination by that signal) applies, unless
    // the application has handlers of its own, which then run as they would have.
    process.kill(process.pid, signal)
  }

  const remove = (): void => {
    process.off('beforeExit', onBeforeExit)
    for (const s of signals) process.off(s, onSignal)
  }

  process.on('beforeExit', onBeforeExit)
  for (const s of signals) process.on(s, onSignal)
  return remove
}
