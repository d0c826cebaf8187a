import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createEventLogger } from '../../src/index.js'

describe('alerts from the logger', () => {
  it('an ERROR, or alert: true at any level, reaches the notifiers; INFO does not; close sends what is pending', async () => {
    const received: Array<{ event?: { event_type: string; log_level: number } }> = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        received.push(JSON.parse(body))
        res.end('ok')
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    const file = join(await mkdtemp(join(tmpdir(), 'madsci-alerts-')), 'e.ndjson')
    const logger = createEventLogger({ file, env: {}, alerts: { notifiers: [{ type: 'webhook', url }] } })
    logger.info('fine')
    logger.error('pump failed', { event_type: 'node_error' })
    logger.info('operator attention', { alert: true })
    await logger.close()
    await new Promise<void>((r) => server.close(() => r()))
    const kinds = received.map((r) => JSON.stringify(r))
    expect(received.length).toBeGreaterThanOrEqual(2)
    expect(kinds.some((k) => k.includes('node_error'))).toBe(true)
    expect(kinds.some((k) => k.includes('operator attention'))).toBe(true)
    expect(kinds.some((k) => k.includes('"fine"'))).toBe(false)
  })
})
