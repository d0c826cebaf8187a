import { QueryRefusedError, StoreRejectedError, type ValidationIssue } from '../../src/errors.js'
import { parseLevel } from '../../src/event/levels.js'
import type { Event } from '../../src/event/model.js'
import { eventToJson } from '../../src/event/serialize.js'
import { isTimestampProblem, parseTimestamp } from '../../src/event/timestamp.js'
import { safeParseEvent } from '../../src/event/validate.js'
import { maxDaysBack } from '../../src/stores/time-limits.js'
import { validateSelector } from '../../src/stores/selector.js'
import type { ServerContext } from './context.js'
import { parsePythonLiteral } from './python-literal.js'
import { detail, HttpError, parseJson, pydanticInt, pythonIsoformat, QueryParser, type Router, sendJson, validationError } from './http.js'

/**
 * The event routes of MADSci's Event Manager (SPEC §2.1-2.7), same paths, parameters, bodies,
 * statuses and error shapes, plus `POST /events/batch`. Maps keyed by id are written as JSON text
 * in order (a JS object would move integer-like keys first).
 */

/** `{"<id>": <event>, ...}` in the given order, `_id` form. */
export function eventMap(events: Event[]): string {
  return `{${events.map((e) => `${JSON.stringify(e.event_id)}:${eventToJson(e, '_id')}`).join(',')}}`
}

/**
 * The 503s of ingestion. Neither promises storage: what the server holds in memory is lost if it
 * stops before the database returns, and what a full queue refused was never held (it answered
 * "queued and will be stored" for 20 000 events of 120 000 that the queue had dropped).
 */
const NOT_STORED_YET = (): HttpError =>
  detail(503, 'The database did not store the event in time: it is not stored yet. The server holds it in memory and keeps trying, but loses it if it stops first; send it again later (the same event_id is safe)', { 'retry-after': '5' })
const NOT_HELD_DETAIL = "The database is unavailable and the server's queue is full: the event was not stored and is not held; send it again later (the same event_id is safe)"
const NOT_HELD = (): HttpError => detail(503, NOT_HELD_DETAIL, { 'retry-after': '5' })

/**
 * Ingestion through the pipeline: events are pushed and each request waits until its events are
 * stored. It answers 503 only when the store made no progress for `ingest_timeout_ms` (no batch
 * stored meanwhile), not when a large backlog is being stored: three concurrent batches of
 * 10 000 events answered 503 after 5 s each although the store was busy storing them.
 */
class Ingest {
  #lastProgress = 0
  #drops = 0

  constructor(private readonly ctx: ServerContext) {
    ctx.pipeline.on('batch', () => {
      this.#lastProgress = performance.now()
    })
    ctx.pipeline.on('rejected', () => {
      this.#lastProgress = performance.now()
    })
    // Synchronous, within push: how a refused push is told.
    ctx.pipeline.on('drop', (d) => {
      this.#drops += d.count
    })
  }

  /** Store `events`: per event, nothing (stored), or the HttpError it gets (422 refused, 503). */
  async run(events: readonly Event[]): Promise<Array<HttpError | undefined>> {
    const { pipeline, writeOutcomes, settings } = this.ctx
    const out: Array<HttpError | undefined> = new Array(events.length).fill(undefined)
    const pending = new Set<number>()
    let wake: (() => void) | undefined
    const started = performance.now()
    events.forEach((e, i) => {
      writeOutcomes.watch(e.event_id)
      const drops = this.#drops
      const wait = pipeline.pushAndWait(e)
      if (this.#drops > drops) {
        out[i] = NOT_HELD()
        wait.catch(() => undefined)
        return
      }
      pending.add(i)
      wait.then(
        () => undefined,
        (err: unknown) => {
          out[i] = err instanceof StoreRejectedError ? validationError([{ type: 'value_error', loc: ['body'], msg: `The store refused the event: ${err.message}`, input: null }]) : NOT_STORED_YET()
        },
      ).finally(() => {
        pending.delete(i)
        if (pending.size === 0) wake?.()
      })
    })
    // Until every event settles, or the store has made no progress for the timeout.
    while (pending.size > 0) {
      const idle = performance.now() - Math.max(started, this.#lastProgress)
      const left = settings.ingest_timeout_ms - idle
      if (left <= 0) {
        for (const i of pending) out[i] = NOT_STORED_YET()
        break
      }
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, Math.min(left, 1000)).unref()
      })
      wake = undefined
    }
    events.forEach((e, i) => {
      // The wait of an id no other request waits for is released (a dropped event's never settles).
      if (out[i] && out[i]?.status !== 422 && writeOutcomes.waiters(e.event_id) === 1) pipeline.forgetWait(e.event_id)
    })
    return out
  }
}

