/** The last `size` latencies, for p50/p99 in `stats()` without unbounded memory. */
export class LatencyWindow {
  readonly #values: Float64Array
  #count = 0
  #last = 0
  #max = 0

  constructor(size = 1024) {
    this.#values = new Float64Array(size)
  }

  add(ms: number): void {
    this.#values[this.#count % this.#values.length] = ms
    this.#count++
    this.#last = ms
    if (ms > this.#max) this.#max = ms
  }

  summary(): { last: number; p50: number; p99: number; max: number; count: number } {
    const n = Math.min(this.#count, this.#values.length)
    if (n === 0) return { last: 0, p50: 0, p99: 0, max: 0, count: 0 }
    const sorted = Array.from(this.#values.subarray(0, n)).sort((a, b) => a - b)
    const at = (q: number): number => round(sorted[Math.min(n - 1, Math.floor(q * n))])
    return { last: round(this.#last), p50: at(0.5), p99: at(0.99), max: round(this.#max), count: this.#count }
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
