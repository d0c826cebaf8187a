/**
 * Hands each event of a time-ordered stream to the intervals that contain its time. Intervals are
 * sorted by start once; the active list holds only those open at the current time, so the cost
 * per event is the number of overlapping intervals (a few sessions), not the number of intervals.
 */
export interface Interval {
  readonly start: number
  readonly end: number
}

export class IntervalFeeder<T extends Interval> {
  readonly #pending: T[]
  #next = 0
  #active: T[] = []

  constructor(intervals: readonly T[]) {
    this.#pending = [...intervals].sort((a, b) => a.start - b.start)
  }

  #last = -Infinity

  /**
   * The intervals with start ≤ t ≤ end, in start order. Times should not decrease between calls;
   * a time earlier than the last one is answered correctly among the intervals still open.
   */
  at(t: number): readonly T[] {
    if (t < this.#last) return this.#active.filter((iv) => iv.start <= t && iv.end >= t)
    this.#last = t
    while (this.#next < this.#pending.length && this.#pending[this.#next].start <= t) this.#active.push(this.#pending[this.#next++])
    if (this.#active.length && this.#active.some((iv) => iv.end < t)) this.#active = this.#active.filter((iv) => iv.end >= t)
    return this.#active
  }
}
