import type { FileHandle } from 'node:fs/promises'

/**
 * Helpers of the FileStore's reads: a snapshot of its files read line by line, a bounded binary
 * heap, and the check that a line sequence is nearly in order (so a bounded heap can sort it).
 */

/** A store file opened for one read: read up to `size` (the bytes present when the read began). */
export interface SnapshotFile {
  fh: FileHandle
  size: number
  /** device:inode:size, the identity of what this read sees. */
  id: string
  /** device:inode, the file whatever its name (rotation renames). */
  inode: string
  /** Where this read starts (a line start); 0 by default. */
  start?: number
}

const CHUNK = 64 * 1024

/** Where the line just given by `snapshotLines` starts: the index of its file and its byte offset. */
export interface LineCursor {
  file: number
  offset: number
}

/**
 * The lines of the files, oldest first, read incrementally with positioned reads of 64 KiB (the
 * handles stay open for the next pass). Lines end at `\n`, `\r\n` or `\r`, as readline's; a last
 * line without its newline (torn by a write in progress) is given as it is. With `cursor`, each
 * line's position is set there before it is given (read it back with `lineAt`).
 */
export async function* snapshotLines(files: readonly SnapshotFile[], cursor?: LineCursor): AsyncGenerator<string> {
  const buf = Buffer.allocUnsafe(CHUNK)
  for (let k = 0; k < files.length; k++) {
    const f = files[k]
    let carry: Buffer | undefined
    let skipLf = false
    let position = f.start ?? 0
    /** Offset in the file of the line being read. */
    let lineStart = position
    while (position < f.size) {
      const { bytesRead } = await f.fh.read(buf, 0, Math.min(CHUNK, f.size - position), position)
      if (bytesRead === 0) break
      const base = position
      position += bytesRead
      let start = 0
      for (let i = 0; i < bytesRead; i++) {
        const c = buf[i]
        if (c !== 0x0a && c !== 0x0d) continue
        if (skipLf && c === 0x0a && i === start) {
          skipLf = false
          start = i + 1
          lineStart = base + start
          continue
        }
        skipLf = c === 0x0d
        let line: string
        if (carry) {
          line = Buffer.concat([carry, buf.subarray(start, i)]).toString('utf8')
          carry = undefined
        } else line = buf.toString('utf8', start, i)
        if (cursor) {
          cursor.file = k
          cursor.offset = lineStart
        }
        start = i + 1
        lineStart = base + start
        yield line
      }
      if (start < bytesRead) {
        const rest = Buffer.from(buf.subarray(start, bytesRead))
        carry = carry ? Buffer.concat([carry, rest]) : rest
        skipLf = false
      }
    }
    if (carry && carry.length > 0) {
      if (cursor) {
        cursor.file = k
        cursor.offset = lineStart
      }
      yield carry.toString('utf8')
    }
  }
}

/** The line of `f` that starts at `offset` (up to its end of line, or the end of the snapshot). */
export async function lineAt(f: SnapshotFile, offset: number): Promise<string> {
  const parts: Buffer[] = []
  const buf = Buffer.allocUnsafe(4096)
  let position = offset
  while (position < f.size) {
    const { bytesRead } = await f.fh.read(buf, 0, Math.min(buf.length, f.size - position), position)
    if (bytesRead === 0) break
    let end = -1
    for (let i = 0; i < bytesRead; i++) {
      if (buf[i] === 0x0a || buf[i] === 0x0d) {
        end = i
        break
      }
    }
    parts.push(Buffer.from(buf.subarray(0, end === -1 ? bytesRead : end)))
    if (end !== -1) break
    position += bytesRead
  }
  return Buffer.concat(parts).toString('utf8')
}

/** A binary min-heap under `less`. */
export class Heap<T> {
  readonly #a: T[] = []
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.#a.length
  }

  peek(): T | undefined {
    return this.#a[0]
  }

  push(x: T): void {
    const a = this.#a
    a.push(x)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(a[i], a[p])) break
      ;[a[i], a[p]] = [a[p], a[i]]
      i = p
    }
  }

  pop(): T | undefined {
    const a = this.#a
    if (a.length === 0) return undefined
    const top = a[0]
    const last = a.pop() as T
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && this.less(a[l], a[m])) m = l
        if (r < a.length && this.less(a[r], a[m])) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m], a[i]]
        i = m
      }
    }
    return top
  }
}

/**
 * Whether a sequence of keys is "window-sorted": every key is ≥ (or > when `strict`) every key at
 * least `window` + 1 positions before it. Such a sequence, and any subsequence of it, comes out
 * sorted from a heap holding `window` elements (push each, pop the least once more are held).
 * With `strict`, it also tells duplicates: a key equal to one of the last `window` is reported.
 */
export class WindowOrder {
  readonly #ring: string[] = []
  readonly #members = new Set<string>()
  #head = 0
  #old: string | undefined
  ok = true

  constructor(
    private readonly window: number,
    private readonly strict: boolean,
  ) {}

  add(key: string): boolean {
    if (!this.ok) return false
    if (!this.admit(key)) return (this.ok = false)
    return true
  }

  /**
   * Add `key` if the sequence stays window-sorted with it, and say whether it did; a key that
   * would break it (with `strict`: a duplicate of a key in the window, or a key not above every
   * key that left it) is left out, and the sequence of admitted keys stays window-sorted.
   */
  admit(key: string): boolean {
    if (this.#old !== undefined && (this.strict ? key <= this.#old : key < this.#old)) return false
    if (this.strict) {
      if (this.#members.has(key)) return false
      this.#members.add(key)
    }
    if (this.#ring.length < this.window) this.#ring.push(key)
    else {
      const out = this.#ring[this.#head]
      this.#ring[this.#head] = key
      this.#head = (this.#head + 1) % this.window
      if (this.strict) this.#members.delete(out)
      if (this.#old === undefined || out > this.#old) this.#old = out
    }
    return true
  }
}
