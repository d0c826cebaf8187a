import { type IncomingHttpHeaders, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Event, type EventInput, parseEvent } from '../../../src/event/index.js'
import type { PluginContext } from '../../../src/plugins.js'

/** A PluginContext that keeps what the dispatcher logs, each validated as a MADSci event. */
export function recordingContext(): { context: PluginContext; events: Event[] } {
  const events: Event[] = []
  return {
    events,
    context: {
      log(input: EventInput) {
        events.push(parseEvent(input))
      },
    },
  }
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.parse('2026-04-09T12:00:00Z')): { now: () => number; advance(ms: number): void; set(ms: number): void } {
  let t = start
  return {
    now: () => t,
    advance(ms: number) {
      t += ms
    },
    set(ms: number) {
      t = ms
    },
  }
}

let seq = 0
/** A MADSci event, as the pipeline hands it over. */
export function makeEvent(fields: Partial<EventInput> = {}): Event {
  seq++
  return parseEvent({
    event_type: 'node_error',
    log_level: 40,
    event_timestamp: `2026-04-09T12:00:00.${String(seq % 1_000_000).padStart(6, '0')}`,
    source: { node_id: '01JRB6Y0000000000000000000' },
    event_data: { message: `failure ${seq}` },
    ...fields,
  })
}

export interface ReceivedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

/** A real HTTP server recording each request; `respond` picks the answer (default 200). */
export async function startHttpReceiver(
  respond: (req: ReceivedRequest, index: number, res: ServerResponse) => { status: number; headers?: Record<string, string>; body?: string } | 'hang' = () => ({ status: 200 }),
): Promise<{ url: string; requests: ReceivedRequest[]; close(): Promise<void> }> {
  const requests: ReceivedRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const r: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      requests.push(r)
      const answer = respond(r, requests.length - 1, res)
      if (answer === 'hang') return
      res.writeHead(answer.status, answer.headers ?? { 'content-type': 'text/plain' })
      res.end(answer.body ?? '')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
