/**
 * A FIFO of items with a running byte total: amortised O(1) push and shift without the O(n)
 * cost of `Array.prototype.shift` on large arrays (the head index moves; storage is compacted
 * when more than half of it is dead).
 */
export class ByteQueue<T> {
  #items: T[] = []
  #sizes: number[] = []
  #head = 0
  #bytes = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  get bytes(): number {
    return this.#bytes
  }

  push(item: T, size: number): void {
    this.#items.push(item)
    this.#sizes.push(size)
    this.#bytes += size
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#bytes -= this.#sizes[this.#head]
    this.#items[this.#head] = undefined as T
    this.#head++
    this.#compact()
    return item
  }

  /** Remove and return up to `maxItems` items whose sizes add up to at most `maxBytes` (at least one). */
  take(maxItems: number, maxBytes: number): T[] {
    const out: T[] = []
    let bytes = 0
    while (this.#head < this.#items.length && out.length < maxItems) {
      const size = this.#sizes[this.#head]
      if (out.length > 0 && bytes + size > maxBytes) break
      bytes += size
      out.push(this.#items[this.#head])
      this.#items[this.#head] = undefined as T
      this.#head++
    }
    this.#bytes -= bytes
    this.#compact()
    return out
  }

  /** Remove and return everything. */
  drain(): T[] {
    const out = this.#items.slice(this.#head)
    this.#items = []
    this.#sizes = []
    this.#head = 0
    this.#bytes = 0
    return out
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = []
      this.#sizes = []
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#sizes = this.#sizes.slice(this.#head)
      this.#head = 0
    }
  }
}
