import { websocketOriginAllowed } from '../policy/websocket-origins.js'
import type { Route } from '../policy/types.js'
import type { Caller } from './caller.js'
import { isUpgradeHandshake, type PipelineRequest } from './request.js'

/**
 * Cross-site WebSocket hijacking: a browser sends the session cookie with a
 * WebSocket handshake that any page opens, even a page of another site (and
 * `SameSite=Lax` lets a sibling subdomain's page through: it is the same
 * site). A handshake that the session cookie authenticates must come from
 * the gateway's public origin or one of the route's `websocket_origins`.
 * Handshakes with a bearer token are decided by the token, which a page of
 * another origin cannot send for the user; anonymous ones carry no
 * credential, so another origin gets nothing it could not get directly.
 */
export function websocketOriginRefused (request: Pick<PipelineRequest, 'headers'>, route: Pick<Route, 'websocketOrigins'>, caller: Caller, publicOrigin: string): boolean {
  if (!isUpgradeHandshake(request)) return false
  if (caller.kind !== 'session' || caller.identity === undefined) return false
  return !websocketOriginAllowed(route, request.headers.origin, publicOrigin)
}

/**
 * A browser presents its client certificate to any page's handshake, as it
 * sends a cookie: a handshake let in by the certificate alone that names
 * an Origin must name the public origin or one of the route's
 * `websocket_origins`. Services send no Origin and are not affected.
 */
export function certificateOriginRefused (request: Pick<PipelineRequest, 'headers'>, route: Pick<Route, 'websocketOrigins'>, publicOrigin: string): boolean {
  if (!isUpgradeHandshake(request) || request.headers.origin === undefined) return false
  return !websocketOriginAllowed(route, request.headers.origin, publicOrigin)
}
