import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const fixture = fileURLToPath(new URL('../fixtures/logging-process.ts', import.meta.url))

export interface RunningChild {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves when the child printed READY. */
  ready: Promise<void>
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Start `test/fixtures/logging-process.ts` with a JSON config. */
export function startLoggingProcess(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): RunningChild {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(config)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const ready = new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (out.includes('READY')) resolve()
    }
    child.stdout?.on('data', check)
    void exited.then(() => (out.includes('READY') ? resolve() : reject(new Error(`logging process exited before READY:\n${err}`))))
  })
  return { child, stdout: () => out, stderr: () => err, ready, exited }
}
