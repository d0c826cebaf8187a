import { existsSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { envValue } from './env.js'

/**
 * The project's `.madsci` directory, found as MADSci finds it (SPEC §3.1): walk up from
 * `MADSCI_SETTINGS_DIR` (or the working directory) at most 10 levels, stopping at `$HOME`, for a
 * directory containing `.madsci/`; else the first directory with a `.git/` (its `.madsci` is used);
 * else `~/.madsci`. The directory is not created here.
 */
export function resolveMadsciDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const start = resolve(env.MADSCI_SETTINGS_DIR || cwd)
  const home = resolve(env.HOME || homedir())
  const isDir = (p: string): boolean => {
    try {
      return statSync(p).isDirectory()
    } catch {
      return false
    }
  }
  let dir = start
  let gitRoot: string | undefined
  for (let i = 0; i <= 10; i++) {
    if (isDir(join(dir, '.madsci'))) return join(dir, '.madsci')
    if (!gitRoot && existsSync(join(dir, '.git'))) gitRoot = dir
    if (dir === home) break
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  if (gitRoot) return join(gitRoot, '.madsci')
  return join(home, '.madsci')
}

/** Resolve a path that starts with `.madsci/` against the project's `.madsci` directory (as MADSci does). */
export function resolveMadsciPath(path: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (path === '.madsci' || path.startsWith('.madsci/') || path.startsWith('.madsci\\')) {
    return join(resolveMadsciDir(env, cwd), path.slice('.madsci'.length + 1))
  }
  return resolve(cwd, path)
}

/**
 * The zero-configuration event file: where `createEventLogger()` with no store writes and where
 * `madsci-events serve` with no database or `EVENT_DATA_FILE` stores (and so shows live what the
 * library logged). `EVENT_CLIENT_FILE` if set, else `<.madsci>/events/events.ndjson`.
 */
export function defaultEventFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const given = envValue(env, 'EVENT_CLIENT_FILE')
  return given ? resolveMadsciPath(given, env, cwd) : join(resolveMadsciDir(env, cwd), 'events', 'events.ndjson')
}
