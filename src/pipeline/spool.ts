import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { withDefaults } from '../config/defaults.js'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { SpoolError } from '../errors.js'

/**
 * An append-only on-disk queue of JSON records, one directory per sink and process.
 *
 * - **Segments** `seg-<seq>.log`, rolled at `segmentBytes`. Each record is one line:
 *   `<crc32 as 8 hex digits> <JSON>\n`. A line whose checksum does not match, or a last line
 *   without its newline (a write torn by a crash), is detected, skipped and counted.
 * - **Cursor** `cursor.json` `{segment, offset}`: everything before it has been delivered. It is
 *   advanced only over a contiguous prefix of acknowledged batches, so a crash replays from the
 *   oldest unacknowledged record (delivery is idempotent on `event_id`, so replays never duplicate).
 * - **Lock** `lock` holds the owner's pid; a directory whose owner is dead is taken over and its
 *   records replayed.
 * - **fsync policy**: `always` (after every write), `interval` (at most `fsyncIntervalMs` after a
 *   write; the default, 1 s: the loss window after a power cut), `never` (leave it to the OS).
 *
 * Writes are batched: the records of one turn of the event loop go out in one write after it, or
 * at once when `maxBufferBytes` fill up (memory stays bounded, nothing is dropped). Every write is
 * synchronous, in append order: an asynchronous write still in flight could land after a later
 * synchronous one (records out of order, and `flush()` marks wrong). Reads are synchronous too
 * (a batch of local disk). `appendSync`, `readSync` and `closeSync` serve `process.on('exit')`.
 * - **Orphans**: slots whose owner died with records left are adopted by the next process
 *   (`adoptOrphans`), so runs that overlapped leave nothing behind.
 *
 * Records are encoded straight into reused write buffers of `maxBufferBytes` (the one filling,
 * and a spare), never kept as JavaScript strings: a record's strings die young,
 * so a long outage costs the heap nothing per spooled event and the write path allocates nothing
 * per write (strings held until the next write were promoted to the old generation, and the
 * joined chunk of each write went to the large-object space: ~720 bytes of old-generation garbage
 * per spooled event, ~125 MB of RSS over 300 k events before a full GC reclaimed it).
 */

export type FsyncPolicy = 'always' | 'interval' | 'never'

export interface SpoolOptions {
  /** Roll to a new segment past this size. 8 MiB: small enough to delete promptly once delivered. */
  segmentBytes?: number
  /** Refuse appends past this total size (the caller counts the drops). 1 GiB. */
  maxBytes?: number
  /** Default `interval`. */
  fsync?: FsyncPolicy
  /** For `fsync: 'interval'`. 1000 ms. */
  fsyncIntervalMs?: number
  /** Bytes buffered before they are written at once rather than at the end of the turn. 4 MiB. */
  maxBufferBytes?: number
  /** Called after each write reaches the file (records became readable). */
  onWrite?: () => void
}

export const SPOOL_DEFAULTS: Required<Omit<SpoolOptions, 'onWrite'>> & Pick<SpoolOptions, 'onWrite'> = {
  segmentBytes: 8 * 1024 * 1024,
  maxBytes: 1024 * 1024 * 1024,
  fsync: 'interval',
  fsyncIntervalMs: 1000,
  maxBufferBytes: 4 * 1024 * 1024,
}

export interface SpoolStats {
  /** Records appended by this process. */
  appended: number
  /** Records read back for delivery (this process's and those left by a previous one). */
  read: number
  /** Records acknowledged as delivered. */
  acked: number
  /** Torn last records skipped (a crash mid-write). */
  torn: number
  /** Records skipped because their checksum did not match. */
  corrupt: number
  /** Bytes on disk not yet acknowledged. */
  pendingBytes: number
  /** Segments on disk. */
  segments: number
  /** Records appended but not yet written to the file (waiting, or refused by the disk); after close, those lost. */
  unwritten: number
}

/**
 * A position in the spool as a logical byte offset: bytes appended since the oldest segment on
 * disk began. Independent of where segments roll, so "everything appended before now" is one number.
 */
export type SpoolMark = number

/** True when `ack` is at or past `target`. */
export function markReached(ack: SpoolMark, target: SpoolMark): boolean {
  return ack >= target
}

