// Run one measurement in a fresh Node process (clean heap, clean RSS, no JIT state shared between
// conditions). The child gets its parameters as JSON in argv[2] and answers with process.send().
import { fork } from 'node:child_process'

export class BenchChildError extends Error {
  constructor(message, { stderr } = {}) {
    super(message)
    this.name = 'BenchChildError'
    this.stderr = stderr
  }
}

/**
 * Fork `script` with `params`; resolves with the first message the child sends whose `type` is
 * `result` (its `value`). `onMessage` sees every other message (e.g. `ready`), with the child.
 */
export function runChild(script, params, { timeoutMs = 600_000, execArgv = [], env, onMessage } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(script, [JSON.stringify(params)], {
      execArgv: ['--expose-gc', ...execArgv],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      env: { ...process.env, ...env },
    })
    let stderr = ''
    let result
    let settled = false
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d
      if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024)
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      finish(new BenchChildError(`${script} did not finish within ${timeoutMs} ms (killed). stderr:\n${stderr.slice(-2000)}`, { stderr }))
    }, timeoutMs)
    const finish = (err, value) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (err) reject(err)
      else resolve(value)
    }
    child.on('message', (m) => {
      if (m && m.type === 'result') result = m
      else if (m && m.type === 'error') finish(new BenchChildError(`${script} failed: ${m.message}`, { stderr }))
      else onMessage?.(m, child)
    })
    child.on('error', (err) => finish(new BenchChildError(`could not run ${script}: ${err.message}`)))
    child.on('exit', (code, signal) => {
      if (result) return finish(null, Array.isArray(result.value) ? result.value : { ...result.value, exit: { code, signal }, stderr })
      finish(new BenchChildError(`${script} exited (${signal ?? `code ${code}`}) without a result. stderr:\n${stderr.slice(-3000)}`, { stderr }))
    })
  })
}

/** In a child: the parameters, and helpers to answer. */
export function childParams() {
  return JSON.parse(process.argv[2] ?? '{}')
}

export function sendResult(value) {
  return new Promise((resolve) => process.send({ type: 'result', value }, () => resolve()))
}

/** Report a failure to the parent and exit non-zero. */
export function failChild(err) {
  const message = err?.stack ?? String(err)
  if (process.send) process.send({ type: 'error', message }, () => process.exit(1))
  else {
    process.stderr.write(`${message}\n`)
    process.exit(1)
  }
}

export const tick = () => new Promise((r) => setImmediate(r))
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
