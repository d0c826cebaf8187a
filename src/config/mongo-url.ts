/** The driver's reading of a MongoDB URL: the part after the hosts (userinfo may hold a `/`). */
const URL_REST = /^mongodb(?:\+srv)?:\/\/(?:[^:@]*(?::[^@]*)?@)?[^/?@]*(.*)$/i

/**
 * The database named in a MongoDB URL's path (`mongodb://host/labdb` → `labdb`), read as the
 * driver reads it (mongodb-connection-string-url), or undefined when the path names none.
 */
export function mongoUrlDatabase(url: string): string | undefined {
  const rest = URL_REST.exec(url)?.[1] ?? ''
  if (!rest.startsWith('/')) return undefined
  const path = rest.slice(1).split(/[?#]/)[0]
  try {
    return decodeURIComponent(path) || undefined
  } catch {
    return path || undefined
  }
}
