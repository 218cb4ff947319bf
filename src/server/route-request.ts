import type { IncomingMessage } from 'node:http'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { GatehouseError, type ErrorCode } from '../errors.js'
import { clientAddress, peerAddress } from '../identify/client-address.js'
import { verifiedClientCertificate, type PeerCertificateSource } from '../identify/client-certificate.js'
import { inRanges, type Cidr } from '../net/address.js'
import { canonicalizeTarget, type CanonicalPath } from '../policy/canonical-path.js'
import type { Policy } from '../policy/load-policy.js'
import { findRoute as findPolicyRoute, FORWARDED_METHODS } from '../policy/find-route.js'
import type { PolicyStore } from '../policy/policy-store.js'
import type { Route } from '../policy/types.js'
import { sendError } from './respond.js'
import { normalizeHost, VALID_HOST } from '../net/host.js'
import type { TraceContext } from '../net/trace-context.js'
import { GATEWAY_ROUTE, type DecisionLabel } from '../metrics/gateway-metrics.js'
import { originalRequest, type OriginalRequest } from './original-request.js'
import { FORWARD_AUTH_PATH, GATEHOUSE_PREFIX } from '../endpoints.js'
import type { RoutedRequest } from '../pipeline/routed-request.js'

export { FORWARDED_METHODS }
const ALLOW = FORWARDED_METHODS.join(', ')

export type { RoutedRequest }

/** A forward-auth request from a trusted proxy, routed like the request it describes. */
export interface ForwardAuthRequest {
  readonly routed: RoutedRequest
  readonly original: OriginalRequest
  /** Browser navigations that need a sign-in are redirected to it (302) instead of answered 401. */
  readonly redirect: boolean
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for proxied requests by the routing step; null for the gateway's own endpoints. */
    routed: RoutedRequest | null
    /** The `route` label of the request in metrics: the policy route's name, `(gateway)` or `(none)`. */
    routeLabel: string
    /** How the request was decided, for metrics. */
    decision: DecisionLabel
    /** The W3C trace context: the client's valid traceparent, or a new one. */
    readonly trace: TraceContext
    /** The client's address as the gateway resolves it (trusted proxies applied); undefined when unknown. */
    readonly clientIp: string | undefined
    /** Set for forward-auth requests by the routing step; null otherwise. */
    forwardAuth: ForwardAuthRequest | null
  }
}

function countHostLines (rawHeaders: readonly string[]): number {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.length === 4 && rawHeaders[i]?.toLowerCase() === 'host') count++
  return count
}

/**
 * What rewriteUrl learned about a request target, kept on Node's request
 * object under a symbol (cheaper than a WeakMap entry per request): its
 * canonical form, why it was refused, or the target a path-form forward-auth
 * request describes, exactly as received.
 */
const TARGET = Symbol('gatehouse.target')
type TargetNote =
  | { readonly kind: 'canonical', readonly canonical: CanonicalPath }
  | { readonly kind: 'refused', readonly reason: string, readonly detail: string }
  | { readonly kind: 'forward-auth', readonly target: string }
type NotedRequest = IncomingMessage & { [TARGET]?: TargetNote }

function noteOf (req: IncomingMessage): TargetNote | undefined {
  return (req as NotedRequest)[TARGET]
}

function note (req: IncomingMessage, value: TargetNote): void {
  (req as NotedRequest)[TARGET] = value
}
/** Where refused targets are routed, so Fastify's router never sees them. */
const REFUSED_PATH = `${GATEHOUSE_PREFIX}/refused`

/**
 * Fastify's rewriteUrl: every request target becomes its canonical form
 * before routing, so the router, the policy and the upstream all read the same
 * path. A target that cannot be made canonical is routed nowhere and refused.
 *
 * A forward-auth request in path form carries the target to check after the
 * endpoint's path; that target is canonicalized on its own (later, by the
 * routing step), so it can never climb out of the endpoint's path.
 */
