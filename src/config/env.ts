import { ConfigError } from '../errors.js'
import { type EventLogLevel, parseLevel } from '../event/levels.js'
import { OWNERSHIP_FIELDS, type OwnershipInfo } from '../event/model.js'

/**
 * Reading MADSci's environment variables the way pydantic-settings does: names match
 * case-insensitively, nested fields use `__` (`EVENT_CLIENT_SOURCE__NODE_ID`), the string `null`
 * means unset, and a bad value fails with a message naming the variable and what it accepts.
 */

/** The value of an environment variable, matched case-insensitively; `undefined` for unset, empty or `null`. */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  let v = env[name]
  if (v === undefined) {
    const upper = name.toUpperCase()
    for (const k of Object.keys(env)) {
      if (k.toUpperCase() === upper) {
        v = env[k]
        break
      }
    }
  }
  if (v === undefined || v === '' || v.toLowerCase() === 'null') return undefined
  return v
}

/** All variables under a nested prefix: `EVENT_EMAIL_ALERTS__SMTP_PORT` → `{ smtp_port: '...' }`. */
export function envNested(env: NodeJS.ProcessEnv, prefix: string): Record<string, string> {
  const out: Record<string, string> = {}
  const p = (prefix + '__').toUpperCase()
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && k.toUpperCase().startsWith(p)) out[k.slice(p.length).toLowerCase()] = v
  }
  return out
}

export function envLevel(env: NodeJS.ProcessEnv, name: string): EventLogLevel | undefined {
  const v = envValue(env, name)
  if (v === undefined) return undefined
  const l = parseLevel(v, { aliases: true }) ?? parseLevel(Number(v))
  if (l === undefined) throw new ConfigError(name, `${JSON.stringify(v)} is not a level; use one of 0, 10, 20, 30, 40, 50 or NOTSET, DEBUG, INFO, WARNING, ERROR, CRITICAL`)
  return l
}

export function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const v = envValue(env, name)
  if (v === undefined) return undefined
  const s = v.toLowerCase()
  if (['1', 'true', 'yes', 'on', 't', 'y'].includes(s)) return true
  if (['0', 'false', 'no', 'off', 'f', 'n'].includes(s)) return false
  throw new ConfigError(name, `${JSON.stringify(v)} is not a boolean; use true or false`)
}

export function envNumber(env: NodeJS.ProcessEnv, name: string, min = Number.NEGATIVE_INFINITY): number | undefined {
  const v = envValue(env, name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n < min) throw new ConfigError(name, `${JSON.stringify(v)} is not a number${min > Number.NEGATIVE_INFINITY ? ` ≥ ${min}` : ''}`)
  return n
}

/** `EVENT_CLIENT_SOURCE__<FIELD>` variables as an OwnershipInfo (values are validated later). */
export function envSource(env: NodeJS.ProcessEnv, prefix = 'EVENT_CLIENT_SOURCE'): OwnershipInfo {
  const nested = envNested(env, prefix)
  const out: OwnershipInfo = {}
  for (const f of OWNERSHIP_FIELDS) if (nested[f]) out[f] = nested[f]
  const json = envValue(env, prefix)
  if (json) {
    try {
      Object.assign(out, JSON.parse(json))
    } catch {
      throw new ConfigError(prefix, 'must be a JSON object such as {"node_id": "01J..."}')
    }
  }
  return out
}

/** The MongoDB URL from MADSci's variables: `EVENT_DB_URL`, `EVENT_DOCUMENT_DB_URL`, `MONGO_DB_URL`, `DB_URL` (first set wins). */
export function envMongoUrl(env: NodeJS.ProcessEnv): { url: string; variable: string } | undefined {
  for (const name of ['EVENT_DB_URL', 'EVENT_DOCUMENT_DB_URL', 'MONGO_DB_URL', 'DB_URL']) {
    const v = envValue(env, name)
    if (v === undefined) continue
    // The generic aliases may name another kind of database; only MongoDB URLs are ours.
    if (/^mongodb(\+srv)?:\/\//i.test(v)) return { url: v, variable: name }
    if (name === 'EVENT_DB_URL') throw new ConfigError(name, `${JSON.stringify(redactUrl(v))} is not a MongoDB URL; use mongodb://host:port or mongodb+srv://...`)
  }
  return undefined
}

/** A URL with any password replaced by `***`, for messages and `/settings`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    if (u.username && u.password) return u.toString()
    return u.toString()
  } catch {
    return url.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@')
  }
}
