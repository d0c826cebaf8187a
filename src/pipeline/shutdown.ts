import type { CloseReport } from './pipeline.js'

/**
 * Shutdown handling for a process that logs: on `beforeExit` everything is flushed; on SIGTERM or
 * SIGINT the logger is closed within `timeoutMs` (undelivered events are spooled) and the signal
 * is raised again, so the process ends exactly as it would have — pino alone loses buffered lines
 * on an unhandled SIGTERM. Returns a function that removes the handlers.
 */

export interface Closable {
  flush(options?: { timeoutMs?: number }): Promise<void>
  close(options?: { timeoutMs?: number }): Promise<CloseReport>
}

export interface ShutdownOptions {
  /** Deadline for delivery after a signal. 5 s: well inside the 10 s most supervisors wait. */
  timeoutMs?: number
  /** Signals handled. Default SIGTERM and SIGINT. */
  signals?: NodeJS.Signals[]
  /** Called with the close report before the signal is raised again. */
  onClose?: (report: CloseReport, signal: NodeJS.Signals) => void
}

export function handleShutdown(target: Closable, options: ShutdownOptions = {}): () => void {
  const timeoutMs = options.timeoutMs ?? 5000
  const signals = options.signals ?? ['SIGTERM', 'SIGINT']
  let flushing = false
  let closing = false

  const onBeforeExit = (): void => {
    // beforeExit fires again after the flush's own work ends; flush once per idle period.
    if (flushing) return
    flushing = true
    target.flush({ timeoutMs }).then(
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
    const hardStop = setTimeout(() => raise(signal), timeoutMs + 1000)
    hardStop.unref()
    target.close({ timeoutMs }).then(
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
