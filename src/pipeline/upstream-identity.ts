import { withOnlyGroups } from '../identify/build-identity.js'
import { withCertificate } from '../identify/client-certificate.js'
import type { Identity } from '../identify/identity.js'
import type { Policy } from '../policy/load-policy.js'
import type { RequestLog } from '../log/request-log.js'
import { identityHeaderBytes } from '../proxy/identity-headers.js'
import type { ForwardContext } from '../proxy/forward-headers.js'
import type { AssertionSigner } from '../sign/assertion.js'
import type { Allowed } from './authorize-request.js'
import type { Caller } from './caller.js'
import type { RoutedRequest } from './routed-request.js'

/** Identity headers and assertion above this many bytes draw a warning: many servers refuse 8 KiB header lines or 16 KiB of headers. */
export const IDENTITY_HEADER_WARN_BYTES = 6 * 1024

export type UpstreamIdentityContext = Pick<ForwardContext, 'identity' | 'assertion' | 'headerNames' | 'accessToken'>

export interface UpstreamIdentityDeps {
  readonly signer: AssertionSigner
  /** upstream.forward_groups */
  readonly forwardGroups: 'all' | 'mentioned'
  readonly clock: () => number
}

/**
 * Who the upstream is told is asking, for an allowed request: the identity
 * (with only the groups policies name, under forward_groups: mentioned), the
 * signed assertion, the route's header names, and the access token where the
 * route passes it. Cut identities are kept per policy and identity object,
 * and an identity's header size is checked once, not per request.
 */
export class UpstreamIdentity {
  readonly #deps: UpstreamIdentityDeps
  readonly #cut = new WeakMap<Policy, WeakMap<Identity, Identity>>()
  readonly #sizeChecked = new WeakSet<Identity>()

  constructor (deps: UpstreamIdentityDeps) {
    this.#deps = deps
  }

  async context (log: RequestLog, routed: RoutedRequest, decision: Allowed, caller: Caller): Promise<UpstreamIdentityContext> {
    const { route, policy } = routed
    const cert = routed.clientCertificate
    // A signed-in caller that also presented a verified certificate: the upstream is told of both.
    const identity = decision.identity === undefined || cert === undefined ? decision.identity : withCertificate(decision.identity, cert)
    const who = identity === undefined ? undefined : this.#forwarded(policy, identity)
    const assertion = who === undefined ? undefined : await this.#deps.signer.assertion(who, route.audience, this.#deps.clock())
    if (who !== undefined && !this.#sizeChecked.has(who)) {
      this.#sizeChecked.add(who)
      const bytes = identityHeaderBytes(who, assertion)
      if (bytes > IDENTITY_HEADER_WARN_BYTES) log.warn({ event: 'identity_headers.large', user: who.id, groups: who.groups.length, bytes }, 'identity headers are large and may exceed upstream header limits; consider upstream.forward_groups: mentioned')
    }
    return {
      identity: who,
      assertion,
      headerNames: route.headers,
      accessToken: route.passAccessToken && who !== undefined ? accessTokenOf(caller) : undefined,
    }
  }

  #forwarded (policy: Policy, identity: Identity): Identity {
    if (this.#deps.forwardGroups === 'all') return identity
    let byIdentity = this.#cut.get(policy)
    if (byIdentity === undefined) this.#cut.set(policy, byIdentity = new WeakMap())
    let cut = byIdentity.get(identity)
    if (cut === undefined) {
      cut = withOnlyGroups(identity, g => policy.mentionedGroups.has(g))
      byIdentity.set(identity, cut)
    }
    return cut
  }
}

/** The caller's access token: the bearer token it presented, or its session's. */
function accessTokenOf (caller: Caller): string | undefined {
  if (caller.kind === 'bearer') return caller.token
  if (caller.kind === 'session') return caller.session?.record.tokens?.accessToken
  return undefined
}
