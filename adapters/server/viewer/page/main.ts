/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The live event viewer. On load and on every change of the server-side filters it fetches the
 * newest page of history (`GET /ui/api/events`), then opens the live stream right after that
 * page's `live_cursor`, so the list has no gap between history and live. Stream events are queued
 * and applied once per animation frame (one DOM pass for however many arrived). Scrolling to the
 * end pages back through history.
 */
import { api, ApiError, AuthRequiredError, setToken } from './api.js'
import { DetailPanel } from './detail.js'
import { EventStore, fromWire, type ViewEvent } from './events.js'
import { ALL_TYPES, EMPTY_FILTERS, TYPE_DESCRIPTIONS, type Filters, filtersFromUrl, filtersToUrl, parseSourceText, sameServerFilters, serverParams, sourceText } from './filters.js'
import { VirtualList } from './list.js'
import { LiveStream, type StreamState } from './stream.js'
import { Summary } from './summary.js'

/** Events held in the page; past it the oldest are dropped (and can be paged back in). */
const MAX_EVENTS = 50_000
const PAGE_SIZE = 200
/** The aggregation scans the whole range on the server: once a minute is plenty for a chart. */
const SUMMARY_EVERY_MS = 60_000
const RETRY_MS = 3000

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (!el) throw new Error(`The page is missing #${id}`)
  return el as T
}

interface HistoryPage {
  events: Array<Record<string, unknown>>
  more: boolean
  live_cursor: string | null
}

const store = new EventStore(MAX_EVENTS)
let filters: Filters = { ...EMPTY_FILTERS }
let stream: LiveStream | undefined
/** Bumped on every reconnect; answers for an older generation are dropped. */
let generation = 0
let more = true
let loadingOlder = false
let pending: string[] = []
let flushScheduled = false
let paused = false
let received = 0
let flushes = 0
let lastError = ''

const ui = {
  conn: $('conn'),
  rate: $('rate'),
  loaded: $('loaded'),
  pause: $<HTMLButtonElement>('pause'),
  form: $<HTMLFormElement>('filters'),
  level: $<HTMLSelectElement>('f-level'),
  types: $<HTMLDetailsElement>('f-types'),
  typesLabel: $('f-types-label'),
  typesFind: $<HTMLInputElement>('f-types-find'),
  typesList: $('f-types-list'),
  typesNone: $<HTMLButtonElement>('f-types-none'),
  source: $<HTMLInputElement>('f-source'),
  text: $<HTMLInputElement>('f-text'),
  alerts: $<HTMLInputElement>('f-alerts'),
  clear: $<HTMLButtonElement>('f-clear'),
  error: $('f-error'),
  foot: $('list-foot'),
  newer: $<HTMLButtonElement>('newer'),
  login: $<HTMLDialogElement>('login'),
  loginForm: $<HTMLFormElement>('login-form'),
  loginToken: $<HTMLInputElement>('login-token'),
  loginError: $('login-error'),
}

const list = new VirtualList({
  el: $('list'),
  spacer: $('spacer'),
  foot: ui.foot,
  items: () => store.view,
  onSelect: (e) => void select(e.id),
  onNearEnd: () => {
    if (!store.text) void loadOlder()
  },
  onUnseen: (n) => {
    ui.newer.hidden = n === 0
    ui.newer.textContent = `↑ ${n.toLocaleString()} newer`
  },
})

const detail = new DetailPanel(
  { panel: $('detail'), title: $('detail-title'), note: $('detail-note'), json: $('detail-json'), copy: $<HTMLButtonElement>('detail-copy'), close: $<HTMLButtonElement>('detail-close') },
  () => {
    list.selectedId = null
    list.schedule()
    syncUrl()
  },
)

const summary = new Summary(
  { title: $('counts-title'), range: $<HTMLSelectElement>('range'), levels: $('levels'), types: $('typecounts'), chart: $('chart'), chartSvg: $('chart-svg'), caption: $('chart-caption') },
  store,
  (level) => setFilters({ ...filters, minLevel: level }),
  (type) => setFilters({ ...filters, types: [type] }),
)

