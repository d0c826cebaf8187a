import { constants } from 'node:os'
import { isMainThread } from 'node:worker_threads'
import { envBool } from '../config/env.js'

/**
 * How the loggers of a process take part in its end, without a call from the program:
 *
 * - `exit` (`process.exit()`, an uncaught exception, an unhandled rejection, the natural end):
 *   every logger writes what it still holds synchronously — a file sink to its file, a network
 *   sink to its spool (the next process replays it).
 * - `beforeExit` (the program has nothing left to do): loggers with work left deliver it, within
 *   their exit deadline (less when the store is known to be down), then spool the rest and let go
 *   of their connections, so the process ends.
 * - SIGTERM and SIGINT, in the main thread, when nothing else listens for the signal: the loggers
 *   deliver within their deadline, then the process exits the way the signal would have ended it
 *   (the `exit` listeners run — pino ends its transports there — and the signal is raised again
 *   with our listener gone: same exit status, `signal` in the parent). A program with a handler of
 *   its own (installed before or after ours, `on` or `once`) keeps full control: we do nothing on
 *   that signal, and its `process.exit()` still saves through `exit`. A second signal during the
 *   drain ends the process at once. `handleSignals: false` or `EVENT_CLIENT_HANDLE_SIGNALS=false`
 *   removes the listeners.
 *
 * One registry per process (on `globalThis`), shared by every copy of the library (ESM and CJS
 * builds loaded side by side), so one signal handler serves them all.
 */

export interface ExitParticipant {
  /** Work an exit would lose or leave undone. */
  pending(): boolean
  /** Deliver within the participant's deadline, save the rest, let go of connections. */
  drain(cause: 'beforeExit' | 'signal'): Promise<void>
  /** Synchronous last resort (`process.on('exit')`). */
  saveSync(): void
  /** The longest `drain()` may take (ms): the process is kept alive that long at most. */
  readonly timeoutMs: number
}

interface Registry {
  participants: Set<ExitParticipant>
  installed: boolean
  signalsOff: boolean
  /** A signal being handled (drain running), and whether the process is being ended. */
  handling: NodeJS.Signals | undefined
  ending: boolean
  draining: boolean
  rounds: number
  /** Signals whose listener (not ours) was removed during the current dispatch: a `once` handler that ran. */
  removedNow: Set<string>
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']
const OURS = Symbol.for('madsci-events.exit-listener')
const KEY = Symbol.for('madsci-events.exit-registry.v1')

const registry: Registry = ((globalThis as Record<symbol, unknown>)[KEY] ??= {
  participants: new Set(),
  installed: false,
  signalsOff: false,
  handling: undefined,
  ending: false,
  draining: false,
  rounds: 0,
  removedNow: new Set(),
}) as Registry

function mark<T extends (...args: never[]) => unknown>(fn: T): T {
  ;(fn as unknown as Record<symbol, boolean>)[OURS] = true
  return fn
}

function isOurs(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, boolean>)[OURS] === true
}

/** Listeners of `signal` other than ours, or a `once` one of them that ran just now. */
function othersListen(signal: NodeJS.Signals): boolean {
  if (registry.removedNow.has(signal)) return true
  return process.rawListeners(signal).some((l) => !isOurs(l) && !isOurs((l as { listener?: unknown }).listener))
}

const onExit = mark((): void => {
  for (const p of registry.participants) {
    try {
      p.saveSync()
    } catch {
      // Nothing can be reported this late; the others still get their turn.
    }
  }
})

/** Hold the process open for at most `ms` while drains run (our own timers and retries never hold it). */
function holdOpen(participants: ExitParticipant[], then: () => void): NodeJS.Timeout {
  const ms = Math.max(0, ...participants.map((p) => p.timeoutMs)) + 1000
  return setTimeout(then, ms)
}

const onBeforeExit = mark((): void => {
  if (registry.draining || registry.handling) return
  const pending = [...registry.participants].filter((p) => p.pending())
  if (pending.length === 0) {
    registry.rounds = 0
    return
  }
  // Each round must make progress (delivered, spooled or given up); a participant that stays
  // pending round after round (a bug) must not keep the process alive forever.
  if (++registry.rounds > 20) return
  registry.draining = true
  const timer = holdOpen(pending, () => undefined)
  void Promise.allSettled(pending.map((p) => p.drain('beforeExit'))).then(() => {
    clearTimeout(timer)
    registry.draining = false
  })
})

const onSignal = mark((signal: NodeJS.Signals): void => {
  if (registry.signalsOff || registry.ending) return
  if (registry.handling) {
    // A second signal while draining: stop waiting.
    end(signal)
    return
  }
  if (othersListen(signal)) return
  registry.handling = signal
  const all = [...registry.participants]
  const timer = holdOpen(all, () => end(signal))
  void Promise.allSettled(all.map((p) => p.drain('signal'))).then(() => {
    clearTimeout(timer)
    end(signal)
  })
})

/**
 * End the process as `signal` would have: the `exit` listeners run (ours saves what is left,
 * pino's end their transports), then the signal is raised again with no listener of ours, so the
 * default action ends the process and the parent sees the signal.
 */
function end(signal: NodeJS.Signals): void {
  if (registry.ending) return
  registry.ending = true
  removeSignalListeners()
  process.on(
    'exit',
    mark(() => {
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    }),
  )
  process.exit(128 + (constants.signals[signal] ?? 15))
}

const onRemoveListener = mark((name: string | symbol, listener: unknown): void => {
  if (typeof name !== 'string' || !SIGNALS.includes(name as NodeJS.Signals) || isOurs(listener)) return
  registry.removedNow.add(name)
  // A `once` listener removes itself just before it runs, within the dispatch of the signal.
  queueMicrotask(() => registry.removedNow.delete(name))
})

function removeSignalListeners(): void {
  for (const s of SIGNALS) for (const l of process.rawListeners(s)) if (isOurs(l)) process.off(s, l as () => void)
  for (const l of process.rawListeners('removeListener')) if (isOurs(l)) process.off('removeListener', l as () => void)
}

function signalsDisabled(env: NodeJS.ProcessEnv): boolean {
  try {
    return envBool(env, 'EVENT_CLIENT_HANDLE_SIGNALS') === false
  } catch {
    return false // a bad value is reported by createEventLogger, which reads it too
  }
}

/**
 * Install the process listeners (once per process). In a worker thread only `exit` (signals and
 * the end of the event loop belong to the main thread).
 */
export function installExitHandling(env: NodeJS.ProcessEnv = process.env): void {
  if (registry.installed) return
  registry.installed = true
  process.on('exit', onExit)
  if (!isMainThread) return
  process.on('beforeExit', onBeforeExit)
  if (signalsDisabled(env)) registry.signalsOff = true
  if (registry.signalsOff) return
  // First in line, so that when it runs every other listener is still there to be seen.
  for (const s of SIGNALS) process.prependListener(s, onSignal)
  process.on('removeListener', onRemoveListener)
}

/** Turn the default signal handling off for the process (`handleSignals: false`). */
export function disableSignalHandling(): void {
  registry.signalsOff = true
  removeSignalListeners()
}

export function registerExitParticipant(p: ExitParticipant, env?: NodeJS.ProcessEnv): void {
  installExitHandling(env)
  registry.participants.add(p)
}

export function unregisterExitParticipant(p: ExitParticipant): void {
  registry.participants.delete(p)
}

/** Save every participant synchronously now (before a signal is raised again by `handleShutdown`). */
export function saveAllSync(): void {
  onExit()
}
