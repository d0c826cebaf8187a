import type { SnapshotFile } from './file-scan.js'

/**
 * Where a FileStore read "after this id" can start: a sparse index of the store's files, built
 * incrementally (each byte is read once, as the files grow), of the greatest event id mentioned
 * before each checkpoint. Every line before the returned position mentions only ids at or below
 * `afterId` (inserts, updates and deletion markers alike), so a read of the events after `afterId`
 * gives the same result from there as from the start. This is what keeps the live stream's poll of
 * a FileStore proportional to what was written since the last poll, not to the store's size.
 *
 * Files are known by device and inode (a rotation renames, it does not copy) and a fingerprint of
 * their first bytes (an inode reused by a new file is not mistaken for the old one); a file that
 * shrank is indexed again. A line without its own id (one is generated on each read) counts as
 * the greatest id, so nothing after it is ever skipped. Only complete (`\n`-terminated) lines are
 * indexed; the torn end of a file being written is read by the query itself.
 */

/** A checkpoint every CHECKPOINT_BYTES or so (at the next line start). */
const CHECKPOINT_BYTES = 64 * 1024
const CHUNK = 256 * 1024
const HEAD_BYTES = 64
/** For a line whose id is made on each read: greater than every ULID, so nothing after it is skipped. */
export const UNSTABLE_ID = '\uffff'

/** What is known of one file: its first bytes (to tell a reused inode) and how far it was read. */
interface FileState {
  head: string
  /** Bytes read: the end of the last complete line. */
  indexedTo: number
}

interface FileIndex extends FileState {
  /** Greatest id mentioned in the indexed lines ('' when none). */
  maxId: string
  /** Line starts, ascending, with the greatest id mentioned before them in this file. */
  checkpoints: Array<{ offset: number; maxBefore: string }>
}

export interface StartPosition {
  /** Index into the files given. */
  file: number
  /** Byte offset in that file, at a line start. */
  offset: number
}

/**
 * Per-file state kept up to date as the files grow: each complete (`\n`-terminated) line is given
 * once to `onLine`, with the offset where the next line starts. Files are known by device and
 * inode (a rotation renames, it does not copy) and a fingerprint of their first bytes (an inode
 * reused by a new file is not mistaken for the old one); a file that shrank is read again.
 * Callers arriving together are answered one after the other (each extends the same state).
 */
class GrowingFiles<T extends FileState> {
  readonly #files = new Map<string, T>()
  #queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly fresh: (head: string) => T,
    private readonly onLine: (state: T, line: string, nextLine: number) => void,
  ) {}

  /** Run `fn` alone (no other caller extends the state meanwhile). */
  serial<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.#queue.then(fn)
    this.#queue = run.catch(() => undefined)
    return run
  }

  /** The file's state, extended to its complete lines. */
  async get(f: SnapshotFile): Promise<T> {
    const head = await readHead(f)
    let state = this.#files.get(f.inode)
    if (!state || state.head !== head || f.size < state.indexedTo) {
      state = this.fresh(head)
      this.#files.set(f.inode, state)
    }
    if (state.indexedTo < f.size) await this.#extend(f, state)
    return state
  }

  /** Forget files not in `inodes` (deleted by rotation). */
  keepOnly(inodes: Set<string>): void {
    for (const key of this.#files.keys()) if (!inodes.has(key)) this.#files.delete(key)
  }

  async #extend(f: SnapshotFile, state: T): Promise<void> {
    const buf = Buffer.allocUnsafe(CHUNK)
    let position = state.indexedTo
    let carry: Buffer | undefined
    while (position < f.size) {
      const { bytesRead } = await f.fh.read(buf, 0, Math.min(CHUNK, f.size - position), position)
      if (bytesRead === 0) break
      let from = 0
      for (let i = buf.indexOf(10, 0); i !== -1 && i < bytesRead; i = buf.indexOf(10, i + 1)) {
        const bytes = carry ? Buffer.concat([carry, buf.subarray(from, i)]) : buf.subarray(from, i)
        carry = undefined
        let end = bytes.length
        if (end > 0 && bytes[end - 1] === 13) end--
        from = i + 1
        state.indexedTo = position + from
        this.onLine(state, bytes.toString('utf8', 0, end), state.indexedTo)
      }
      if (from < bytesRead) {
        const rest = Buffer.from(buf.subarray(from, bytesRead))
        carry = carry ? Buffer.concat([carry, rest]) : rest
      }
      position += bytesRead
    }
  }
}

