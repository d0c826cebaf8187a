import { closeSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname } from 'node:path'

/**
 * Size rotation of an NDJSON file that several processes may append to at once: the library's
 * default file is also `madsci-events serve`'s default store, and several programs of one project
 * log to it. Rotation is `path` → `path.1` → `path.2` ... as Python's `RotatingFileHandler`, but
 * done by one process at a time (a lock file next to it), and only when the file this process
 * appends to is still `path` and still too large: a second process that reached the limit at the
 * same moment finds the work done and reopens `path` instead of shifting the numbers again (two
 * shifts at once renamed one file over another and lost it). Synchronous, as the writes it follows
 * (they must be possible at `process.exit`); it takes a few system calls.
 */

/** What a rotation attempt did. */
export type RotationOutcome =
  /** This process rotated: `path` is new. */
  | 'rotated'
  /** `path` is not the file this process appends to any more (another process rotated it): reopen. */
  | 'moved'
  /** `path` is below the limit after all. */
  | 'small'
  /** Another live process is rotating right now: try again at a later write. */
  | 'busy'

/** A lock older than this is taken over whoever holds it: a rotation takes milliseconds. */
const STALE_LOCK_MS = 30_000

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code

/** Only a file that is already gone is no error: anything else (EACCES, EBUSY, EXDEV...) is thrown. */
function ignoreMissing(fn: () => void): void {
  try {
    fn()
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err
  }
}

/** The numbers of the rotations of `path` (`path.1`, `path.2`, ...), ascending. */
export function rotationNumbers(names: readonly string[], path: string): number[] {
  const base = basename(path)
  return names
    .map((n) => (n.startsWith(base + '.') ? Number(n.slice(base.length + 1)) : Number.NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => a - b)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return code(err) === 'EPERM'
  }
}

/** Take the rotation lock; false when a live process holds it. A lock left by a dead one is taken over. */
function lock(lockPath: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx')
      try {
        writeSync(fd, `${process.pid}\n`)
      } finally {
        closeSync(fd)
      }
      return true
    } catch (err) {
      if (code(err) !== 'EEXIST') throw err
    }
    let pid = 0
    let age = Number.POSITIVE_INFINITY
    try {
      pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10)
      age = Date.now() - statSync(lockPath).mtimeMs
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err
      continue // released meanwhile
    }
    const stale = age > STALE_LOCK_MS || (pid > 0 && pid !== process.pid && !alive(pid))
    if (!stale) return false
    ignoreMissing(() => unlinkSync(lockPath))
  }
  return false
}

/** `dev:ino` of a file, or undefined when it does not exist. */
export function fileIdentity(path: string): { id: string; size: number } | undefined {
  try {
    const st = statSync(path)
    return { id: `${st.dev}:${st.ino}`, size: st.size }
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined
    throw err
  }
}

/**
 * Rotate `path` if the file this process appends to (`ownId`, `dev:ino`) is still `path` and has
 * reached `maxBytes`. `maxFiles` rotations are kept (0: all). Errors other than a file already gone
 * are thrown: the caller reports them (a refused rename must not pass for a rotation).
 */
export function rotateFile(path: string, ownId: string, maxBytes: number, maxFiles: number): RotationOutcome {
  const lockPath = `${path}.rotating`
  if (!lock(lockPath)) return 'busy'
  try {
    const now = fileIdentity(path)
    if (!now || now.id !== ownId) return 'moved'
    if (now.size < maxBytes) return 'small'
    const numbers = rotationNumbers(readdirSync(dirname(path)), path)
    // From the oldest: .n → .n+1 (nothing past maxFiles kept), then path → .1.
    for (let k = numbers.length - 1; k >= 0; k--) {
      const from = `${path}.${numbers[k]}`
      if (maxFiles > 0 && numbers[k] >= maxFiles) ignoreMissing(() => unlinkSync(from))
      else ignoreMissing(() => renameSync(from, `${path}.${numbers[k] + 1}`))
    }
    renameSync(path, `${path}.1`)
    return 'rotated'
  } finally {
    ignoreMissing(() => unlinkSync(lockPath))
  }
}
