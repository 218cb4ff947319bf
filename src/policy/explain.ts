import { decide, type Decision } from '../authorize/decision.js'
import type { ClientCertificate, Identity } from '../identify/identity.js'
import { describeNeed } from '../authorize/step-up.js'
import type { Address } from '../net/address.js'
import { normalizeHost } from '../net/host.js'
import { canonicalizeTarget } from './canonical-path.js'
import type { Policy } from './load-policy.js'
import { findRoute, FORWARDED_METHODS } from './find-route.js'
import type { Route } from './types.js'
import { websocketOriginAllowed } from './websocket-origins.js'

export interface ExplainRequest {
  method: string
  /** An absolute URL (its host is matched) or a path. */
  url: string
  clientIp: Address | undefined
  identity: Identity | undefined
  /** How the identity is presented: a session cookie (default) or a bearer token; a route only reads the credentials it takes. */
  credential?: 'session' | 'bearer'
  /** The verified client certificate the request comes with (client_certificate conditions); absent: none. */
  clientCertificate?: ClientCertificate | undefined
  /** A WebSocket handshake (an `Upgrade` header). */
  upgrade?: boolean
  /**
   * The handshake's `Origin`. When given, a handshake the session cookie
   * authenticates is checked as the gateway checks it: public_url's origin
   * (`publicOrigin`) or one of the route's websocket_origins.
   */
  origin?: string | undefined
  publicOrigin?: string | undefined
}

export interface Explanation {
  method: string
  host: string
  path: string | undefined
  outcome: 'allow' | 'unauthenticated' | 'forbidden' | 'step_up' | 'no_route' | 'bad_path' | 'method_not_allowed'
  route: Route | undefined
  decision: Decision | undefined
  /** One sentence: what decided. */
  because: string
}

/**
 * "Would this request pass, and why": the same canonicalization, route lookup
 * and decision as the gateway, without a network.
 */
export function explain (policy: Policy, req: ExplainRequest): Explanation {
  const method = req.method.toUpperCase()
  let host = ''
  let target = req.url
  if (/^https?:\/\//i.test(req.url)) {
    let url: URL
    try {
      url = new URL(req.url)
    } catch {
      return { method, host, path: undefined, outcome: 'bad_path', route: undefined, decision: undefined, because: 'the URL is not valid (400, bad_host)' }
    }
    host = normalizeHost(url.host)
    target = `${url.pathname}${url.search}`
  }
  if (!FORWARDED_METHODS.includes(method)) return { method, host, path: undefined, outcome: 'method_not_allowed', route: undefined, decision: undefined, because: `the method is never forwarded (405); allowed: ${FORWARDED_METHODS.join(', ')}` }
  const canonical = canonicalizeTarget(target)
  if (!canonical.ok) return { method, host, path: undefined, outcome: 'bad_path', route: undefined, decision: undefined, because: `the path is refused (400, ${canonical.reason}): ${canonical.detail}` }
  const path = canonical.value.path
  const found = findRoute(policy, host, method, canonical.value)
  if (found.kind === 'gateway_path') return { method, host, path, outcome: 'no_route', route: undefined, decision: undefined, because: 'the path is the gateway\'s own (404)' }
  if (found.kind === 'no_route') return { method, host, path, outcome: 'no_route', route: undefined, decision: undefined, because: 'no route matches (404)' }
  if (found.kind === 'ambiguous_case') return { method, host, path, outcome: 'bad_path', route: found.route, decision: undefined, because: `${found.detail} (400, ambiguous_case)` }
  const route = found.route
  if (req.upgrade === true && !route.websockets) {
    const decision: Decision = { allow: false, kind: 'forbidden', reason: 'websockets_disabled', message: 'does not accept WebSocket connections', rule: route.where }
    return { method, host, path, outcome: 'forbidden', route, decision, because: `${decision.message} [${decision.reason}] (${route.where})` }
  }
  if (req.upgrade === true && req.origin !== undefined && req.credential !== 'bearer' && req.identity !== undefined && presented(route, req) && !websocketOriginAllowed(route, req.origin, req.publicOrigin ?? '')) {
    const decision: Decision = { allow: false, kind: 'forbidden', reason: 'websocket_origin', message: `does not take WebSockets with the session cookie from ${req.origin}`, rule: route.where }
    return { method, host, path, outcome: 'forbidden', route, decision, because: `${decision.message} [${decision.reason}] (${route.where})` }
  }
  const decision = decide(route, { identity: presented(route, req) ? req.identity : undefined, clientIp: req.clientIp, clientCertificate: req.clientCertificate })
  const at = decision.rule === undefined ? '' : ` (${decision.rule})`
  if (decision.allow) {
    const because = decision.reason === 'anyone'
      ? 'the route allows anyone'
      : decision.reason === 'authenticated' ? 'the route allows any signed-in user' : `allow entry${at} holds`
    return { method, host, path, outcome: 'allow', route, decision, because }
  }
  const stepUp = decision.kind === 'step_up' ? `; a new sign-in with ${describeNeed(decision.need)} may pass` : ''
  return { method, host, path, outcome: decision.kind, route, decision, because: `${decision.message} [${decision.reason}]${at}${stepUp}` }
}

/** Whether the gateway would read the identity on this route: only where the decision can depend on it, and only from a credential the route takes. */
function presented (route: Route, req: ExplainRequest): boolean {
  if (!route.needsIdentity) return false
  return req.credential === 'bearer' ? route.credentials.bearer : route.credentials.session
}

export function formatExplanation (e: Explanation, req: ExplainRequest): string {
  const who = req.identity === undefined
    ? 'nobody signed in'
    : `${req.identity.id}${req.identity.email === undefined ? '' : ` <${req.identity.email}>`} (groups: ${req.identity.groups.join(', ') || 'none'}; roles: ${req.identity.roles.join(', ') || 'none'}; amr: ${req.identity.amr.join(', ') || 'none'})`
  const lines = [
    `request:  ${e.method} ${e.host === '' ? '' : `//${e.host}`}${e.path ?? req.url} from ${req.clientIp?.toString() ?? 'an unknown address'}`,
    `user:     ${who}`,
    `route:    ${e.route === undefined ? '(none)' : `${e.route.name} (${e.route.where}) -> ${e.route.upstream.name} ${e.route.upstream.url}`}`,
    `decision: ${e.outcome === 'allow' ? 'allow' : e.outcome === 'unauthenticated' ? 'sign in first (browser: redirect to the IdP; API: 401)' : e.outcome === 'forbidden' ? 'deny (403)' : e.outcome === 'step_up' ? 'step up (browser: back to the IdP to sign in again, session kept; API: 401 GH_STEP_UP_REQUIRED; bearer: 401 insufficient_user_authentication)' : e.outcome === 'no_route' ? 'not found (404)' : e.outcome === 'method_not_allowed' ? 'method not allowed (405)' : 'bad request (400)'}`,
    `because:  ${e.because}`,
  ]
  return `${lines.join('\n')}\n`
}
