/**
 * `{ ...defaults, ...options }` where an option given as `undefined` keeps its default (a spread
 * would replace the default with `undefined`).
 */
export function withDefaults<T extends object>(defaults: T, options: Partial<T> | undefined): T {
  const out = { ...defaults }
  if (options) {
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (out as Record<string, unknown>)[k] = v
  }
  return out
}
