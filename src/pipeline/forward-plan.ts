import type { TraceContext } from '../net/trace-context.js'
import { addressText } from '../net/address.js'
import { rewritePath } from '../proxy/rewrite-path.js'
import type { Forward } from '../proxy/register-proxy.js'
import type { Caller } from './caller.js'
import type { DownstreamHeader } from './downstream-token.js'
import type { RoutedRequest } from './routed-request.js'
import type { UpstreamIdentityContext } from './upstream-identity.js'

export interface ForwardPlanFacts {
  readonly routed: RoutedRequest
  readonly who: UpstreamIdentityContext
  readonly caller: Caller
  /** The socket's address, when the client's address is unknown (an untrusted X-Forwarded-For chain). */
  readonly peerAddress: string | undefined
  readonly requestId: string
  readonly trace: TraceContext
  readonly publicParts: Forward['publicParts']
  /** upstream.timeout, for routes without their own. */
  readonly defaultTimeoutMs: number
  /** The route's downstream token, when it has one. */
  readonly downstream?: DownstreamHeader | undefined
  /** The path to come back to after a sign-in (as the client asked, before any rewrite); only needed on routes with step_up_from_upstream. */
  readonly returnTo: string
}

/**
 * What the proxy sends upstream for an allowed request: where, how long it
 * may take, and everything the upstream's headers are built from.
 */
export function forwardPlan (facts: ForwardPlanFacts): Forward {
  const { route, clientIp, policy } = facts.routed
  const { who } = facts
  // Written out field by field: a spread here made V8 build the object the slow way on every request.
  return {
    identity: who.identity,
    assertion: who.assertion,
    headerNames: who.headerNames,
    accessToken: who.accessToken,
    downstream: facts.downstream,
    dropAuthorization: facts.caller.kind === 'bearer' && !route.passAccessToken,
    clientIp: clientIp === undefined ? facts.peerAddress ?? '' : addressText(clientIp),
    publicParts: facts.publicParts,
    requestId: facts.requestId,
    trace: facts.trace,
    upstream: route.upstream.url,
    reserved: policy.reservedHeaders,
    timeoutMs: route.timeoutMs ?? facts.defaultTimeoutMs,
    sentAt: 0,
    // A signed-in session on a route that takes the application's step-up challenges; nobody else's 401 is looked at.
    upstreamStepUp: route.stepUpFromUpstream && facts.caller.kind === 'session' && facts.caller.identity !== undefined
      ? { route: route.name, upstreamName: route.upstream.name, returnTo: facts.returnTo, tried: facts.caller.session?.record.stepUpTried }
      : undefined,
  }
}

/** The target the upstream receives: the canonical one, with the route's path rewrite applied; undefined when unchanged. */
export function upstreamTarget (routed: RoutedRequest): string | undefined {
  const { route, canonical } = routed
  if (route.rewrite === undefined) return undefined
  const path = rewritePath(canonical.path, route.rewrite.from, route.rewrite.to)
  return canonical.query === '' ? path : `${path}?${canonical.query}`
}
