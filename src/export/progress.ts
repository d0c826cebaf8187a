/**
 * A progress line for long exports (`madsci-events export … --format csv|ndjson`): drawn on a
 * terminal only. When the stream is not a TTY (a pipe, a file, CI logs) nothing is written, so
 * redirected output stays clean. Redraws are throttled; the line is rewritten in place with `\r`.
 */

export interface ProgressOptions {
  /** Where to draw. Default `process.stderr` (stdout usually carries the export itself). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  /** Expected total, when known (a bar and an ETA are drawn then). */
  total?: number
  /** Text before the bar. Default `Exporting`. */
  label?: string
  /** Unit after the counts. Default `events`. */
  unit?: string
  /** Minimum time between redraws. Default 100 ms (10 redraws a second are smooth and cheap). */
  minIntervalMs?: number
  /** Clock in ms (tests). Default `Date.now`. */
  now?: () => number
  /** Draw even when the stream is not a TTY (tests, `--progress` forced). Default false. */
  force?: boolean
}

function group(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`
}

export class ProgressBar {
  readonly enabled: boolean
  readonly #stream: NonNullable<ProgressOptions['stream']>
  readonly #label: string
  readonly #unit: string
  readonly #interval: number
  readonly #now: () => number
  readonly #started: number
  #total: number | undefined
  #count = 0
  #lastDraw = -Infinity
  #drawn = false
  #finished = false

  constructor(options: ProgressOptions = {}) {
    this.#stream = options.stream ?? process.stderr
    this.enabled = options.force === true || this.#stream.isTTY === true
    this.#total = options.total
    this.#label = options.label ?? 'Exporting'
    this.#unit = options.unit ?? 'events'
    this.#interval = options.minIntervalMs ?? 100
    this.#now = options.now ?? Date.now
    this.#started = this.#now()
  }

  /** Report the count so far (and the total if it became known). Cheap when nothing is drawn. */
  update(count: number, total?: number): void {
    this.#count = count
    if (total !== undefined) this.#total = total
    if (!this.enabled || this.#finished) return
    const t = this.#now()
    if (t - this.#lastDraw < this.#interval) return
    this.#lastDraw = t
    this.#draw(t)
  }

  /** The line as it would be drawn now. */
  render(now = this.#now()): string {
    const elapsed = Math.max(0.001, (now - this.#started) / 1000)
    const rate = this.#count / elapsed
    const counts = this.#total !== undefined ? `${group(this.#count)}/${group(this.#total)} ${this.#unit}` : `${group(this.#count)} ${this.#unit}`
    const speed = `${group(rate)}/s`
    if (this.#total !== undefined && this.#total > 0) {
      const frac = Math.min(1, this.#count / this.#total)
      const pct = `${Math.floor(frac * 100)}%`.padStart(4)
      const eta = this.#count >= this.#total ? duration(elapsed) : `ETA ${duration((this.#total - this.#count) / Math.max(rate, 1e-9))}`
      const tail = ` ${pct} ${counts} ${speed} ${eta}`
      const columns = this.#stream.columns ?? 80
      const barWidth = Math.max(10, Math.min(40, columns - this.#label.length - tail.length - 4))
      const filled = Math.round(frac * barWidth)
      return `${this.#label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${tail}`
    }
    return `${this.#label} ${counts} ${speed} ${duration(elapsed)}`
  }

  #draw(now: number): void {
    this.#stream.write(`\r${this.render(now)}\x1b[K`)
    this.#drawn = true
  }

  /** Draw the final state and end the line (or print `message` in its place). */
  finish(message?: string): void {
    if (this.#finished) return
    this.#finished = true
    if (!this.enabled) return
    if (message !== undefined) this.#stream.write(`${this.#drawn ? '\r' : ''}${message}\x1b[K\n`)
    else {
      this.#draw(this.#now())
      this.#stream.write('\n')
    }
  }
}
