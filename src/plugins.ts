import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ConfigError } from './errors.js'
import type { EventInput } from './event/model.js'

/**
 * The plugin contract shared by notifiers and analyzers.
 *
 * A plugin host (the alert dispatcher, the analyzer host) receives every accepted event through a
 * synchronous, O(1) `offer(event)` and does its I/O later, off the logging path. Plugins report
 * what happened to them (failures, digests, anomalies) as MADSci events through `context.log()`,
 * never by throwing into user code. Options are plain serializable data, because the pino
 * transport runs plugins inside a worker thread.
 */
export interface PluginContext {
  /** Record a MADSci event of the plugin's own (it goes through the same pipeline as the user's). */
  log(event: EventInput): void
}

/** A plugin named by module: `{ module: './my-notifier.js', options: { ... } }`. */
export interface PluginSpec {
  /** A package name, an absolute path, a `file:` URL, or a path relative to the current directory. */
  module: string
  /** Plain data handed to the factory. */
  options?: Record<string, unknown>
}

/** What a plugin module exports: `create(options, context)` (or the same function as its default export). */
export type PluginFactory<T> = (options: Record<string, unknown>, context: PluginContext) => T | Promise<T>

export function isPluginSpec(value: unknown): value is PluginSpec {
  return typeof value === 'object' && value !== null && typeof (value as PluginSpec).module === 'string'
}

/** The import specifier for a spec's `module`: relative paths resolve against the current directory. */
export function pluginSpecifier(module: string): string {
  if (/^(file|data|node):/.test(module)) return module
  if (isAbsolute(module)) return pathToFileURL(module).href
  if (module.startsWith('./') || module.startsWith('../') || module === '.' || module === '..') {
    return pathToFileURL(resolve(process.cwd(), module)).href
  }
  return module
}

/**
 * A real `import()`, also in the CommonJS build: tsup turns `import()` into `require()` there,
 * which cannot load a `file:` URL or an ES module with top-level await. The pino transport runs
 * that build (pino resolves its target with `require.resolve`), so plugins named in its options
 * depend on this.
 */
const realImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>

async function importModule(specifier: string): Promise<unknown> {
  try {
    return await realImport(specifier)
  } catch (err) {
    // Code run through `vm` without a dynamic-import hook (test runners): the plain import() works there.
    if ((err as { code?: string }).code === 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING') return import(specifier)
    throw err
  }
}

/**
 * Import a plugin module and call its factory with the spec's options. The factory is the named
 * export `create`, else the default export when it is a function (or an object with `create`, as
 * a CommonJS module seen from ESM). A module that cannot be imported or exports no factory fails
 * with a `ConfigError` naming the module.
 */
export async function loadPlugin<T>(spec: PluginSpec, context: PluginContext, option = 'module'): Promise<T> {
  let mod: Record<string, unknown>
  try {
    mod = (await importModule(pluginSpecifier(spec.module))) as Record<string, unknown>
  } catch (err) {
    throw new ConfigError(option, `cannot import the plugin module ${JSON.stringify(spec.module)}: ${(err as Error).message}`)
  }
  const def = mod.default as Record<string, unknown> | ((...args: unknown[]) => unknown) | undefined
  const factory =
    typeof mod.create === 'function'
      ? mod.create
      : typeof def === 'function'
        ? def
        : def !== null && typeof def === 'object' && typeof def.create === 'function'
          ? def.create
          : undefined
  if (typeof factory !== 'function') {
    throw new ConfigError(
      option,
      `the plugin module ${JSON.stringify(spec.module)} exports no factory; export \`create(options, context)\` or a default function`,
    )
  }
  return (await (factory as PluginFactory<T>)({ ...(spec.options ?? {}) }, context)) as T
}
