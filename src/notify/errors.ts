import { MadsciError } from '../errors.js'

/**
 * A notifier could not deliver an alert. `permanent` tells the dispatcher not to retry (an SMTP
 * 5xx, an HTTP 4xx other than 408/429); `retryAfterMs` is how long the peer asked us to wait.
 * Plugins may throw this, or any error with the same properties. Messages never contain
 * secrets (passwords, tokens, webhook URL paths).
 */
export class NotifierError extends MadsciError {
  override name = 'NotifierError'
  readonly notifier: string
  readonly permanent: boolean
  readonly retryAfterMs: number | undefined
  /** Level at which the dispatcher records the failure (MADSci logs an empty recipient list as a warning). Default ERROR. */
  readonly logLevel: 30 | 40 | 50
  constructor(notifier: string, message: string, options: { permanent?: boolean; retryAfterMs?: number; logLevel?: 30 | 40 | 50 } = {}) {
    super(`${notifier}: ${message}`, 'MADSCI_ERR_NOTIFIER')
    this.notifier = notifier
    this.permanent = options.permanent ?? false
    this.retryAfterMs = options.retryAfterMs
    this.logLevel = options.logLevel ?? 40
  }
}
