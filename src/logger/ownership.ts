import { AsyncLocalStorage } from 'node:async_hooks'
import { EventValidationError, type ValidationIssue } from '../errors.js'
import { OWNERSHIP_FIELDS, type OwnershipInfo } from '../event/model.js'
import { parseOwnership } from '../event/validate.js'

/**
 * Ownership context, Node's counterpart of MADSci's `ownership_context()` (a `contextvars`
 * override): `withOwnership({ experiment_id }, fn)` makes every event logged inside `fn` — across
 * `await`s, timers and callbacks — carry those `source` fields. Contexts nest; an inner one
 * overrides the fields it sets. One storage per copy of this package, shared by all its loggers.
 */
const storage = new AsyncLocalStorage<OwnershipInfo>()

/** The ownership fields in effect here, or `undefined` outside any `withOwnership`. */
export function currentOwnership(): OwnershipInfo | undefined {
  return storage.getStore()
}

/** Merge ownership objects (later ones win), keys in model order, as Python serializes them. */
export function mergeOwnership(...parts: Array<OwnershipInfo | undefined>): OwnershipInfo {
  const out: OwnershipInfo = {}
  for (const f of OWNERSHIP_FIELDS) {
    for (let i = parts.length - 1; i >= 0; i--) {
      const v = parts[i]?.[f]
      if (v !== undefined) {
        out[f] = v
        break
      }
    }
  }
  return out
}

/** Validate ownership fields (each a ULID); throws `EventValidationError` naming the bad ones. */
export function checkOwnership(fields: Record<string, unknown>, what = 'ownership'): OwnershipInfo {
  const issues: ValidationIssue[] = []
  const out = parseOwnership(fields, [], issues)
  if (issues.length) throw new EventValidationError(issues, what)
  return out
}

/**
 * Run `fn` with `fields` added to the current ownership. Returns what `fn` returns (a promise for
 * an async function). Throws `EventValidationError` when a field is not a ULID.
 */
export function withOwnership<T>(fields: OwnershipInfo, fn: () => T): T {
  const checked = checkOwnership(fields as Record<string, unknown>)
  const parent = storage.getStore()
  return storage.run(Object.freeze(mergeOwnership(parent, checked)), fn)
}