// ------------------------------------------------------------------ auth

let loginWaiters: Array<() => void> = []

/** Ask for the token (once, however many requests are waiting for it). */
function login(invalid: boolean): Promise<void> {
  return new Promise((resolve) => {
    loginWaiters.push(resolve)
    if (ui.login.open) return
    ui.loginError.textContent = invalid ? 'The server refused that token.' : ''
    ui.loginToken.value = ''
    ui.login.showModal()
    ui.loginToken.focus()
  })
}

ui.loginForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  const token = ui.loginToken.value.trim()
  if (!token) return
  setToken(token)
  ui.loginError.textContent = 'Checking…'
  api('/ui/api/events', { params: new URLSearchParams({ number: '0' }) }).then(
    () => {
      ui.login.close()
      ui.loginError.textContent = ''
      const waiters = loginWaiters
      loginWaiters = []
      for (const w of waiters) w()
    },
    (err: unknown) => {
      if (err instanceof AuthRequiredError) setToken(null)
      ui.loginError.textContent = err instanceof AuthRequiredError ? 'The server refused that token.' : `Could not check the token: ${(err as Error).message}`
      ui.loginToken.select()
    },
  )
})
// The dialog cannot be dismissed without a token: nothing works without one.
ui.login.addEventListener('cancel', (ev) => ev.preventDefault())

/** Run a request, asking for the token when the server wants one. */
async function authed<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (!(err instanceof AuthRequiredError)) throw err
      if (err.invalid) setToken(null)
      await login(err.invalid)
    }
  }
}

// ------------------------------------------------------------------ history and live

function fetchHistory(before: string | null): Promise<HistoryPage> {
  const params = serverParams(filters)
  params.set('number', String(PAGE_SIZE))
  if (before) params.set('before', before)
  return authed(() => api<HistoryPage>('/ui/api/events', { params }))
}

function showError(message: string): void {
  lastError = message
  ui.error.textContent = message
}

function setConn(state: StreamState | 'paused' | 'error'): void {
  ui.conn.dataset.state = state
  ui.conn.textContent = state === 'live' ? 'live' : state === 'reconnecting' ? 'reconnecting…' : state
}

/** (Re)load: the newest history page for the filters, then the live stream after it. */
async function connect(): Promise<void> {
  const gen = ++generation
  stream?.stop()
  stream = undefined
  pending = []
  store.clear()
  more = true
  loadingOlder = false
  list.reset()
  renderFoot()
  setConn('connecting')
  let page: HistoryPage
  try {
    page = await fetchHistory(null)
  } catch (err) {
    if (gen !== generation) return
    setConn('error')
    showError(`Could not load events: ${(err as Error).message}; retrying`)
    setTimeout(() => gen === generation && void connect(), RETRY_MS)
    return
  }
  if (gen !== generation) return
  if (lastError) showError('')
  store.addOlder(page.events.map(fromWire))
  more = page.more
  list.update()
  renderFoot()
  renderHeader()
  summary.render()
  let refetch = page.live_cursor === null
  stream = new LiveStream({
    params: serverParams(filters),
    after: page.live_cursor,
    onEvents: (data) => {
      received++
      pending.push(data)
      scheduleFlush()
    },
    onState: (state) => {
      if (gen !== generation) return
      setConn(paused && state === 'live' ? 'paused' : state)
      // No event had been published when the history was read: read it again now that the
      // stream is subscribed, so nothing published in between is missed.
      if (state === 'live' && refetch) {
        refetch = false
        void fetchHistory(null).then((p) => {
          if (gen !== generation) return
          store.addOlder(p.events.map(fromWire))
          more = p.more
          list.update()
          renderFoot()
        })
      }
    },
    onGiveUp: async () => {
      // Find out why: a token problem asks for the token, anything else retries.
      try {
        await authed(() => api('/ui/api/events', { params: new URLSearchParams({ number: '0' }) }))
      } catch {
        // the server is still away: keep retrying
      }
      return gen === generation
    },
  })
}

