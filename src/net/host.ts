import { boundedMemo } from '../bounded-memo.js'

/**
 * A Host header is a DNS name or an IP literal with an optional port, nothing
 * else: anything an upstream might decode or trim into another host (escapes,
 * tabs, spaces, other scripts) is refused before routing.
 */
export const VALID_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/

/** The Host header as routes match it: lower case, without port or trailing dot. Remembered for the names seen (a bounded number). */
export function normalizeHost (host: string | undefined): string {
  return host === undefined ? '' : normalized(host)
}

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
const normalized = boundedMemo(normalize, 1000)