export function rewriteToCanonical (req: IncomingMessage): string {
  const url = req.url ?? ''
  if (url.startsWith(`${FORWARD_AUTH_PATH}/`)) {
    note(req, { kind: 'forward-auth', target: url.slice(FORWARD_AUTH_PATH.length) })
    return FORWARD_AUTH_PATH
  }
  const result = canonicalizeTarget(url)
  if (!result.ok) {
    note(req, { kind: 'refused', reason: result.reason, detail: result.detail })
    return REFUSED_PATH
  }
  note(req, { kind: 'canonical', canonical: result.value })
  return result.value.query === '' ? result.value.path : `${result.value.path}?${result.value.query}`
}

export interface RouteRequestDeps {
  policies: PolicyStore
  trustedProxies: readonly Cidr[]
}

type Lookup =
  | { readonly ok: true, readonly route: Route, readonly policy: Policy }
  | { readonly ok: false, readonly error: GatehouseError, readonly reason: string }

/** The route of a canonical path under the policy in force, or the error that answers it. */
function findRoute (policies: PolicyStore, host: string, method: string, canonical: CanonicalPath): Lookup {
  const policy = policies.current
  const found = findPolicyRoute(policy, host, method, canonical)
  switch (found.kind) {
    case 'gateway_path': return { ok: false, error: new GatehouseError('GH_NOT_FOUND', canonical.path), reason: 'gateway_path' }
    case 'no_route': return { ok: false, error: new GatehouseError('GH_NO_ROUTE', `${method} ${canonical.path}`), reason: 'no_route' }
    case 'ambiguous_case': return { ok: false, error: new GatehouseError('GH_BAD_PATH', found.detail), reason: 'ambiguous_case' }
    case 'route': return { ok: true, route: found.route, policy }
  }
}

/**
 * The first onRequest step: refuse bad targets, find the route (404 when
 * none), resolve the client address. Nothing here reads the session: only
 * a route whose decision can depend on the user does, later (authorize), so
 * public routes keep working while Redis is away. Forward-auth requests are
 * routed here too, by the request they describe.
 */
export function routeRequest (deps: RouteRequestDeps): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  // A callback hook, not an async one: no promise per request. When a refusal has been sent, `done` is not called.
  return function route (request, reply, done) {
    if (routeOrRefuse(request, reply, deps) === undefined) done()
  }
}

function routeOrRefuse (request: FastifyRequest, reply: FastifyReply, deps: RouteRequestDeps): FastifyReply | undefined {
  const noted = noteOf(request.raw)
  if (noted?.kind === 'refused') {
    request.log.info({ reason: noted.reason, detail: noted.detail }, 'request target refused')
    return sendError(request, reply, new GatehouseError('GH_BAD_PATH', noted.detail), { json: { reason: noted.reason } })
  }
  // Node keeps the first of several Host lines; a server in front may have read the last (RFC 9112 3.2: 400).
  if (countHostLines(request.raw.rawHeaders) > 1) {
    request.log.info({ reason: 'bad_host' }, 'request refused: more than one Host header')
    return sendError(request, reply, new GatehouseError('GH_BAD_REQUEST', 'more than one Host header'), { json: { reason: 'bad_host' } })
  }
  const host = request.headers.host
  if (host !== undefined && !VALID_HOST.test(host)) {
    request.log.info({ reason: 'bad_host' }, 'request refused: malformed Host header')
    return sendError(request, reply, new GatehouseError('GH_BAD_REQUEST', 'malformed Host header'), { json: { reason: 'bad_host' } })
  }
  if (!FORWARDED_METHODS.includes(request.method)) {
    // TRACE would echo the identity headers back; WebDAV and other methods are never proxied.
    request.log.info({ reason: 'method_not_allowed', method: request.method }, 'request refused: method')
    return sendError(request, reply, new GatehouseError('GH_METHOD_NOT_ALLOWED', request.method), { headers: { allow: ALLOW } })
  }
  const pathTarget = noted?.kind === 'forward-auth' ? noted.target : undefined
  const canonical = noted?.kind === 'canonical' ? noted.canonical : undefined
  if (pathTarget !== undefined || canonical?.path === FORWARD_AUTH_PATH) {
    request.routeLabel = GATEWAY_ROUTE
    return routeForwardAuth(request, reply, deps, pathTarget)
  }
  if (canonical === undefined) return undefined
  if (canonical.path === GATEHOUSE_PREFIX || canonical.path.startsWith(`${GATEHOUSE_PREFIX}/`)) {
    request.routeLabel = GATEWAY_ROUTE
    return undefined
  }

  const routeHost = normalizeHost(request.headers.host)
  const found = findRoute(deps.policies, routeHost, request.method, canonical)
  if (!found.ok) {
    if (found.reason === 'ambiguous_case') request.log.info({ reason: found.reason, detail: found.error.detail }, 'request target refused')
    return sendError(request, reply, found.error, found.reason === 'ambiguous_case' ? { json: { reason: found.reason } } : {})
  }
  const { route, policy } = found
  request.routeLabel = route.name
  request.routed = {
    policy,
    route,
    method: request.method,
    host: routeHost,
    canonical,
    clientIp: clientAddress(peerAddress(request.socket), request.headers['x-forwarded-for'], deps.trustedProxies),
    clientCertificate: verifiedClientCertificate(connectionOf(request.raw)),
  }
  return undefined
}