async function loadOlder(): Promise<void> {
  if (loadingOlder || !more || !stream) return
  const gen = generation
  loadingOlder = true
  renderFoot()
  try {
    const page = await fetchHistory(store.oldestId())
    if (gen !== generation) return
    store.addOlder(page.events.map(fromWire))
    more = page.more
    list.update()
    renderHeader()
  } catch (err) {
    if (gen === generation) showError(`Could not load older events: ${(err as Error).message}`)
  } finally {
    if (gen === generation) {
      loadingOlder = false
      renderFoot()
    }
  }
}

function scheduleFlush(): void {
  if (flushScheduled) return
  flushScheduled = true
  if (document.hidden) setTimeout(flush, 1000)
  else requestAnimationFrame(flush)
}

/** Apply every queued stream event in one pass. */
function flush(): void {
  flushScheduled = false
  if (!pending.length) return
  flushes++
  const batch = pending
  pending = []
  const events: ViewEvent[] = []
  for (const data of batch) {
    try {
      events.push(fromWire(JSON.parse(data) as Record<string, unknown>))
    } catch {
      // A malformed message is skipped; the server never sends one.
    }
  }
  const added = store.addNewer(events)
  // Paused: the events are kept (nothing is lost, memory stays bounded) but the rows in view stay put.
  list.update(added, paused)
  renderHeader()
  if (summary.status !== 'available') summary.render()
}

// ------------------------------------------------------------------ rendering

function renderHeader(): void {
  const errors = (store.levels.get(40) ?? 0) + (store.levels.get(50) ?? 0)
  const shown = store.text ? `${store.view.length.toLocaleString()} of ` : ''
  ui.loaded.textContent = `${shown}${store.all.length.toLocaleString()} loaded · ${store.alerts.toLocaleString()} alerts · ${errors.toLocaleString()} errors`
}

function renderFoot(): void {
  ui.foot.replaceChildren()
  if (loadingOlder) {
    ui.foot.textContent = 'Loading older events…'
  } else if (more) {
    const b = document.createElement('button')
    b.type = 'button'
    b.id = 'load-older'
    b.textContent = 'Load older events'
    b.addEventListener('click', () => void loadOlder())
    ui.foot.appendChild(b)
  } else {
    ui.foot.textContent = store.all.length ? 'Beginning of history.' : 'No events match these filters yet.'
  }
}

let lastReceived = 0
setInterval(() => {
  ui.rate.textContent = `${(received - lastReceived).toLocaleString()}/s`
  lastReceived = received
}, 1000)

// ------------------------------------------------------------------ filters

function syncUrl(): void {
  history.replaceState(null, '', filtersToUrl(filters, detail.current))
}

function renderFilters(): void {
  ui.level.value = String(filters.minLevel)
  ui.source.value = sourceText(filters.source)
  ui.text.value = filters.text
  ui.alerts.checked = filters.alertsOnly
  const chosen = new Set(filters.types)
  for (const box of ui.typesList.querySelectorAll<HTMLInputElement>('input[type=checkbox]')) box.checked = chosen.has(box.value)
  ui.typesLabel.textContent = filters.types.length === 0 ? 'all' : filters.types.length === 1 ? filters.types[0] : `${filters.types.length} types`
}

function setFilters(next: Filters): void {
  const reload = !sameServerFilters(filters, next)
  const textChanged = next.text !== filters.text
  filters = next
  renderFilters()
  syncUrl()
  if (reload) {
    store.setText(filters.text)
    void connect()
  } else if (textChanged) {
    store.setText(filters.text)
    list.reset()
    renderHeader()
  }
}

