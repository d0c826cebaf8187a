// The null sink: the baseline condition for the logger's own cost. It implements the Sink
// interface (open/write/close, idempotent by contract) and only counts what it is given, so the
// measured cost is the logger and pipeline, never a store.

export class CountingSink {
  kind = 'null'
  target = 'null://counting-sink'
  events = 0
  batches = 0
  async open() {}
  async write(batch) {
    this.events += batch.length
    this.batches++
    return { delivered: batch.length, rejected: [] }
  }
  async close() {}
}
