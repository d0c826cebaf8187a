import { randomBytes } from 'node:crypto'
import { createWriteStream, realpathSync, statSync, unlinkSync, type WriteStream } from 'node:fs'
import type { Writable } from 'node:stream'
import { chmod, open, rename, unlink } from 'node:fs/promises'
import { once } from 'node:events'
import { basename, dirname, join, resolve } from 'node:path'
import { UsageError } from './flags.js'

/**
 * An output file written under a temporary name in its own directory and renamed over the target
 * only when complete (after an fsync), so a failed or interrupted command never leaves a truncated
 * file nor destroys the one that was there. The target's permissions are kept. An interrupt
 * (Ctrl-C, SIGTERM) removes the temporary file before the process ends.
 */
class OutputFile {
  readonly path: string
  readonly #temp: string
  readonly stream: WriteStream
  readonly #mode: number | undefined
  #settled = false

  private constructor(path: string, temp: string, stream: WriteStream, mode: number | undefined) {
    this.path = path
    this.#temp = temp
    this.stream = stream
    this.#mode = mode
  }

  /**
   * Check that `target` can be written (its directory exists, it is not a directory) before any
   * work is done; returns the path to write (a symbolic link's target, so the link stays).
   */
  static check(target: string): string {
    let path = resolve(target)
    try {
      path = realpathSync(path)
    } catch {
      /* not there yet: written as named */
    }
    let dir
    try {
      dir = statSync(dirname(path))
    } catch {
      throw new UsageError(`cannot write ${target}: the directory ${dirname(path)} does not exist`)
    }
    if (!dir.isDirectory()) throw new UsageError(`cannot write ${target}: ${dirname(path)} is not a directory`)
    try {
      if (statSync(path).isDirectory()) throw new UsageError(`cannot write ${target}: it is a directory; name a file`)
    } catch (err) {
      if (err instanceof UsageError) throw err
    }
    return path
  }

  static async create(target: string): Promise<OutputFile> {
    const path = OutputFile.check(target)
    let mode: number | undefined
    try {
      mode = statSync(path).mode & 0o7777
    } catch {
      /* a new file: the default mode */
    }
    const temp = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`)
    const stream = createWriteStream(temp, { flags: 'wx' })
    await once(stream, 'open')
    const file = new OutputFile(path, temp, stream, mode)
    pending.add(file)
    return file
  }

  /** Finish writing, flush to disk and move into place. */
  async commit(): Promise<void> {
    if (!this.stream.writableFinished) {
      this.stream.end()
      await once(this.stream, 'finish')
    }
    if (!this.stream.closed) await once(this.stream, 'close')
    const fh = await open(this.#temp, 'r+')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
    if (this.#mode !== undefined) await chmod(this.#temp, this.#mode)
    await rename(this.#temp, this.path)
    this.#settled = true
    pending.delete(this)
  }

  /** Drop the temporary file; the target is left as it was. */
  async abort(): Promise<void> {
    if (this.#settled) return
    this.#settled = true
    pending.delete(this)
    this.stream.destroy()
    await unlink(this.#temp).catch(() => undefined)
  }

  /** For the signal handler: synchronous. */
  removeNow(): void {
    if (this.#settled) return
    this.#settled = true
    try {
      unlinkSync(this.#temp)
    } catch {
      /* already gone */
    }
  }
}

const pending = new Set<OutputFile>()
let handlersInstalled = false

/** On SIGINT/SIGTERM, remove unfinished output files, then exit as the signal would (130/143). */
function removeOutputsOnSignal(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      for (const f of pending) f.removeNow()
      process.exit(code)
    })
  }
}

/**
 * Where a command's result goes: `--output FILE` (checked at once, opened as an `OutputFile` when
 * first written to) or stdout (`-` or no `--output`).
 */
export class Destination {
  /** The file to write (a symbolic link resolved), or undefined for stdout. */
  readonly path: string | undefined
  #file: OutputFile | undefined

  constructor(target: string | undefined) {
    this.path = target === undefined || target === '-' ? undefined : OutputFile.check(target)
  }

  /** For messages: the file, or `stdout`. */
  get name(): string {
    return this.path ?? 'stdout'
  }

  async stream(): Promise<Writable> {
    if (this.path === undefined) return process.stdout
    if (!this.#file) {
      removeOutputsOnSignal()
      this.#file = await OutputFile.create(this.path)
    }
    return this.#file.stream
  }

  commit(): Promise<void> {
    return this.#file?.commit() ?? Promise.resolve()
  }

  abort(): Promise<void> {
    return this.#file?.abort() ?? Promise.resolve()
  }
}
