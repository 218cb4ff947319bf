/**
 * Where a person lands after signing in or out: only a path on the gateway's
 * own origin. Everything else (`//host`, `/\host`, `https:host`, schemes,
 * userinfo, control characters, encoded variants of those) falls back to `/`.
 */
export function safeReturnPath (candidate: unknown, publicUrl: string, fallback = '/'): string {
  if (typeof candidate !== 'string' || candidate.length === 0 || candidate.length > 4096) return fallback
  // Must be an absolute path, not a network-path reference.
  if (candidate[0] !== '/' || candidate[1] === '/' || candidate[1] === '\\') return fallback
  // Backslashes and control characters are read as `/` or dropped by browsers: refuse them outright.
  if (/[\\\x00-\x1f\x7f]/.test(candidate)) return fallback
  let decoded = candidate
  try {
    decoded = decodeURIComponent(candidate)
  } catch {
    return fallback
  }
  if (decoded.startsWith('//') || decoded.startsWith('/\\') || /[\\\x00-\x1f\x7f]/.test(decoded)) return fallback
  let url: URL
  try {
    url = new URL(candidate, publicUrl)
  } catch {
    return fallback
  }
  if (url.origin !== publicUrl) return fallback
  return `${url.pathname}${url.search}`
}