function parseBodyEvent(ctx: ServerContext, body: unknown, loc: Array<string | number> = ['body']): Event {
  const r = safeParseEvent(body, { defaultSource: ctx.ownership })
  if (!r.ok) {
    throw validationError(r.error.issues.map((i) => ({ ...i, loc: [...loc, ...i.loc] })))
  }
  return r.event
}

export function eventRoutes(router: Router, ctx: ServerContext): void {
  const ingest = new Ingest(ctx)

  router.add('POST', '/event', async (req, res) => {
    const event = parseBodyEvent(ctx, parseJson(await req.body()))
    const id = event.event_id
    const [failed] = await ingest.run([event])
    const outcome = ctx.writeOutcomes.take(id)
    if (failed) throw failed
    ctx.metrics.ingested++
    // An id already stored (by this request or another) answers with what is stored: the first
    // version stays, as MADSci leaves the stored document unchanged.
    const stored = outcome === 'new' ? null : await ctx.store.getEvent(id).catch(() => null)
    sendJson(res, 200, eventToJson(stored ?? event, '_id'))
  })

  // Beyond MADSci: many events in one request, per-item results, idempotent on event_id.
  router.add('POST', '/events/batch', async (req, res) => {
    const body = parseJson(await req.body())
    if (!Array.isArray(body)) throw validationError([{ type: 'list_type', loc: ['body'], msg: 'Input should be a valid list', input: body }])
    if (body.length > 10_000) throw detail(413, `A batch holds at most 10000 events (got ${body.length}); split it`)
    const results: Array<{ event_id: string | null; status: 'stored' | 'rejected'; error?: unknown }> = []
    const valid: Event[] = []
    const slots: number[] = []
    body.forEach((item, i) => {
      try {
        const e = parseBodyEvent(ctx, item, ['body', i])
        slots.push(results.push({ event_id: e.event_id, status: 'stored' }) - 1)
        valid.push(e)
      } catch (err) {
        if (!(err instanceof HttpError)) throw err
        const id = item && typeof item === 'object' ? ((item as Record<string, unknown>).event_id ?? (item as Record<string, unknown>)._id ?? null) : null
        results.push({ event_id: typeof id === 'string' ? id : null, status: 'rejected', error: (err.body as { detail: unknown }).detail })
      }
    })
    const outcomes = await ingest.run(valid)
    for (const e of valid) ctx.writeOutcomes.take(e.event_id)
    let unavailable: HttpError | undefined
    outcomes.forEach((err, k) => {
      if (err?.status === 422) results[slots[k]] = { event_id: valid[k].event_id, status: 'rejected', error: (err.body as { detail: unknown }).detail }
      // The whole batch is answered 503 (the logger's HTTP sink retries it; stored ids stay as they
      // are): a full queue is the more telling reason.
      else if (err && (!unavailable || (err.body as { detail: string }).detail === NOT_HELD_DETAIL)) unavailable = err
    })
    if (unavailable) throw unavailable
    ctx.metrics.ingested += results.filter((r) => r.status === 'stored').length
    ctx.metrics.batches++
    sendJson(res, 200, results)
  })

  router.add('GET', '/event/{event_id}', async (req, res) => {
    const e = await ctx.store.getEvent(req.params.event_id)
    if (!e) throw detail(404, `Event with ID ${req.params.event_id} not found`)
    sendJson(res, 200, eventToJson(e, '_id'))
  })

  router.add('GET', '/events', async (req, res) => {
    const q = new QueryParser(req.query)
    // MongoDB's limit(): 0 is no limit, a negative n is |n| (MADSci passes `number` straight through).
    const number = Math.abs(q.int('number', 100))
    // MADSci answers a negative offset with a plain-text 500 (a database error); we say what is wrong.
    const offset = q.int('offset', 0, { min: 0 })
    const level = queryLevel(q)
    const startTime = q.datetime('start_time')
    const endTime = q.datetime('end_time')
    const includeArchived = q.bool('include_archived', false)
    q.check()
    const events = await ctx.store.getEvents({ number, offset, level, startTime, endTime, includeArchived })
    sendJson(res, 200, eventMap(events))
  })

  router.add('POST', '/events/query', async (req, res) => {
    const raw = await req.body()
    let selector: unknown
    const fromQuery = req.query.get('selector')
    // MADSci's own client sends the selector as a query parameter (SPEC D2): accept that too.
    if (raw.length === 0 && fromQuery !== null) {
      try {
        selector = JSON.parse(fromQuery)
      } catch {
        try {
          // What the Python client actually sends: str() of a dict.
          selector = parsePythonLiteral(fromQuery)
        } catch {
          throw validationError([{ type: 'json_invalid', loc: ['query', 'selector'], msg: 'Expected a JSON object or a Python dict literal', input: fromQuery }])
        }
      }
    } else selector = parseJson(raw)
    let events: Event[]
    try {
      events = await ctx.store.queryEvents(validateSelector(selector) as Record<string, unknown>)
    } catch (err) {
      if (err instanceof QueryRefusedError) throw detail(400, err.message)
      // MADSci lets the database error become a plain-text 500; a bad selector is the caller's error.
      const bad = selectorProblem(err)
      if (bad) throw detail(400, `Invalid selector: ${bad}`)
      throw err
    }
    sendJson(res, 200, eventMap(events))
  })

  router.add('POST', '/events/archive', async (req, res) => {
    // ArchiveEventsRequest, validated as pydantic (lax mode) does.
    const body = parseJson(await req.body()) as Record<string, unknown>
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw validationError([{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body }])
    }
    const issues: ValidationIssue[] = []
    let eventIds: string[] | undefined
    if (body.event_ids !== undefined && body.event_ids !== null) {
      if (!Array.isArray(body.event_ids)) issues.push({ type: 'list_type', loc: ['body', 'event_ids'], msg: 'Input should be a valid list', input: body.event_ids })
      else {
        body.event_ids.forEach((x, i) => {
          if (typeof x !== 'string') issues.push({ type: 'string_type', loc: ['body', 'event_ids', i], msg: 'Input should be a valid string', input: x })
        })
        eventIds = body.event_ids as string[]
      }
    }
    let beforeDate: string | undefined
    if (body.before_date !== undefined && body.before_date !== null) {
      const p = parseTimestamp(body.before_date)
      if (isTimestampProblem(p)) issues.push({ type: p.type, loc: ['body', 'before_date'], msg: p.msg, input: body.before_date })
      else beforeDate = pythonIsoformat(p.text)
    }
    let batchSize = ctx.settings.archive_batch_size
    if (body.batch_size !== undefined && body.batch_size !== null) {
      const n = laxInt(body.batch_size, ['body', 'batch_size'], issues)
      // MADSci passes batch_size to MongoDB's limit() (0: no limit); every id or old event is
      // archived either way, so anything below 1 means the configured batch size.
      if (n !== undefined && n >= 1) batchSize = n
    }
    if (issues.length) throw validationError(issues)
    if (!(eventIds && eventIds.length) && !beforeDate) {
      throw validationError([{ type: 'value_error', loc: ['body'], msg: 'Value error, Either event_ids or before_date must be provided', input: body, ctx: { error: {} } }])
    }
    try {
      // Unlike MADSci (SPEC D9), every given id is archived, batch after batch.
      const n = await ctx.store.archiveEvents(eventIds && eventIds.length ? { eventIds, batchSize } : { beforeDate, batchSize })
      sendJson(res, 200, { archived_count: n, message: `Successfully archived ${n} events` })
    } catch (err) {
      throw detail(500, `Failed to archive events: ${(err as Error).message}`)
    }
  })

  router.add('GET', '/events/archived', async (req, res) => {
    const q = new QueryParser(req.query)
    const number = q.int('number', 100)
    // As GET /events: a negative offset is a 422 (MongoDB refuses a negative skip; it answered 500).
    const offset = q.int('offset', 0, { min: 0 })
    q.check()
    sendJson(res, 200, eventMap(await ctx.store.getArchivedEvents({ number, offset })))
  })

  router.add('DELETE', '/events/archived', async (req, res) => {
    const q = new QueryParser(req.query)
    // A count whose cutoff is no date (200000000: `NaN-…`, after every timestamp) deleted every
    // archived event; a negative one puts the cutoff in the future, which does the same.
    const days = q.int('older_than_days', 365, { min: 0, max: maxDaysBack() })
    q.check()
    try {
      const n = await ctx.store.purgeArchived(days)
      sendJson(res, 200, { deleted_count: n, message: `Permanently deleted ${n} archived events older than ${days} days` })
    } catch (err) {
      throw detail(500, `Failed to purge archived events: ${(err as Error).message}`)
    }
  })
}