for (const t of ALL_TYPES) {
  const label = document.createElement('label')
  const box = document.createElement('input')
  box.type = 'checkbox'
  box.value = t
  label.append(box, ` ${t}`)
  label.dataset.type = t
  label.title = TYPE_DESCRIPTIONS[t] ?? ''
  ui.typesList.appendChild(label)
}

let typesTimer: number | undefined
ui.typesList.addEventListener('change', () => {
  clearTimeout(typesTimer)
  // Several boxes are often ticked in a row: reload once they stop.
  typesTimer = window.setTimeout(() => {
    const types = [...ui.typesList.querySelectorAll<HTMLInputElement>('input:checked')].map((b) => b.value)
    setFilters({ ...filters, types })
  }, 400)
})
ui.typesFind.addEventListener('input', () => {
  const q = ui.typesFind.value.trim().toLowerCase()
  for (const label of ui.typesList.children as unknown as HTMLElement[]) label.hidden = !!q && !(label.dataset.type ?? '').includes(q)
})
ui.typesNone.addEventListener('click', () => setFilters({ ...filters, types: [] }))
ui.level.addEventListener('change', () => setFilters({ ...filters, minLevel: Number(ui.level.value) }))
ui.alerts.addEventListener('change', () => setFilters({ ...filters, alertsOnly: ui.alerts.checked }))
ui.source.addEventListener('change', () => {
  try {
    const source = parseSourceText(ui.source.value)
    ui.source.setCustomValidity('')
    showError('')
    setFilters({ ...filters, source })
  } catch (err) {
    ui.source.setCustomValidity((err as Error).message)
    showError((err as Error).message)
  }
})
let textTimer: number | undefined
ui.text.addEventListener('input', () => {
  clearTimeout(textTimer)
  textTimer = window.setTimeout(() => setFilters({ ...filters, text: ui.text.value }), 150)
})
ui.clear.addEventListener('click', () => {
  ui.source.setCustomValidity('')
  showError('')
  setFilters({ ...EMPTY_FILTERS })
})
ui.form.addEventListener('submit', (ev) => ev.preventDefault())

ui.pause.addEventListener('click', () => {
  paused = !paused
  ui.pause.setAttribute('aria-pressed', String(paused))
  ui.pause.textContent = paused ? 'Resume' : 'Pause'
  setConn(paused ? 'paused' : (stream?.state ?? 'connecting'))
  if (!paused) list.scrollToTop()
})
ui.newer.addEventListener('click', () => list.scrollToTop())

// ------------------------------------------------------------------ detail

async function select(id: string): Promise<void> {
  list.selectedId = id
  list.schedule()
  syncUrl()
  await detail.show(id, store.get(id), (err) => {
    if (err instanceof ApiError) showError(err.message)
  })
  syncUrl()
}

// ------------------------------------------------------------------ start

/** For scripting and tests: what the page holds and how it is doing. */
;(window as unknown as { madsciViewer: unknown }).madsciViewer = {
  /** Ids of the events the list shows, newest first. */
  ids: (): string[] => store.view.map((e) => e.id).reverse(),
  stats: () => ({
    loaded: store.all.length,
    shown: store.view.length,
    received,
    flushes,
    renders: list.renders,
    rows: document.querySelectorAll('#list .row:not([hidden])').length,
    connections: stream?.connections ?? 0,
    state: stream?.state ?? 'connecting',
    more,
    aggregate: summary.status,
    filters,
  }),
}

{
  const initial = filtersFromUrl(location.search)
  filters = initial.filters
  store.setText(filters.text)
  renderFilters()
  void connect()
  if (initial.eventId) void select(initial.eventId)
  const refreshSummary = (): void => {
    authed(() => summary.refresh()).catch(() => undefined)
  }
  refreshSummary()
  // The aggregation reads every event of the range: refresh only while someone is looking.
  setInterval(() => document.hidden || refreshSummary(), SUMMARY_EVERY_MS)
}
