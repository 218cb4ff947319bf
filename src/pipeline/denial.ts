import type { Decision } from '../authorize/decision.js'
import { GatehouseError } from '../errors.js'
import type { Identity } from '../identify/identity.js'
import type { Route } from '../policy/types.js'
import { refusal, type Answer } from './answer.js'

export type Denied = Extract<Decision, { allow: false }>

export interface DenialFacts {
  readonly route: Route
  readonly decision: Denied
  readonly identity: Identity | undefined
  /** The caller presented a bearer token (an API client, told which scope is missing). */
  readonly bearer: boolean
  /** pages.denial_detail: detailed, so the page and the JSON name the route and the reason. */
  readonly detailed: boolean
  readonly returnTo: string
}

/** 403 for a request the route's rules refuse: the access-denied page, or JSON. */
export function accessDenied (facts: DenialFacts): Answer {
  const { route, decision, detailed } = facts
  const scoped = facts.bearer && Array.isArray(route.allow) && route.allow.some(e => e.scopes !== undefined)
  return refusal(new GatehouseError('GH_FORBIDDEN', `${route.name}: ${decision.reason}`), {
    ...(scoped ? { headers: { 'www-authenticate': 'Bearer realm="gatehouse", error="insufficient_scope"' } } : {}),
    title: 'Access denied',
    page: { kind: 'access_denied', identity: facts.identity, route: route.name, reason: decision.message, returnTo: facts.returnTo, detailed },
    ...(detailed ? { hint: `Route "${route.name}" ${decision.message}.`, json: { route: route.name, reason: decision.reason } } : {}),
  })
}

/** 403 for a WebSocket handshake on a route that does not take WebSockets. */
export function websocketsDisabled (route: Route): Answer {
  return refusal(new GatehouseError('GH_FORBIDDEN', 'websockets disabled'), { json: { route: route.name, reason: 'websockets_disabled' } })
}

/** 403 for a WebSocket handshake that relies on the session cookie from an origin the route does not trust. */
export function websocketOriginDenied (route: Route): Answer {
  return refusal(new GatehouseError('GH_FORBIDDEN', 'websocket origin not allowed'), { json: { route: route.name, reason: 'websocket_origin' } })
}