/**
 * `level` of `GET /events`, typed `int | EventLogLevel` in MADSci: an integer (any, e.g. 25), else
 * a level name in any case (no WARN/FATAL aliases); else both union branches' errors, as FastAPI.
 */
function queryLevel(q: QueryParser): number {
  const raw = q.str('level')
  if (raw === undefined) return 0
  const n = pydanticInt(raw)
  if (n !== undefined) return n
  const named = parseLevel(raw)
  if (named !== undefined) return named
  q.issues.push(
    { type: 'int_parsing', loc: ['query', 'level', 'int'], msg: 'Input should be a valid integer, unable to parse string as an integer', input: raw },
    { type: 'enum', loc: ['query', 'level', 'int-enum[EventLogLevel]'], msg: 'Input should be 0, 10, 20, 30, 40 or 50', input: raw, ctx: { expected: '0, 10, 20, 30, 40 or 50' } },
  )
  return 0
}

/** An integer field of a JSON body in pydantic's lax mode (bools and integral floats and strings accepted). */
function laxInt(v: unknown, loc: Array<string | number>, issues: ValidationIssue[]): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return v
    // 1e300 is an integer to JavaScript, and no count a database takes.
    if (Number.isInteger(v)) {
      issues.push({ type: 'int_parsing_size', loc, msg: 'Unable to parse input string as an integer, exceeded maximum size', input: v })
      return undefined
    }
    issues.push({ type: 'int_from_float', loc, msg: 'Input should be a valid integer, got a number with a fractional part', input: v })
    return undefined
  }
  if (typeof v === 'string') {
    const n = pydanticInt(v)
    if (n === undefined) issues.push({ type: 'int_parsing', loc, msg: 'Input should be a valid integer, unable to parse string as an integer', input: v })
    return n
  }
  issues.push({ type: 'int_type', loc, msg: 'Input should be a valid integer', input: v })
  return undefined
}

/** The message of a database error caused by the selector itself (unknown operator, bad regex), else undefined. */
function selectorProblem(err: unknown): string | undefined {
  const e = err as { name?: string; code?: unknown; message?: string }
  if (e?.name === 'MingoError' || (err as object | null)?.constructor?.name === 'MingoError') return e.message
  // BadValue, FailedToParse, an invalid regex, and FerretDB's "not implemented yet" operators.
  if (e?.name === 'MongoServerError' && [2, 9, 51091, 238].includes(e.code as number)) return e.message
  return undefined
}
