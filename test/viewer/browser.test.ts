import type { Page, Request } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { newUlid } from '../../src/event/ulid.js'
import type { Running } from '../server/helpers.js'
import { artifactPath, type Browser, chromium, DroppableProxy, launchBrowser, pageIds, pageStats, postBatch, startViewerServer, waitForLoaded, waitForState } from './support.js'

/**
 * The live event viewer in a real browser (Debian's Chromium through playwright-core) against our
 * server on FerretDB: live events appear, filters go to the server and into the URL, a dropped
 * connection and a server restart resume without gaps, the detail view shows the stored event
 * exactly, history pages back, 10 000 events stream in at ~1 000/s into a virtualised list, and
 * with auth on the token is asked once and kept for the tab only.
 */

if (!chromium.path) process.stderr.write(`\nSKIPPED: the viewer's browser tests need Chromium: ${chromium.reason}\n\n`)

const NODE_A = newUlid()
const NODE_B = newUlid()

type Wire = Record<string, unknown> & { _id: string }

function ev(type: string, level: number, message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { event_type: type, log_level: level, event_data: { message }, ...extra }
}

async function get(url: string, token?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  return { status: res.status, text: await res.text() }
}

describe.skipIf(!chromium.path)(`live viewer in Chromium${chromium.path ? '' : ` (skipped: ${chromium.reason})`}`, () => {
  let browser: Browser
  const servers: Running[] = []

  beforeAll(async () => {
    browser = await launchBrowser()
  })
  /** Uncaught errors in any page of the current test: each test ends with none. */
  let pageErrors: string[] = []
  afterEach(() => {
    const errors = pageErrors
    pageErrors = []
    expect(errors).toEqual([])
  })
  afterAll(async () => {
    await browser?.close()
    for (const s of servers) await s.close().catch(() => undefined)
  })

  async function serve(name: string, options: Parameters<typeof startViewerServer>[1] = {}): Promise<Running> {
    const r = await startViewerServer(name, options)
    servers.push(r)
    return r
  }

  async function open(url: string): Promise<{ page: Page; requests: Request[] }> {
    const page = await browser.page()
    const requests: Request[] = []
    page.on('request', (r) => requests.push(r))
    page.on('pageerror', (err) => pageErrors.push(err.stack ?? err.message))
    await page.goto(url)
    return { page, requests }
  }

  it('shows posted events live, newest first, with alerts and errors highlighted, loading nothing from elsewhere', async () => {
    const s = await serve('live')
    const seeded = await postBatch(s.url, [
      ...Array.from({ length: 28 }, (_, i) => ev(i % 2 ? 'workflow_start' : 'log_info', 20, `seed ${i}`, { source: { node_id: NODE_A } })),
      ev('node_error', 40, 'gripper jammed', { source: { node_id: NODE_B } }),
      ev('log_warning', 30, 'temperature drifting'),
    ])
    const { page, requests } = await open(`${s.url}/`)
    await waitForLoaded(page, 30)
    await waitForState(page, 'live')
    expect(await pageIds(page)).toEqual([...seeded].reverse())

    const live: string[] = []
    for (let i = 0; i < 5; i++) live.push(...(await postBatch(s.url, [ev('action_start', 20, `live ${i}`)])))
    live.push(...(await postBatch(s.url, [ev('node_error', 50, 'sample dropped', { alert: true, source: { node_id: NODE_B } }), ev('action_complete', 20, 'done')])))
    await waitForLoaded(page, 37)
    expect(await pageIds(page)).toEqual([...seeded, ...live].reverse())

    // The top rows are the newest events, rendered in the list.
    const rows = page.locator('#list .row:not([hidden])')
    const first = rows.filter({ hasText: 'done' })
    await expect.poll(() => first.count()).toBe(1)
    const alertRow = page.locator('#list .row.alert')
    await expect.poll(() => alertRow.count()).toBe(1)
    expect(await alertRow.getAttribute('class')).toContain('lv-critical')
    expect(await alertRow.textContent()).toContain('sample dropped')
    expect(await page.locator('#list .row.lv-error').filter({ hasText: 'gripper jammed' }).count()).toBe(1)
    expect(await page.locator('#loaded').textContent()).toBe('37 loaded · 1 alerts · 2 errors')

    // Counts per level and type: from /events/aggregate over the last 24 hours when the server has
    // the route (with the chart), else from the loaded events (chart hidden). Here both are the
    // 37 events of this test's database.
    const hasAggregate = s.server.routes.some((r) => r.path === '/events/aggregate')
    if (hasAggregate) await page.reload()
    await expect.poll(async () => (await pageStats(page)).aggregate).toBe(hasAggregate ? 'available' : 'missing')
    await waitForLoaded(page, 37)
    expect(await page.locator('#chart').isHidden()).toBe(!hasAggregate)
    await expect.poll(() => page.locator('#levels [data-level="20"]').textContent()).toBe('INFO 34')
    expect(await page.locator('#levels [data-level="50"]').textContent()).toBe('CRITICAL 1')
    expect(await page.locator('#typecounts [data-type="log_info"]').textContent()).toBe('log_info 14')
    if (hasAggregate) {
      expect(await page.locator('#chart rect.bar').count()).toBeGreaterThan(0)
      expect(await page.locator('#chart-caption').textContent()).toMatch(/^37 events in \d+ hours, /)
    }

    // Pause holds the rows in view still while events keep arriving (and are kept); resume jumps to them.
    const newest = (await pageIds(page))[0]
    await page.click('#pause')
    expect(await page.locator('#conn').textContent()).toBe('paused')
    const [held] = await postBatch(s.url, [ev('log_info', 20, 'held while paused')])
    await waitForLoaded(page, 38)
    expect((await pageIds(page))[0]).toBe(held)
    await expect.poll(() => page.locator('#newer').textContent()).toBe('↑ 1 newer')
    const firstInView = (): Promise<string | null> =>
      page.locator('#list').evaluate((el) => el.querySelector(`.row[data-index="${Math.ceil(el.scrollTop / 22)}"]`)?.getAttribute('data-id') ?? null)
    await expect.poll(firstInView).toBe(newest)
    await page.click('#pause')
    await expect.poll(firstInView).toBe(held)
    expect(await page.locator('#conn').textContent()).toBe('live')
    expect(await page.locator('#newer').isHidden()).toBe(true)

    // Self-contained: every request went to our server.
    const origins = new Set(requests.map((r) => new URL(r.url()).origin))
    expect([...origins]).toEqual([new URL(s.url).origin])
    await page.screenshot({ path: artifactPath('viewer-live.png') })
    await page.close()
  })

  it('applies level, type, source and text filters, puts them in the URL, and restores a view from its URL', async () => {
    const s = await serve('filters')
    const posted = await postBatch(s.url, [
      ev('node_error', 40, 'pump A stalled', { source: { node_id: NODE_A } }),
      ev('node_error', 40, 'pump B stalled', { source: { node_id: NODE_B } }),
      ev('action_failed', 40, 'pipette A failed', { source: { node_id: NODE_A } }),
      ev('log_info', 20, 'pump A started', { source: { node_id: NODE_A } }),
      ev('log_debug', 10, 'debug A', { source: { node_id: NODE_A } }),
      ev('node_error', 50, 'pump A on fire', { source: { node_id: NODE_A }, alert: true }),
    ])
    const [pumpA, pumpB, pipette, , , fire] = posted
    const { page } = await open(`${s.url}/ui`)
    await waitForLoaded(page, 6)

    await page.selectOption('#f-level', '40')
    await waitForLoaded(page, 4)
    expect(new URL(page.url()).searchParams.get('level')).toBe('40')
    expect(await pageIds(page)).toEqual([fire, pipette, pumpB, pumpA])
    // Live events are filtered by the server too.
    const [liveErr] = await postBatch(s.url, [ev('node_error', 40, 'pump A again', { source: { node_id: NODE_A } }), ev('log_info', 20, 'not shown')])
    await waitForLoaded(page, 5)
    expect((await pageIds(page))[0]).toBe(liveErr)

    // Types: tick one in the dropdown.
    await page.click('#f-types summary')
    await page.fill('#f-types-find', 'node_err')
    await page.check('#f-types-list input[value="node_error"]')
    await waitForLoaded(page, 4)
    expect(new URL(page.url()).searchParams.get('type')).toBe('node_error')
    expect(await page.locator('#f-types-label').textContent()).toBe('node_error')
    await page.click('#f-types summary')

    // Source fields.
    await page.fill('#f-source', `node_id=${NODE_A}`)
    await page.press('#f-source', 'Enter')
    await waitForLoaded(page, 3)
    expect(new URL(page.url()).searchParams.get('source.node_id')).toBe(NODE_A)
    expect(await pageIds(page)).toEqual([liveErr, fire, pumpA])

    // Free text (applied in the page to what is loaded).
    await page.fill('#f-text', 'FIRE')
    await page.waitForFunction(() => (window as unknown as { madsciViewer: { stats(): { shown: number } } }).madsciViewer.stats().shown === 1)
    expect(await pageIds(page)).toEqual([fire])
    expect(new URL(page.url()).searchParams.get('q')).toBe('FIRE')
    expect(await page.locator('#loaded').textContent()).toBe('1 of 3 loaded · 1 alerts · 3 errors')

    // The URL is the view: a second tab opened on it shows the same events and controls.
    const shared = page.url()
    const { page: other } = await open(shared)
    await waitForLoaded(other, 3)
    expect(await pageIds(other)).toEqual([fire])
    expect(await other.inputValue('#f-level')).toBe('40')
    expect(await other.inputValue('#f-source')).toBe(`node_id=${NODE_A}`)
    expect(await other.inputValue('#f-text')).toBe('FIRE')
    expect(await other.isChecked('#f-types-list input[value="node_error"]')).toBe(true)
    await other.close()

    // Alerts only, then clear everything.
    await page.fill('#f-text', '')
    await page.check('#f-alerts')
    await waitForLoaded(page, 1)
    expect(new URL(page.url()).searchParams.get('alerts')).toBe('1')
    await page.click('#f-clear')
    await waitForLoaded(page, 8)
    expect(new URL(page.url()).search).toBe('')
    await page.close()
  })

  it('resumes without gaps after a dropped connection and after a server restart', async () => {
    const s1 = await serve('resume', { keepDatabase: true })
    const proxy = new DroppableProxy(Number(new URL(s1.url).port))
    const viaProxy = await proxy.listen()
    try {
      const expected = await postBatch(s1.url, Array.from({ length: 10 }, (_, i) => ev('log_info', 20, `before ${i}`)))
      const { page } = await open(`${viaProxy}/`)
      await waitForLoaded(page, 10)
      await waitForState(page, 'live')
      const connectionsBefore = (await pageStats(page)).connections

      // 1. The network drops; events keep coming while the page is cut off.
      proxy.drop()
      await page.waitForFunction(() => (window as unknown as { madsciViewer: { stats(): { state: string } } }).madsciViewer.stats().state !== 'live')
      for (let i = 0; i < 5; i++) expected.push(...(await postBatch(s1.url, Array.from({ length: 5 }, (_, j) => ev('log_info', 20, `during drop ${i}.${j}`)))))
      proxy.resume()
      await waitForLoaded(page, 35)
      await waitForState(page, 'live')
      expected.push(...(await postBatch(s1.url, [ev('log_info', 20, 'after drop')])))
      await waitForLoaded(page, 36)
      let ids = await pageIds(page)
      expect(new Set(ids).size).toBe(ids.length)
      expect([...ids].sort()).toEqual([...expected].sort())
      expect((await pageStats(page)).connections).toBeGreaterThan(connectionsBefore)

      // 2. The server restarts (a new process on the same database); events arrive at the new
      //    one before the page is back.
      proxy.drop()
      await s1.server.close()
      const s2 = await serve('resume-2', { database: s1.database })
      proxy.target = Number(new URL(s2.url).port)
      for (let i = 0; i < 4; i++) expected.push(...(await postBatch(s2.url, Array.from({ length: 5 }, (_, j) => ev('log_info', 20, `while away ${i}.${j}`)))))
      proxy.resume()
      await waitForLoaded(page, 56)
      await waitForState(page, 'live')
      expected.push(...(await postBatch(s2.url, [ev('log_info', 20, 'back again')])))
      await waitForLoaded(page, 57)
      ids = await pageIds(page)
      expect(new Set(ids).size).toBe(ids.length)
      expect([...ids].sort()).toEqual([...expected].sort())
      await page.close()
    } finally {
      await proxy.close()
    }
  })

  it('shows the stored event exactly in the detail view, and opens it from a shared URL', async () => {
    const s = await serve('detail')
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const [other, id] = await postBatch(s.url, [
      ev('log_info', 20, 'another'),
      {
        event_type: 'experiment_failed',
        log_level: 40,
        alert: true,
        source: { experiment_id: newUlid(), node_id: NODE_A },
        event_data: { z: 1, '10': 'ten', '2': 'two', nested: { list: [1, 2.5, 'x', null, true], empty: {}, none: [] }, text: 'µ → "quoted" \\ back {not: json}, [1]' },
        trace_id: traceId,
        span_id: '00f067aa0ba902b7',
      },
    ])
    const stored = await get(`${s.url}/event/${id}`)
    expect(stored.status).toBe(200)

    const { page } = await open(`${s.url}/`)
    await waitForLoaded(page, 2)
    await page.locator('#list .row', { hasText: 'experiment_failed' }).click()
    await page.waitForFunction((id) => document.getElementById('detail-note')?.textContent === `Stored event ${id}`, id)
    const shown = (await page.locator('#detail-json').textContent()) as string
    // The same JSON text as the server's, only indented: same keys in the same order, same numbers.
    expect(shown.replace(/\n\s*/g, '').replace(/": /g, '":')).toBe(stored.text)
    expect(JSON.parse(shown)).toEqual(JSON.parse(stored.text))
    expect(await page.locator('#detail-title').textContent()).toContain('experiment_failed · ERROR')
    expect(new URL(page.url()).searchParams.get('event')).toBe(id)
    await page.screenshot({ path: artifactPath('viewer-detail.png') })

    // The detail's URL opens the same event in another tab; keyboard moves to the next one.
    const { page: second } = await open(page.url())
    await second.waitForFunction((id) => document.getElementById('detail-note')?.textContent === `Stored event ${id}`, id)
    expect(await second.locator('#detail-json').textContent()).toBe(shown)
    await second.locator('#list').focus()
    await second.keyboard.press('ArrowDown')
    await second.waitForFunction((id) => document.getElementById('detail-note')?.textContent === `Stored event ${id}`, other)
    await second.close()
    await page.click('#detail-close')
    expect(await page.locator('#detail').isHidden()).toBe(true)
    expect(new URL(page.url()).searchParams.get('event')).toBeNull()
    await page.close()
  })

  it('pages back through history to the first event', async () => {
    const s = await serve('history')
    const posted: string[] = []
    for (let b = 0; b < 3; b++) posted.push(...(await postBatch(s.url, Array.from({ length: 150 }, (_, i) => ev('log_info', 20, `old ${b * 150 + i}`)))))
    const { page } = await open(`${s.url}/`)
    await waitForLoaded(page, 200)
    expect((await pageStats(page)).more).toBe(true)
    // Scrolling to the end loads the next pages.
    for (const n of [400, 450]) {
      await page.locator('#list').evaluate((el) => (el.scrollTop = el.scrollHeight))
      await waitForLoaded(page, n)
    }
    await page.locator('#list').evaluate((el) => (el.scrollTop = el.scrollHeight))
    await expect.poll(() => page.locator('#list-foot').textContent()).toBe('Beginning of history.')
    expect(await pageIds(page)).toEqual([...posted].reverse())
    expect((await pageStats(page)).more).toBe(false)

    // Scrolled down, new events do not move what is being read; a badge counts them.
    const topRow = (): Promise<string | null> =>
      page.locator('#list').evaluate((el) => el.querySelector(`.row[data-index="${Math.ceil(el.scrollTop / 22)}"]`)?.getAttribute('data-id') ?? null)
    const reading = await topRow()
    expect(reading).toBe(posted[posted.length - 1 - Math.ceil((await page.locator('#list').evaluate((el) => el.scrollTop)) / 22)])
    const fresh = await postBatch(s.url, [ev('log_info', 20, 'new 1'), ev('log_info', 20, 'new 2'), ev('log_info', 20, 'new 3')])
    await waitForLoaded(page, 453)
    await expect.poll(() => page.locator('#newer').textContent()).toBe('↑ 3 newer')
    await expect.poll(topRow).toBe(reading)
    await page.click('#newer')
    await expect.poll(() => page.locator('#list .row[data-index="0"]').getAttribute('data-id')).toBe(fresh[2])
    expect(await page.locator('#newer').isHidden()).toBe(true)
    await page.close()
  })

  it('takes 10 000 events streamed at about 1 000 per second into a virtualised list, rendering in batches', async () => {
    const s = await serve('volume')
    const { page } = await open(`${s.url}/`)
    await waitForState(page, 'live')
    const posted: string[] = []
    // 100 events every 100 ms (requests overlap when the store is slower: the rate is a target).
    const inFlight: Array<Promise<string[]>> = []
    for (let i = 0; i < 100; i++) {
      inFlight.push(postBatch(s.url, Array.from({ length: 100 }, (_, j) => ev(j % 10 === 0 ? 'node_error' : 'log_info', j % 10 === 0 ? 40 : 20, `burst ${i}.${j}`, { alert: j === 99 }))))
      await new Promise((r) => setTimeout(r, 100))
    }
    for (const p of inFlight) posted.push(...(await p))
    await waitForLoaded(page, 10_000, 120_000)
    const stats = await pageStats(page)
    const ids = await pageIds(page)
    expect(new Set(ids).size).toBe(10_000)
    expect([...ids].sort()).toEqual([...posted].sort())
    // Virtualised: a screenful of rows in the DOM, not 10 000.
    expect(stats.rows).toBeGreaterThan(10)
    expect(stats.rows).toBeLessThan(120)
    // Batched: many events per DOM pass.
    expect(stats.flushes).toBeLessThan(stats.received / 5)
    // Deep in the list, the rows shown are the right events.
    await page.locator('#list').evaluate((el) => (el.scrollTop = 5000 * 22))
    const row = page.locator('#list .row[data-index="5005"]')
    await expect.poll(() => row.getAttribute('data-id')).toBe(ids[5005])
    await row.click()
    await page.waitForFunction((id) => document.getElementById('detail-note')?.textContent === `Stored event ${id}`, ids[5005])
    await page.screenshot({ path: artifactPath('viewer-10k.png') })
    await page.close()
  })

  it('asks for the token once when auth is on and keeps it for the tab only', async () => {
    const token = `viewer-${newUlid()}`
    const s = await serve('auth', { settings: { auth_token: token } })
    await postBatch(s.url, [ev('log_info', 20, 'secret event 1'), ev('node_error', 40, 'secret event 2')], token)
    // The page itself is public; the data is not.
    expect((await get(`${s.url}/`)).status).toBe(200)
    expect((await get(`${s.url}/ui/api/events`)).status).toBe(401)

    const { page, requests } = await open(`${s.url}/`)
    await page.locator('#login').waitFor({ state: 'visible' })
    await page.fill('#login-token', 'wrong-token')
    await page.click('#login-submit')
    await expect.poll(() => page.locator('#login-error').textContent()).toBe('The server refused that token.')
    await page.fill('#login-token', token)
    await page.click('#login-submit')
    await waitForLoaded(page, 2)
    await waitForState(page, 'live')
    await postBatch(s.url, [ev('log_info', 20, 'secret event 3')], token)
    await waitForLoaded(page, 3)
    expect(await page.locator('#login').isHidden()).toBe(true)

    // Kept in sessionStorage only: not localStorage, not a cookie.
    const storage = await page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage }, cookie: document.cookie }))
    expect(Object.values(storage.session)).toEqual([token])
    expect(storage.local).toEqual({})
    expect(storage.cookie).toBe('')
    // API calls carry the bearer header; the stream (EventSource cannot) carries access_token.
    const history = requests.filter((r) => r.url().includes('/ui/api/events') && r.url().includes('number=200'))
    expect(history.length).toBeGreaterThan(0)
    expect((await history[history.length - 1].allHeaders()).authorization).toBe(`Bearer ${token}`)
    const stream = requests.find((r) => new URL(r.url()).pathname === '/events/stream')
    expect(new URL(stream?.url() as string).searchParams.get('access_token')).toBe(token)

    // A reload in the same tab does not ask again.
    await page.reload()
    await waitForLoaded(page, 3)
    expect(await page.locator('#login').isHidden()).toBe(true)
    await page.screenshot({ path: artifactPath('viewer-auth.png') })
    await page.close()

    // A new tab is a new session: asked again.
    const { page: fresh } = await open(`${s.url}/`)
    await fresh.locator('#login').waitFor({ state: 'visible' })
    expect(await fresh.evaluate(() => sessionStorage.length)).toBe(0)
    await fresh.screenshot({ path: artifactPath('viewer-login.png') })
    await fresh.close()
  })
})