/** A batch read from the spool; pass it back to `ack()` once delivered. */
export interface SpoolBatch {
  readonly records: string[]
  /** Opaque position data. */
  readonly segment: number
  readonly endOffset: number
  readonly seq: number
}

interface Segment {
  seq: number
  /** Logical offset of the segment's first byte. */
  base: number
  path: string
  /** Bytes written and visible to readers. */
  size: number
  sealed: boolean
}

interface Outstanding {
  seq: number
  segment: number
  endOffset: number
  acked: boolean
}

const heldLocks = new Set<string>()

function segName(seq: number): string {
  return `seg-${String(seq).padStart(12, '0')}.log`
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// Identifies this process instance even if a later process reuses its pid (containers run as pid 1).
const processStart = Math.round(Date.now() - process.uptime() * 1000)

/**
 * Try to take the lock of `dir`; true when this caller now owns it. The lock file holds
 * `{pid, start}`: a lock whose pid is dead, or is our pid with another start time (a previous
 * process that had the same pid), is stale and taken over. Our own pid with our start time is
 * held by another spool of this process (another thread, or another copy of the library).
 */
function tryLock(dir: string): boolean {
  const lockPath = join(dir, 'lock')
  if (heldLocks.has(lockPath)) return false
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, JSON.stringify({ pid: process.pid, start: processStart }), { flag: 'wx' })
      heldLocks.add(lockPath)
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let owner: { pid?: number; start?: number } = {}
      try {
        owner = JSON.parse(readFileSync(lockPath, 'utf8'))
      } catch {
        /* vanished or torn: stale */
      }
      const pid = Number(owner.pid)
      if (Number.isInteger(pid) && pid > 0) {
        if (pid === process.pid) {
          if (Math.abs(Number(owner.start) - processStart) < 2000) return false
        } else if (pidAlive(pid)) return false
      }
      try {
        unlinkSync(lockPath)
      } catch {
        /* someone else took it over first */
      }
    }
  }
  return false
}

export class Spool {
  readonly dir: string
  readonly #opts: typeof SPOOL_DEFAULTS
  #segments: Segment[] = []
  #fd = -1
  #writeSeg: Segment | undefined
  /** Encoded records waiting for a write: `#bufferBytes` bytes at the start of `#fill`. */
  #fill: Buffer | undefined
  /** The other write buffer, reused once its write completed. */
  #spare: Buffer | undefined
  #bufferBytes = 0
  /** Records in `#fill`. */
  #bufferRecords = 0
  #writing: Promise<void> | undefined
  #unwrittenAtClose = 0
  #retryTimer: NodeJS.Timeout | undefined
  #fsyncTimer: NodeJS.Timeout | undefined
  #dirty = false
  // read side
  #readSeg = 0
  #readOffset = 0
  #readSeq = 0
  // ack side: batches handed out, in order; the cursor moves over the acked prefix.
  #outstanding: Outstanding[] = []
  #cursor = { segment: 0, offset: 0 }
  #closed = false
  #stats = { appended: 0, read: 0, acked: 0, torn: 0, corrupt: 0 }
  #error: Error | undefined

  private constructor(dir: string, opts: typeof SPOOL_DEFAULTS) {
    this.dir = dir
    this.#opts = opts
  }

  /**
   * Open the spool under `root`, claiming the first slot (`root/0`, `root/1`, ...) no live
   * process holds. Records left in it by a dead process are replayed first.
   */
  static open(root: string, options: SpoolOptions = {}): Spool {
    const opts = withDefaults(SPOOL_DEFAULTS, options)
    try {
      mkdirSync(root, { recursive: true })
      for (let slot = 0; slot < 1024; slot++) {
        const dir = join(root, String(slot))
        mkdirSync(dir, { recursive: true })
        if (tryLock(dir)) {
          const spool = new Spool(dir, opts)
          spool.#load()
          return spool
        }
      }
    } catch (err) {
      throw new SpoolError(`Cannot open the spool directory ${root}: ${(err as Error).message}; check that it exists and is writable, or turn the spool off`, { cause: err })
    }
    throw new SpoolError(`Every slot of the spool directory ${root} is held by a running process`)
  }

