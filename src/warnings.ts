/**
 * Degraded-mode notices, each with a code that is never reused (as fastify's warnings). They are
 * emitted on the logger's bus as `warning` and never thrown: the library keeps working, with the
 * limitation the message describes.
 */
export const WARNINGS = {
  MADSCI_WARN_INDEX_FAILED: 'The store refused to create an index; queries still work but may be slower',
  MADSCI_WARN_NO_TTL: 'The store has no TTL indexes (FerretDB v1); archived events are purged periodically instead',
  MADSCI_WARN_SCHEMA_VERSION: 'The database has collections but no MADSci schema_versions record; a Python Event Manager will refuse to start on it until it is initialized',
  MADSCI_WARN_NO_CHANGE_STREAMS: 'The store has no change streams (FerretDB v1); live streams poll for new events instead',
  MADSCI_WARN_SINGLE_POST: 'The Event Manager has no batch route (the Python server); events are sent one POST each',
  MADSCI_WARN_OPEN_AUTH: 'The server listens on a non-loopback address without authentication',
  MADSCI_WARN_STORE_UNREACHABLE: 'Cannot reach the store',
  MADSCI_WARN_STORE_REACHABLE: 'The store answers again',
  MADSCI_WARN_ROTATION_FAILED: 'The event file could not be rotated; events are still written to it (it grows past its size limit) and rotation is tried again in 10 s',
  MADSCI_WARN_SPOOL_UNAVAILABLE: 'The spool directory cannot be opened; the logger runs without it, drops what the memory queue cannot hold (counted as spool_error) and tries the directory again when it needs it',
} as const

export type WarningCode = keyof typeof WARNINGS

export interface MadsciWarning {
  code: WarningCode
  message: string
  /** Which part of the library raised it, e.g. `mongodb`. */
  component: string
}

export type WarningListener = (warning: MadsciWarning) => void

export function makeWarning(code: WarningCode, component: string, detail?: string): MadsciWarning {
  return { code, component, message: detail ? `${WARNINGS[code]}: ${detail}` : WARNINGS[code] }
}