export class AfterIdIndex {
  readonly #files: GrowingFiles<FileIndex>

  /** `idsOf(line)`: the ids a line mentions; `UNSTABLE_ID` for an id made anew on each read. */
  constructor(idsOf: (line: string) => string[]) {
    this.#files = new GrowingFiles<FileIndex>(
      (head) => ({ head, indexedTo: 0, maxId: '', checkpoints: [{ offset: 0, maxBefore: '' }] }),
      (index, line, nextLine) => {
        for (const id of line ? idsOf(line) : []) if (id > index.maxId) index.maxId = id
        if (nextLine >= index.checkpoints[index.checkpoints.length - 1].offset + CHECKPOINT_BYTES) index.checkpoints.push({ offset: nextLine, maxBefore: index.maxId })
      },
    )
  }

  /**
   * The furthest position in `files` (oldest first) before which no line mentions an id above
   * `afterId` (with `inclusive`: an id at or above it, for a read of `afterId` itself).
   */
  start(files: readonly SnapshotFile[], afterId: string, inclusive = false): Promise<StartPosition> {
    return this.#files.serial(() => this.#start(files, afterId, inclusive))
  }

  /** The greatest id the complete lines of `files` mention (UNSTABLE_ID after a line without its own id). */
  maxId(files: readonly SnapshotFile[]): Promise<string> {
    return this.#files.serial(async () => {
      let max = ''
      for (const f of files) {
        const index = await this.#files.get(f)
        if (index.maxId > max) max = index.maxId
      }
      return max
    })
  }

  async #start(files: readonly SnapshotFile[], afterId: string, inclusive: boolean): Promise<StartPosition> {
    const below = (id: string): boolean => (inclusive ? id < afterId : id <= afterId)
    const seen = new Set<string>()
    let best: StartPosition = { file: 0, offset: 0 }
    let blocked = false
    // Files are walked only while everything before the current one is at or below afterId.
    for (let k = 0; k < files.length; k++) {
      const f = files[k]
      seen.add(f.inode)
      if (blocked) continue
      const index = await this.#files.get(f)
      // The last checkpoint with nothing above afterId before it (maxBefore grows along the file;
      // the first, at offset 0, always qualifies).
      const cps = index.checkpoints
      let lo = 1
      let hi = cps.length - 1
      let found = 0
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        if (below(cps[mid].maxBefore)) {
          found = mid
          lo = mid + 1
        } else hi = mid - 1
      }
      best = { file: k, offset: cps[found].offset }
      // The file's unindexed end (a line being written) may hold anything: stop there.
      if (!below(index.maxId) || index.indexedTo < f.size) {
        blocked = true
        continue
      }
      // The whole file is at or below afterId: the next one can start at its beginning.
      best = { file: k + 1, offset: 0 }
    }
    this.#files.keepOnly(seen)
    return best
  }
}

interface FileCounts extends FileState {
  inserts: number
  deletions: number
}

/**
 * An estimate of the events in the files, kept up to date as they grow (each byte read once, no
 * JSON parsed): lines that are inserts minus deletion markers, told apart by how they begin. A
 * duplicate insert counts twice and a line that is not an event once: an estimate, for `/health`,
 * that costs no more than the bytes written since the last call and holds no events.
 */
export class LineCounts {
  readonly #files = new GrowingFiles<FileCounts>(
    (head) => ({ head, indexedTo: 0, inserts: 0, deletions: 0 }),
    (c, line) => {
      const t = line.trimStart()
      if (t.startsWith('{"deleted_event_id"')) c.deletions++
      else if (t.startsWith('{') && !t.startsWith('{"updated_event"')) c.inserts++
    },
  )

  /** Inserts minus deletions over `files` (what is unterminated at their ends is not counted). */
  estimate(files: readonly SnapshotFile[]): Promise<number> {
    return this.#files.serial(async () => {
      let n = 0
      for (const f of files) {
        const c = await this.#files.get(f)
        n += c.inserts - c.deletions
      }
      this.#files.keepOnly(new Set(files.map((f) => f.inode)))
      return Math.max(0, n)
    })
  }
}

async function readHead(f: SnapshotFile): Promise<string> {
  const n = Math.min(HEAD_BYTES, f.size)
  if (n === 0) return ''
  const buf = Buffer.alloc(n)
  const { bytesRead } = await f.fh.read(buf, 0, n, 0)
  return buf.toString('latin1', 0, bytesRead)
}