/** The TLS connection a request came on: an HTTP/2 stream's session's, or the HTTP/1.1 socket. */
function connectionOf (raw: IncomingMessage): PeerCertificateSource {
  const stream = (raw as { stream?: { session?: { socket?: PeerCertificateSource } } }).stream
  return stream?.session?.socket ?? (raw.socket as PeerCertificateSource)
}

/**
 * Routes a forward-auth request by the original request it describes, with
 * the same canonical path and route table as a proxied request. Only a peer
 * in trusted_proxies may ask; the description must be complete and
 * consistent. Whatever makes the original request unanswerable (a refused
 * path, no route, an ambiguous description) is a 403: a denial, in the one
 * status every proxy reads as one (nginx's auth_request knows only 2xx, 401
 * and 403); the code in the body says why.
 */
function routeForwardAuth (request: FastifyRequest, reply: FastifyReply, deps: RouteRequestDeps, pathTarget: string | undefined): FastifyReply | undefined {
  const peerText = request.socket.remoteAddress
  const peer = peerAddress(request.socket)
  if (peer === undefined || !inRanges(peer, deps.trustedProxies)) {
    request.log.warn({ event: 'forward_auth.untrusted_peer', peer: peerText }, 'forward-auth request refused: the caller is not in trusted_proxies')
    return sendError(request, reply, new GatehouseError('GH_FORWARD_AUTH_UNTRUSTED', `peer ${peerText ?? 'unknown'}`), { json: { reason: 'untrusted_caller' } })
  }
  const described = originalRequest(request.raw.headersDistinct, pathTarget === undefined ? undefined : { target: pathTarget, method: request.method })
  if (!described.ok) {
    request.log.warn({ event: 'forward_auth.refused', reason: described.reason, detail: described.detail }, 'forward-auth request refused')
    const code: ErrorCode = described.kind === 'incomplete' ? 'GH_FORWARD_AUTH_INCOMPLETE' : 'GH_FORWARD_AUTH_AMBIGUOUS'
    return sendError(request, reply, new GatehouseError(code, described.detail), { hint: described.detail, json: { reason: described.reason } })
  }
  const original = described.value
  const canonical = canonicalizeTarget(original.target)
  if (!canonical.ok) {
    request.log.info({ reason: canonical.reason, detail: canonical.detail }, 'forward-auth: original target refused')
    return sendError(request, reply, new GatehouseError('GH_BAD_PATH', canonical.detail), { status: 403, json: { reason: canonical.reason } })
  }
  const found = findRoute(deps.policies, original.host, original.method, canonical.value)
  if (!found.ok) {
    request.log.info({ reason: found.reason, detail: found.error.detail }, 'forward-auth: no route for the original request')
    return sendError(request, reply, found.error, { status: 403, json: { reason: found.reason } })
  }
  const forwardedFor = request.headers['x-forwarded-for']
  request.forwardAuth = {
    routed: {
      policy: found.policy,
      route: found.route,
      method: original.method,
      host: original.host,
      canonical: canonical.value,
      // The caller is the proxy, never the client: without X-Forwarded-For the client's address is unknown.
      clientIp: forwardedFor === undefined ? undefined : clientAddress(peer, forwardedFor, deps.trustedProxies),
    },
    original,
    redirect: pathTarget !== undefined || (request.query as Record<string, unknown> | undefined)?.redirect === 'true',
  }
  return undefined
}

