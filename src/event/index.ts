export { EVENT_TYPES, EVENT_TYPE_DESCRIPTIONS, isEventType, parseEventType, type EventType } from './types.js'
export {
  EventLogLevel,
  LEVEL_NAMES,
  PINO_LEVELS,
  isEventLogLevel,
  logTypeForLevel,
  madsciToPinoLevel,
  parseLevel,
  pinoToMadsciLevel,
  type EventLogLevelName,
} from './levels.js'
export { OWNERSHIP_FIELDS, EVENT_FIELDS, type Event, type EventInput, type OwnershipField, type OwnershipInfo } from './model.js'
export { isUlid, newUlid, ulidLowerBound, ulidTime } from './ulid.js'
export {
  formatDateNaiveUtc,
  formatMicros,
  nowMicros,
  nowTimestamp,
  parseTimestamp,
  timestampMicros,
  isTimestampProblem,
  type ParsedTimestamp,
  type TimestampMode,
} from './timestamp.js'
export { parseEvent, parseOwnership, safeParseEvent, pythonNumberString, type ParseEventOptions } from './validate.js'
export { MAX_DEPTH, safeJsonStringify, serializeError, toJsonSafe } from './json-safe.js'
export { MAX_STORE_DEPTH, escapeKey, escapeKeys, unescapeKey, unescapeKeys } from './keys.js'
export { documentToEvent, eventFromJson, eventToDocument, eventToJson, eventToObject, type IdKey } from './serialize.js'
