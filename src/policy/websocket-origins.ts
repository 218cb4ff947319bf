import type { Route } from './types.js'

/**
 * Whether a WebSocket handshake's `Origin` is one the route trusts to use the
 * session cookie: the gateway's public origin, or one of the route's
 * `websocket_origins`. One `Origin` exactly (browsers send it lower-case);
 * none, several, or `null` (a sandboxed or opaque page) is no trusted origin.
 */
export function websocketOriginAllowed (route: Pick<Route, 'websocketOrigins'>, origin: string | readonly string[] | undefined, publicOrigin: string): boolean {
  if (typeof origin !== 'string') return false
  const folded = origin.toLowerCase()
  return folded === publicOrigin || route.websocketOrigins.includes(folded)
}

/** An entry of `websocket_origins` as the gateway compares it (scheme://host[:port], lower-case, default port left out); undefined when it is not an origin. */
export function parseOrigin (text: string): string | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.pathname !== '/') return undefined
  // "https://app.example.com/" is that origin too; "https://app.example.com/x" is not one.
  if (!/^[a-z]+:\/\/[^/?#]+\/?$/i.test(text)) return undefined
  return url.origin
}
