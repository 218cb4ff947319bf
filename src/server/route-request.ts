import type { IncomingMessage } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { GatehouseError } from '../errors.js'
import { clientAddress, peerAddress } from '../identify/client-address.js'
import type { Address, Cidr } from '../net/address.js'
import { canonicalizeTarget, type CanonicalPath } from '../policy/canonical-path.js'
import type { Policy } from '../policy/load-policy.js'
import { describeAmbiguity } from '../policy/route-table.js'
import type { PolicyStore } from '../policy/policy-store.js'
import type { Route } from '../policy/types.js'
import { sendError } from './respond.js'
import { normalizeHost } from '../net/host.js'

export const GATEHOUSE_PREFIX = '/.gatehouse'

/** What the gateway knows about a request once it is routed; fixed for the request's life. */
export interface RoutedRequest {
  readonly policy: Policy
  readonly route: Route
  readonly canonical: CanonicalPath
  readonly clientIp: Address | undefined
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for proxied requests by the routing step; null for the gateway's own endpoints. */
    routed: RoutedRequest | null
  }
}

/**
 * A Host header is a DNS name or an IP literal with an optional port, nothing
 * else: anything an upstream might decode or trim into another host (escapes,
 * tabs, spaces, other scripts) is refused before routing.
 */
const VALID_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/

const rejected = new WeakMap<IncomingMessage, { reason: string, detail: string }>()
const canonicalOf = new WeakMap<IncomingMessage, CanonicalPath>()
/** Where refused targets are routed, so Fastify's router never sees them. */
const REFUSED_PATH = `${GATEHOUSE_PREFIX}/refused`

/**
 * Fastify's rewriteUrl: every request target becomes its canonical form
 * before routing, so the router, the policy and the upstream all read the same
 * path. A target that cannot be made canonical is routed nowhere and refused.
 */
export function rewriteToCanonical (req: IncomingMessage): string {
  const result = canonicalizeTarget(req.url ?? '')
  if (!result.ok) {
    rejected.set(req, { reason: result.reason, detail: result.detail })
    return REFUSED_PATH
  }
  canonicalOf.set(req, result.value)
  return result.value.query === '' ? result.value.path : `${result.value.path}?${result.value.query}`
}

export interface RouteRequestDeps {
  policies: PolicyStore
  trustedProxies: readonly Cidr[]
  sessionCookie: string
}

/**
 * The first onRequest step: refuse bad targets, find the route (404 when
 * none), resolve the client address. A route whose decision cannot depend on
 * the user never reads the session: its cookie is set aside here, so public
 * routes keep working while Redis is away.
 */
export function routeRequest (deps: RouteRequestDeps) {
  return async function route (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const refusal = rejected.get(request.raw)
    if (refusal !== undefined) {
      request.log.info({ reason: refusal.reason, detail: refusal.detail }, 'request target refused')
      return sendError(request, reply, new GatehouseError('GH_BAD_PATH', refusal.detail), { json: { reason: refusal.reason } })
    }
    const host = request.headers.host
    if (host !== undefined && !VALID_HOST.test(host)) {
      request.log.info({ reason: 'bad_host' }, 'request refused: malformed Host header')
      return sendError(request, reply, new GatehouseError('GH_BAD_REQUEST', 'malformed Host header'), { json: { reason: 'bad_host' } })
    }
    const canonical = canonicalOf.get(request.raw)
    if (canonical === undefined || canonical.path === GATEHOUSE_PREFIX || canonical.path.startsWith(`${GATEHOUSE_PREFIX}/`)) return undefined
    // Spellings of the gateway's own prefix that an upstream might read as it (case, ;parameters) go nowhere.
    const folded = canonical.matchPath.toLowerCase()
    if (folded === GATEHOUSE_PREFIX || folded.startsWith(`${GATEHOUSE_PREFIX}/`)) {
      return sendError(request, reply, new GatehouseError('GH_NOT_FOUND', canonical.path))
    }

    const policy = deps.policies.current
    const lookup = policy.table.lookup(normalizeHost(request.headers.host), request.method, canonical.matchPath)
    if (lookup.kind === 'none') {
      return sendError(request, reply, new GatehouseError('GH_NO_ROUTE', `${request.method} ${canonical.path}`))
    }
    if (lookup.kind === 'ambiguous_case') {
      const detail = describeAmbiguity(lookup)
      request.log.info({ reason: 'ambiguous_case', detail }, 'request target refused')
      return sendError(request, reply, new GatehouseError('GH_BAD_PATH', detail), { json: { reason: 'ambiguous_case' } })
    }
    const route = lookup.route
    request.routed = {
      policy,
      route,
      canonical,
      clientIp: clientAddress(peerAddress(request.socket), request.headers['x-forwarded-for'], deps.trustedProxies),
    }
    if (!route.needsIdentity) delete request.cookies[deps.sessionCookie]
    return undefined
  }
}