  /**
   * The other slots of `root` that hold records and whose owner is gone (processes that ran at
   * the same time and ended with the store down each left their own slot). Each returned spool is
   * locked by this process, to be replayed and closed; a later process that finds slot 0 free
   * would never look at them otherwise. Slots that cannot be read or are held are skipped.
   */
  static adoptOrphans(root: string, ownDir: string, options: SpoolOptions = {}): Spool[] {
    const opts = withDefaults(SPOOL_DEFAULTS, options)
    const out: Spool[] = []
    let names: string[]
    try {
      names = readdirSync(root)
    } catch {
      return out
    }
    for (const name of names) {
      const dir = join(root, name)
      if (!/^\d+$/.test(name) || dir === ownDir) continue
      try {
        const hasRecords = readdirSync(dir).some((f) => /^seg-\d+\.log$/.test(f) && statSync(join(dir, f)).size > 0)
        if (!hasRecords || !tryLock(dir)) continue
        const spool = new Spool(dir, opts)
        spool.#load()
        if (spool.empty) void spool.close()
        else out.push(spool)
      } catch {
        // Unreadable: left for a later process (or the user) to look at.
      }
    }
    return out
  }

  #load(): void {
    const seqs = readdirSync(this.dir)
      .map((f) => /^seg-(\d+)\.log$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b)
    let base = 0
    for (const seq of seqs) {
      const path = join(this.dir, segName(seq))
      const size = statSync(path).size
      this.#segments.push({ seq, base, path, size, sealed: true })
      base += size
    }
    const cursorPath = join(this.dir, 'cursor.json')
    if (existsSync(cursorPath)) {
      try {
        const c = JSON.parse(readFileSync(cursorPath, 'utf8'))
        if (Number.isInteger(c.segment) && Number.isInteger(c.offset)) this.#cursor = { segment: c.segment, offset: c.offset }
      } catch {
        // A torn cursor: replay the oldest segment from its start (idempotent delivery makes this safe).
      }
    }
    // Drop segments wholly before the cursor (left over by a crash between ack and unlink).
    while (this.#segments.length && this.#segments[0].seq < this.#cursor.segment) {
      this.#unlinkSegment(this.#segments.shift() as Segment)
    }
    if (this.#segments.length && this.#segments[0].seq === this.#cursor.segment) {
      this.#readSeg = this.#cursor.segment
      this.#readOffset = Math.min(this.#cursor.offset, this.#segments[0].size)
    } else {
      this.#readSeg = this.#segments.length ? this.#segments[0].seq : 0
      this.#readOffset = 0
      this.#cursor = { segment: this.#readSeg, offset: 0 }
    }
    const nextSeq = this.#segments.length ? this.#segments[this.#segments.length - 1].seq + 1 : 1
    if (!this.#segments.length) {
      this.#readSeg = nextSeq
      this.#cursor = { segment: nextSeq, offset: 0 }
    }
    this.#openSegment(nextSeq)
  }

  #openSegment(seq: number): void {
    const path = join(this.dir, segName(seq))
    // Open the new file first: if that fails, the current one stays usable.
    const fd = openSync(path, 'a')
    if (this.#fd >= 0) {
      closeSync(this.#fd)
      if (this.#writeSeg) this.#writeSeg.sealed = true
    }
    this.#fd = fd
    const prev = this.#segments[this.#segments.length - 1]
    this.#writeSeg = { seq, base: prev ? prev.base + prev.size : 0, path, size: 0, sealed: false }
    this.#segments.push(this.#writeSeg)
  }

  get stats(): SpoolStats {
    return { ...this.#stats, pendingBytes: this.#pendingBytes(), segments: this.#segments.length, unwritten: this.#bufferRecords + this.#unwrittenAtClose }
  }

  /** Bytes on disk not yet acknowledged, plus those waiting to be written. */
  #pendingBytes(): number {
    let pending = 0
    for (const s of this.#segments) pending += s.size
    pending -= this.#cursor.offset
    pending += this.#bufferBytes
    return Math.max(0, pending)
  }

  /** Position just past everything appended so far (including records still in the write buffer). */
  get writeMark(): SpoolMark {
    const seg = this.#writeSeg as Segment
    return seg.base + seg.size + this.#bufferBytes
  }

  /** Position up to which everything has been acknowledged. */
  get ackMark(): SpoolMark {
    const seg = this.#segments.find((s) => s.seq === this.#cursor.segment)
    if (seg) return seg.base + this.#cursor.offset
    // The cursor's segment is gone: everything before the first remaining segment is acknowledged.
    const next = this.#segments.find((s) => s.seq > this.#cursor.segment)
    return next ? next.base : this.writeMark
  }

  /** The last write error, if the disk refused a write. Cleared by the next successful write. */
  get error(): Error | undefined {
    return this.#error
  }

  /** True when every record written has been read back (nothing waits on disk or in the buffer). */
  get drained(): boolean {
    if (this.#bufferBytes > 0 || this.#writing) return false
    const last = this.#segments[this.#segments.length - 1]
    return this.#readSeg === last.seq && this.#readOffset >= last.size
  }

  /** True when nothing is on disk or in flight unacknowledged. */
  get empty(): boolean {
    return this.drained && this.#outstanding.length === 0
  }

  /** Bytes of a record's line: `<crc32 as 8 hex digits> <JSON>\n`. */
  static #lineBytes(json: string): number {
    return Buffer.byteLength(json) + 10
  }

  /**
   * Make room for `need` more bytes in the write buffer. When it is full, write it out
   * synchronously first (`mayFlush`); if that fails (or is not allowed), grow the buffer: the
   * records stay in memory, and `append` refuses new ones until a write succeeds.
   */
  #room(need: number, mayFlush: boolean): Buffer {
    if (this.#fill && this.#fill.length - this.#bufferBytes >= need) return this.#fill
    if (mayFlush && this.#bufferBytes > 0) {
      try {
        this.#flushBufferSync()
      } catch {
        // Kept in the buffer (grown below); `error` now refuses new appends.
      }
      if (this.#fill && this.#fill.length - this.#bufferBytes >= need) return this.#fill
    }
    const cap = this.#opts.maxBufferBytes
    if (this.#bufferBytes === 0) {
      // Empty: the spare if it is large enough, else a new buffer (a record larger than `cap` gets its own).
      if (this.#fill) this.#keepSpare(this.#fill)
      if (this.#spare && this.#spare.length >= need) {
        this.#fill = this.#spare
        this.#spare = undefined
      } else this.#fill = Buffer.allocUnsafeSlow(Math.max(cap, need))
      return this.#fill
    }
    const fill = this.#fill as Buffer
    const grown = Buffer.allocUnsafeSlow(Math.max(cap, this.#bufferBytes + need))
    fill.copy(grown, 0, 0, this.#bufferBytes)
    this.#keepSpare(fill)
    this.#fill = grown
    return grown
  }

  /** Keep a buffer of the standard size for the next swap (larger ones, grown for a big record or a failed write, are let go). */
  #keepSpare(buf: Buffer): void {
    if (buf.length === this.#opts.maxBufferBytes && !this.#spare) this.#spare = buf
  }

  /** Encode one record at the end of the write buffer (room already made). */
  #put(buf: Buffer, json: string, bytes: number): void {
    const start = this.#bufferBytes
    const end = start + bytes - 1
    buf.write(json, start + 9, bytes - 10, 'utf8')
    let sum = crc32(buf.subarray(start + 9, end))
    for (let i = start + 7; i >= start; i--) {
      const d = sum & 15
      buf[i] = d < 10 ? 48 + d : 87 + d
      sum >>>= 4
    }
    buf[start + 8] = 32
    buf[end] = 10
    this.#bufferBytes += bytes
    this.#bufferRecords++
  }

  /**
   * Queue records for writing. Throws `SpoolError` when the spool is over `maxBytes` or the last
   * write failed (full disk, permissions): the caller counts those records as dropped.
   */
  append(records: readonly string[]): void {
    if (this.#closed) throw new SpoolError('The spool is closed')
    // A failed write keeps its records buffered and refuses new ones (memory stays bounded). With
    // nothing left over (e.g. only a cursor update failed), try the disk again.
    if (this.#error && (this.#bufferBytes > 0 || this.#writing)) throw new SpoolError(`The spool cannot be written: ${this.#error.message}`, { cause: this.#error })
    let bytes = 0
    for (const r of records) bytes += Spool.#lineBytes(r)
    if (this.#pendingBytes() + bytes > this.#opts.maxBytes) {
      throw new SpoolError(`The spool is full (${this.#opts.maxBytes} bytes); raise spool.maxBytes or bring the store back`)
    }
    // A full buffer is written synchronously (the disk is slower than the logger); records a failed
    // write left behind stay buffered (retried by sync/close), and `error` refuses new appends.
    for (const r of records) {
      const n = Spool.#lineBytes(r)
      this.#put(this.#room(n, !this.#error), r, n)
    }
    this.#stats.appended += records.length
    this.#scheduleWrite()
  }

  /** Records appended but not in the file yet (they are written at the end of this turn of the event loop). */
  get buffered(): number {
    return this.#bufferRecords
  }

  /**
   * Read again from the cursor: records handed out by `read()` and never acknowledged (their
   * delivery was abandoned) come back. Call it with no `read()` in progress.
   */
  rewind(): void {
    this.#outstanding = []
    const seg = this.#segments.find((s) => s.seq >= this.#cursor.segment)
    if (!seg) return
    this.#readSeg = seg.seq
    this.#readOffset = seg.seq === this.#cursor.segment ? Math.min(this.#cursor.offset, seg.size) : 0
  }

  /** Write records synchronously, now (for `process.on('exit')`), with what is buffered before them. Never throws; returns how many of `records` were written. */
  appendSync(records: readonly string[]): number {
    if (this.#fd < 0) return 0
    for (const r of records) {
      const n = Spool.#lineBytes(r)
      this.#put(this.#room(n, !this.#error), r, n)
    }
    this.#stats.appended += records.length
    try {
      this.#flushBufferSync()
      fsyncSync(this.#fd)
      return records.length
    } catch (err) {
      this.#error = err as Error
      // Records reach the file in order: what is still buffered is the last of them.
      return Math.max(0, records.length - this.#bufferRecords)
    }
  }

  #flushBufferSync(): void {
    const buf = this.#fill
    const bytes = this.#bufferBytes
    const count = this.#bufferRecords
    if (!buf || bytes === 0) return
    this.#fill = undefined
    this.#bufferBytes = 0
    this.#bufferRecords = 0
    let off = 0
    try {
      while (off < bytes) off += writeSync(this.#fd, buf, off, bytes - off)
    } catch (err) {
      // Keep only what did not reach the file: a partial write already holds whole lines up to
      // `off` plus a torn one, which is cut off.
      this.#requeueUnwritten(buf, bytes, count, off)
      this.#error = err as Error
      throw new SpoolError(`The spool cannot be written: ${(err as Error).message}`, { cause: err })
    }
    this.#reuse(buf)
    this.#afterWrite(bytes, true)
  }

  /** A written buffer becomes the next one to fill (or the spare). */
  #reuse(buf: Buffer): void {
    if (!this.#fill && this.#bufferBytes === 0 && buf.length === this.#opts.maxBufferBytes) this.#fill = buf
    else this.#keepSpare(buf)
  }

  #scheduleWrite(): void {
    if (this.#writing || this.#closed) return
    this.#writing = this.#writeLoop().finally(() => {
      this.#writing = undefined
      if (this.#bufferBytes > 0 && !this.#error) this.#scheduleWrite()
      else if (this.#bufferBytes > 0) {
        // Refused, and everything in the file already delivered (the last acknowledgement came
        // while this write ran): start a fresh segment and drop the old one now.
        if (this.#rollIfDelivered()) {
          this.#commitCursor()
          this.#scheduleWrite()
        } else this.#retryLater()
      }
    })
  }

  /** The disk refused a write (full, file too large): try again in a second (space may come back). */
  #retryLater(): void {
    if (this.#retryTimer || this.#closed) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      this.#scheduleWrite()
    }, 1000)
    this.#retryTimer.unref()
  }

  /**
   * Put back what a failed write did not get into the file. `written` bytes of `data` reached it
   * (a short write before ENOSPC/EFBIG): the whole lines among them stay and are accounted; a
   * partial line after them is cut off the file so the retry starts on a clean line.
   */
  #requeueUnwritten(buf: Buffer, bytes: number, count: number, written: number): void {
    let keep = 0
    if (written > 0) {
      keep = buf.lastIndexOf(10, written - 1) + 1
      const seg = this.#writeSeg as Segment
      if (written > keep) {
        try {
          ftruncateSync(this.#fd, seg.size + keep)
        } catch {
          // Could not cut it: the torn line stays and readers skip it as a damaged record.
          seg.size += written - keep
        }
      }
      if (keep > 0) {
        for (let i = buf.indexOf(10); i !== -1 && i < keep; i = buf.indexOf(10, i + 1)) count--
        this.#afterWrite(keep, false)
      }
    }
    // The rest goes back in front of anything appended since (records stay in order).
    const rest = bytes - keep
    if (rest > 0) {
      const after = this.#bufferBytes
      if (after === 0) {
        buf.copyWithin(0, keep, bytes)
        if (this.#fill) this.#keepSpare(this.#fill)
        this.#fill = buf
      } else {
        const fill = this.#fill as Buffer
        const merged = Buffer.allocUnsafeSlow(Math.max(this.#opts.maxBufferBytes, rest + after))
        buf.copy(merged, 0, keep, bytes)
        fill.copy(merged, rest, 0, after)
        this.#keepSpare(buf)
        this.#keepSpare(fill)
        this.#fill = merged
      }
      this.#bufferBytes += rest
      this.#bufferRecords += count
    } else this.#reuse(buf)
  }

  /**
   * Write the buffer out, after the appends of this turn of the event loop (one write for many
   * records). Writes are synchronous, as the full-buffer write in `#room`: an asynchronous write
   * still in flight when a full buffer is written synchronously could reach the file after it,
   * putting records out of order.
   */
  async #writeLoop(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve))
    while (this.#bufferBytes > 0 && !this.#closed) {
      const buf = this.#fill as Buffer
      const bytes = this.#bufferBytes
      const count = this.#bufferRecords
      this.#fill = undefined
      this.#bufferBytes = 0
      this.#bufferRecords = 0
      let off = 0
      try {
        while (off < bytes) off += writeSync(this.#fd, buf, off, bytes - off)
      } catch (err) {
        // Keep the records (a full disk may recover); new appends fail until a write succeeds.
        this.#requeueUnwritten(buf, bytes, count, off)
        this.#error = err as Error
        return
      }
      this.#error = undefined
      this.#reuse(buf)
      this.#afterWrite(bytes, true)
    }
  }

  /** Account a completed write; `mayRoll` is false after a failed one (its rest is retried in this file). */
  #afterWrite(bytes: number, mayRoll: boolean): void {
    const seg = this.#writeSeg as Segment
    seg.size += bytes
    this.#dirty = true
    if (this.#opts.fsync === 'always') this.#fsync()
    else if (this.#opts.fsync === 'interval' && !this.#fsyncTimer) {
      this.#fsyncTimer = setTimeout(() => {
        this.#fsyncTimer = undefined
        this.#fsync()
      }, this.#opts.fsyncIntervalMs)
      this.#fsyncTimer.unref()
    }
    if (mayRoll && seg.size >= this.#opts.segmentBytes) {
      this.#fsync()
      try {
        this.#openSegment(seg.seq + 1)
      } catch {
        // No new file (no inode, too many open files): the records just written are in this one,
        // which keeps taking writes past `segmentBytes`; the next write tries to roll again.
      }
    }
    this.#opts.onWrite?.()
  }

  #fsync(): void {
    if (!this.#dirty || this.#fd < 0) return
    try {
      fsyncSync(this.#fd)
      this.#dirty = false
    } catch (err) {
      this.#error = err as Error
    }
  }

  /** Wait until every appended record is on disk (written, and fsynced unless the policy is `never`). */
  async sync(): Promise<void> {
    while (this.#writing) await this.#writing
    if (this.#bufferBytes > 0) this.#flushBufferSync()
    if (this.#opts.fsync !== 'never') this.#fsync()
    if (this.#error) throw new SpoolError(`The spool cannot be written: ${this.#error.message}`, { cause: this.#error })
  }

  /**
   * Read the next records (up to `maxRecords` / about `maxBytes`), or `null` when nothing
   * written is left to read. Damaged records are skipped and counted.
   */
  async read(maxRecords: number, maxBytes: number): Promise<SpoolBatch | null> {
    return this.readSync(maxRecords, maxBytes)
  }

  /**
   * `read()`, synchronously. Reads are synchronous, as writes: a batch is at most `maxBytes` of
   * local disk, and at `process.exit` a file sink replays the spool into its file this way.
   */
  readSync(maxRecords: number, maxBytes: number): SpoolBatch | null {
    if (this.#bufferBytes > 0 && !this.#writing && !this.#closed) this.#scheduleWrite()
    const records: string[] = []
    let bytes = 0
    const startSeg = this.#readSeg
    const startOffset = this.#readOffset
    for (;;) {
      const seg = this.#segments.find((s) => s.seq === this.#readSeg)
      if (!seg) {
        // The read segment was deleted or never existed: move to the next one that exists.
        const next = this.#segments.find((s) => s.seq > this.#readSeg)
        if (!next) break
        this.#readSeg = next.seq
        this.#readOffset = 0
        continue
      }
      if (this.#readOffset >= seg.size) {
        if (seg.sealed || seg !== this.#writeSeg) {
          const next = this.#segments.find((s) => s.seq > seg.seq)
          if (!next) break
          this.#readSeg = next.seq
          this.#readOffset = 0
          continue
        }
        break
      }
      if (records.length >= maxRecords || bytes >= maxBytes) break
      const chunk = this.#readChunk(seg, this.#readOffset, Math.min(seg.size - this.#readOffset, Math.max(64 * 1024, maxBytes - bytes)))
      let pos = 0
      let consumed = 0
      while (pos < chunk.length && records.length < maxRecords) {
        const nl = chunk.indexOf(10, pos)
        if (nl === -1) break
        const line = chunk.toString('utf8', pos, nl)
        pos = nl + 1
        consumed = pos
        const json = this.#decode(line)
        if (json !== undefined) {
          records.push(json)
          bytes += line.length
        }
        if (bytes >= maxBytes) break
      }
      if (consumed === 0) {
        // No complete line in the chunk.
        const rest = seg.size - this.#readOffset
        if (chunk.length >= rest) {
          if (seg.sealed && seg !== this.#writeSeg) {
            // A sealed segment ending without a newline: a record torn by a crash.
            this.#stats.torn++
            this.#readOffset = seg.size
            continue
          }
          break
        }
        // A record longer than the chunk: read it whole.
        const whole = this.#readChunk(seg, this.#readOffset, rest)
        const nl = whole.indexOf(10)
        if (nl === -1) {
          if (seg.sealed && seg !== this.#writeSeg) {
            this.#stats.torn++
            this.#readOffset = seg.size
            continue
          }
          break
        }
        const json = this.#decode(whole.toString('utf8', 0, nl))
        if (json !== undefined) records.push(json)
        this.#readOffset += nl + 1
        continue
      }
      this.#readOffset += consumed
    }
    if (records.length === 0) {
      // Only damaged records (or the end of a segment) were passed over: nothing to deliver, but
      // the cursor must move past them once what was handed out before is acknowledged, or a
      // torn last record would hold the cursor (and every flush() waiting for it) forever.
      if (this.#readSeg !== startSeg || this.#readOffset !== startOffset) {
        this.#outstanding.push({ seq: ++this.#readSeq, segment: this.#readSeg, endOffset: this.#readOffset, acked: true })
        this.#advanceCursor()
      }
      return null
    }
    this.#stats.read += records.length
    const batch: SpoolBatch = { records, segment: this.#readSeg, endOffset: this.#readOffset, seq: ++this.#readSeq }
    this.#outstanding.push({ seq: batch.seq, segment: batch.segment, endOffset: batch.endOffset, acked: false })
    return batch
  }

  #readChunk(seg: Segment, offset: number, length: number): Buffer {
    const fd = openSync(seg.path, 'r')
    try {
      const buf = Buffer.allocUnsafe(length)
      const bytesRead = readSync(fd, buf, 0, length, offset)
      return buf.subarray(0, bytesRead)
    } finally {
      closeSync(fd)
    }
  }

  #decode(line: string): string | undefined {
    if (line.length < 10 || line[8] !== ' ') {
      this.#stats.corrupt++
      return undefined
    }
    const json = line.slice(9)
    const sum = Number.parseInt(line.slice(0, 8), 16)
    if (crc32(json) !== sum) {
      this.#stats.corrupt++
      return undefined
    }
    return json
  }

  /** Mark a batch delivered. The cursor advances over the contiguous acknowledged prefix. */
  ack(batch: SpoolBatch): void {
    const entry = this.#outstanding.find((o) => o.seq === batch.seq)
    if (!entry) return
    entry.acked = true
    this.#stats.acked += batch.records.length
    this.#advanceCursor()
  }

  /** Move the cursor over the contiguous acknowledged prefix of what was handed out. */
  #advanceCursor(): void {
    let moved = false
    while (this.#outstanding.length && this.#outstanding[0].acked) {
      const done = this.#outstanding.shift() as Outstanding
      this.#cursor = { segment: done.segment, offset: done.endOffset }
      moved = true
    }
    if (moved) this.#commitCursor()
  }

  #commitCursor(): void {
    const rolled = this.#rollIfDelivered()
    // Delete segments the cursor has passed (except the one being written).
    while (this.#segments.length > 1) {
      const first = this.#segments[0]
      const wholeDone = first.seq < this.#cursor.segment || (first.seq === this.#cursor.segment && this.#cursor.offset >= first.size && first.sealed)
      if (!wholeDone || first === this.#writeSeg) break
      this.#segments.shift()
      this.#unlinkSegment(first)
      if (this.#cursor.segment === first.seq) this.#cursor = { segment: this.#segments[0].seq, offset: 0 }
    }
    const tmp = join(this.dir, 'cursor.json.tmp')
    try {
      writeFileSync(tmp, JSON.stringify(this.#cursor))
      renameSync(tmp, join(this.dir, 'cursor.json'))
    } catch (err) {
      this.#error = err as Error
    }
    // Space was freed: write what the disk refused before.
    if (rolled && this.#bufferBytes > 0) this.#scheduleWrite()
  }

  /**
   * Everything written has been delivered: start a new segment so the old one can be deleted.
   * Always after a failed write (a full disk gets its space back, a file-size limit applies to a
   * fresh file), otherwise once the segment is large enough to be worth a new file. True if rolled.
   */
  #rollIfDelivered(): boolean {
    const w = this.#writeSeg
    const done =
      w !== undefined &&
      !this.#closed &&
      this.#outstanding.length === 0 &&
      !this.#writing &&
      this.#cursor.segment === w.seq &&
      this.#cursor.offset >= w.size &&
      w.size > 0 &&
      (this.#error !== undefined || w.size >= Math.min(this.#opts.segmentBytes, 1024 * 1024))
    if (!done) return false
    try {
      this.#openSegment(w.seq + 1)
      return true
    } catch (err) {
      this.#error = err as Error
      return false
    }
  }

  #unlinkSegment(seg: Segment): void {
    try {
      unlinkSync(seg.path)
    } catch {
      /* already gone */
    }
  }

  /** Flush, fsync, persist the cursor and release the lock. Records stay on disk for the next process. */
  async close(): Promise<void> {
    if (this.#closed) return
    try {
      await this.sync()
    } catch {
      /* reported through `error` */
    }
    this.#finish()
  }

  /**
   * `close()` for `process.on('exit')`, where nothing asynchronous finishes: what is buffered is
   * written and fsynced, then the same as `close()`. Never throws.
   */
  closeSync(): void {
    if (this.#closed) return
    try {
      this.#flushBufferSync()
      this.#error = undefined
      if (this.#opts.fsync !== 'never') this.#fsync()
    } catch {
      /* counted as unwritten */
    }
    try {
      this.#finish()
    } catch {
      /* the process is ending: the next one finds the files as they are */
    }
  }

  #finish(): void {
    this.#closed = true
    if (this.#fsyncTimer) clearTimeout(this.#fsyncTimer)
    if (this.#retryTimer) clearTimeout(this.#retryTimer)
    // What the disk refused to the end is gone with this process: count it, hold no memory for it.
    this.#unwrittenAtClose = this.#bufferRecords
    this.#fill = undefined
    this.#spare = undefined
    this.#bufferBytes = 0
    this.#bufferRecords = 0
    if (this.#fd >= 0) {
      closeSync(this.#fd)
      this.#fd = -1
    }
    // An empty spool leaves nothing behind but its (empty) directory.
    if (this.empty) {
      for (const s of this.#segments) this.#unlinkSegment(s)
      this.#segments = []
      try {
        unlinkSync(join(this.dir, 'cursor.json'))
      } catch {
        /* none */
      }
    } else {
      this.#commitCursor()
    }
    const lockPath = join(this.dir, 'lock')
    try {
      unlinkSync(lockPath)
    } catch {
      /* gone */
    }
    heldLocks.delete(lockPath)
  }
}
