/**
 * Every error this library throws or reports is a `MadsciError` with a stable `code`
 * (`MADSCI_ERR_*`). Codes are never reused for another meaning. A brand symbol makes
 * `isMadsciError()` work across duplicate copies of the package (as undici does).
 */

const kMadsciError = Symbol.for('madsci-events.error')

export class MadsciError extends Error {
  readonly code: string
  override name = 'MadsciError'
  constructor(message: string, code = 'MADSCI_ERR_INTERNAL', options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  get [kMadsciError](): true {
    return true
  }

  static override [Symbol.hasInstance](instance: unknown): boolean {
    if (this === MadsciError) return isMadsciError(instance)
    return Function.prototype[Symbol.hasInstance].call(this, instance)
  }
}

export function isMadsciError(value: unknown): value is MadsciError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kMadsciError] === true
}

/** One problem found while validating an event, in FastAPI's `detail[]` item shape. */
export interface ValidationIssue {
  /** pydantic error type, e.g. `missing`, `string_type`, `enum`, `value_error`. */
  type: string
  /** Path to the bad value, e.g. `['source', 'node_id']`. */
  loc: Array<string | number>
  /** What was expected, in words. */
  msg: string
  /** The offending input. */
  input: unknown
  ctx?: Record<string, unknown>
}

/** An event (or part of one) did not match the MADSci model. Lists every bad field. */
export class EventValidationError extends MadsciError {
  override name = 'EventValidationError'
  readonly issues: ValidationIssue[]
  constructor(issues: ValidationIssue[], what = 'event') {
    const lines = issues.map((i) => `  - ${i.loc.length ? i.loc.join('.') : '(root)'}: ${i.msg}`)
    super(
      `Invalid ${what}: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n${lines.join('\n')}`,
      'MADSCI_ERR_INVALID_EVENT',
    )
    this.issues = issues
  }

  /**
   * The FastAPI 422 body for this error, as the Python Event Manager answers it:
   * `{"detail":[{type,loc,msg,input}]}` with `loc` prefixed by `prefix` (`'body'` for request bodies).
   */
  toFastApiDetail(prefix: string | null = 'body'): { detail: ValidationIssue[] } {
    return {
      detail: this.issues.map((i) => {
        const item: ValidationIssue = {
          type: i.type,
          loc: prefix ? [prefix, ...i.loc] : [...i.loc],
          msg: i.msg,
          input: i.input,
        }
        if (i.ctx) item.ctx = i.ctx
        return item
      }),
    }
  }
}

/** A configuration option (in code or from the environment) is invalid. Thrown at construction. */
export class ConfigError extends MadsciError {
  override name = 'ConfigError'
  readonly option: string
  constructor(option: string, message: string) {
    super(`Invalid option \`${option}\`: ${message}`, 'MADSCI_ERR_INVALID_CONFIG')
    this.option = option
  }
}

/** A query selector was refused (server-side JavaScript operators, too deep, too large). */
export class QueryRefusedError extends MadsciError {
  override name = 'QueryRefusedError'
  constructor(message: string) {
    super(message, 'MADSCI_ERR_QUERY_REFUSED')
  }
}

/** A store (MongoDB, Event Manager, file) could not be reached or refused a write; retryable. */
export class StoreUnavailableError extends MadsciError {
  override name = 'StoreUnavailableError'
  readonly store: string
  /** Milliseconds the store asked us to wait (HTTP `Retry-After`), when it said so. */
  readonly retryAfterMs: number | undefined
  constructor(store: string, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(`${store} is unavailable: ${message}`, 'MADSCI_ERR_STORE_UNAVAILABLE', options)
    this.store = store
    this.retryAfterMs = options?.retryAfterMs
  }
}

/** A store refused an event permanently (it will never accept it as is); not retried. */
export class StoreRejectedError extends MadsciError {
  override name = 'StoreRejectedError'
  readonly store: string
  readonly status: number | undefined
  constructor(store: string, message: string, options?: { cause?: unknown; status?: number }) {
    super(`${store} rejected the event: ${message}`, 'MADSCI_ERR_STORE_REJECTED', options)
    this.store = store
    this.status = options?.status
  }
}

/** The logger or pipeline was used after `close()`. */
export class ClosedError extends MadsciError {
  override name = 'ClosedError'
  constructor(what = 'The event logger') {
    super(`${what} is closed; create a new one with createEventLogger()`, 'MADSCI_ERR_CLOSED')
  }
}

/** The spool directory could not be written or read (full disk, permissions, corruption). */
export class SpoolError extends MadsciError {
  override name = 'SpoolError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'MADSCI_ERR_SPOOL', options)
  }
}

/** An operation did not finish within its deadline. */
export class TimeoutError extends MadsciError {
  override name = 'TimeoutError'
  constructor(message: string) {
    super(message, 'MADSCI_ERR_TIMEOUT')
  }
}

/** A record could not be found (e.g. `getEvent` on the HTTP store answering 404 is *not* this: it returns null). */
export class NotFoundError extends MadsciError {
  override name = 'NotFoundError'
  constructor(message: string) {
    super(message, 'MADSCI_ERR_NOT_FOUND')
  }
}

/** A path escaped the directory it must stay in (CSV output, backups). */
export class PathNotAllowedError extends MadsciError {
  override name = 'PathNotAllowedError'
  constructor(path: string, root: string) {
    super(
      `The path ${JSON.stringify(path)} is outside the allowed directory ${JSON.stringify(root)}; use a relative path inside it`,
      'MADSCI_ERR_PATH_NOT_ALLOWED',
    )
  }
}
