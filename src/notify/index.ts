/**
 * Alerts: MADSci's `alert_level` / `alert: true` semantics, email (nodemailer, MADSci's
 * EmailAlertsConfig), webhooks (undici: generic JSON, Slack, Teams, HMAC signatures), the
 * console, and notifier plugins, behind storm control and a bounded queue per notifier.
 *
 * Deliberately not exported: the lane (queue/retry) and storm-control classes; they are
 * configured through `AlertOptions`.
 */
export { createAlertDispatcher, OWN_EVENT_COMPONENT, type AlertDispatcher } from './dispatcher.js'
export {
  DEFAULT_ALERT_LEVEL,
  DEFAULT_DELIVERY,
  DEFAULT_STORM,
  DEFAULT_TICK_INTERVAL_MS,
  resolveAlertLevel,
  type AlertOptions,
  type ConsoleNotifierSpec,
  type CustomNotifierSpec,
  type DeliveryOptions,
  type EmailNotifierSpec,
  type KeyField,
  type ModuleNotifierSpec,
  type NotifierSpec,
  type RateLimit,
  type RetryOptions,
  type StormOptions,
  type WebhookNotifierSpec,
} from './options.js'
export { alertOptionsFromEnv, emailAlertsFromEnv, madsciAlertSettings } from './env.js'
export { REDACTED, redactAlertOptions, redactWebhookUrl } from './redact.js'
export { NotifierError } from './errors.js'
export {
  EMAIL_ALERTS_DEFAULTS,
  EmailNotifier,
  resolveEmailOptions,
  xPriority,
  type EmailAlertsConfig,
  type EmailNotifierOptions,
  type EmailSettings,
} from './email.js'
export {
  WEBHOOK_DEFAULTS,
  WebhookNotifier,
  signWebhook,
  slackPayload,
  teamsPayload,
  verifyWebhookSignature,
  webhookBody,
  type WebhookNotifierOptions,
  type WebhookSettings,
} from './webhook.js'
export { ConsoleNotifier, type ConsoleNotifierOptions } from './console.js'
export { alertHtml, alertPayload, alertSubject, alertText, eventJsonPretty } from './format.js'
export type { Alert, AlertDispatcherStats, DigestAlert, DigestItem, EventAlert, Notifier, NotifierStats, SendOptions } from './types.js'
export type { PluginContext, PluginSpec } from '../plugins.js'
