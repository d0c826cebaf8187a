import { parseLevel } from '../../src/event/levels.js'
import { type Flag, UsageError } from './flags.js'

export const minLevelFlag: Flag = {
  type: 'string',
  value: 'LEVEL',
  help: 'Only events at this level or above: DEBUG, INFO, WARNING (or WARN), ERROR, CRITICAL (or FATAL), or 10, 20, 30, 40, 50.',
}

/** `--min-level` as a number (0 when absent). */
export function parseMinLevel(value: string | boolean | undefined): number {
  if (value === undefined) return 0
  const level = parseLevel(value as string, { aliases: true })
  if (level === undefined) throw new UsageError(`--min-level ${JSON.stringify(value)} is not a level; use one of: DEBUG, INFO, WARNING, ERROR, CRITICAL, 10, 20, 30, 40, 50`)
  return level
}
