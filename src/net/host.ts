/**
 * A Host header is a DNS name or an IP literal with an optional port, nothing
 * else: anything an upstream might decode or trim into another host (escapes,
 * tabs, spaces, other scripts) is refused before routing.
 */
export const VALID_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/

/** The Host header as routes match it: lower case, without port or trailing dot. Remembered for the names seen (a bounded number). */
export function normalizeHost (host: string | undefined): string {
  if (host === undefined) return ''
  let known = normalized.get(host)
  if (known === undefined) {
    known = normalize(host)
    if (host.length <= 256) {
      // Cleared when full, so that values a client made up cannot hold the places for good.
      if (normalized.size >= NORMALIZED_MAX) normalized.clear()
      normalized.set(host, known)
    }
  }
  return known
}
const normalized = new Map<string, string>()
const NORMALIZED_MAX = 1000

function normalize (host: string): string {
  let h = host.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    h = end === -1 ? h : h.slice(0, end + 1)
  } else {
    const colon = h.lastIndexOf(':')
    if (colon !== -1) h = h.slice(0, colon)
  }
  return h.replace(/\.+$/, '')
}
