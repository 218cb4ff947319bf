import type { ConditionSet } from '../authorize/criteria/index.js'
import type { RouteRules } from '../authorize/decision.js'

export type { Cidr } from '../net/address.js'

/** One entry of `allow` or `deny`; its conditions are those of the criteria registry. */
export type { ClaimTest, ConditionSet } from '../authorize/criteria/index.js'

export interface Upstream {
  readonly name: string
  readonly url: string
  readonly timeoutMs: number | undefined
}

/** A compiled path pattern: literal segments, `*` (one segment) and a final `**` (any depth). */
export interface PathPattern {
  readonly text: string
  readonly segments: readonly string[]
}

export interface HostPattern {
  readonly text: string
  /** Exact host, or the suffix after `*.` for wildcard patterns. */
  readonly host: string
  readonly wildcard: boolean
}

export interface IdentityHeaderNames {
  readonly user?: string
  readonly email?: string
  readonly name?: string
  readonly groups?: string
  readonly roles?: string
}

/** `downstream_token`: an access token for another API, obtained as the caller and sent upstream in `header`. */
export interface DownstreamTokenOption {
  /** As written, in order: what the token request and an incremental-consent sign-in ask for. */
  readonly scopes: readonly string[]
  /** RFC 8707 resource indicator (generic OpenID Providers). */
  readonly resource: string | undefined
  /** The header's name in lower case. */
  readonly header: string
  /** Names one token the gateway keeps: the same scopes and resource on two routes share it. */
  readonly key: string
}

export interface Route extends RouteRules {
  readonly index: number
  readonly name: string
  readonly where: string
  readonly hosts: readonly HostPattern[] | undefined
  readonly path: PathPattern
  /** Upper-case methods; undefined means every method. HEAD matches routes that allow GET. */
  readonly methods: ReadonlySet<string> | undefined
  readonly upstream: Upstream
  readonly allow: 'anyone' | 'authenticated' | readonly ConditionSet[]
  readonly deny: readonly ConditionSet[]
  readonly headers: IdentityHeaderNames
  readonly audience: string
  /** With `rewrite_prefix`: the literal prefix of the path pattern that is replaced. */
  readonly rewrite: { readonly from: string, readonly to: string } | undefined
  readonly timeoutMs: number | undefined
  readonly websockets: boolean
  /** Origins besides public_url's whose pages may open WebSockets with the session cookie (lower-case scheme://host[:port]). */
  readonly websocketOrigins: readonly string[]
  readonly passAccessToken: boolean
  /** A 401 from the application asking for a stronger sign-in starts a step-up (step_up_from_upstream). */
  readonly stepUpFromUpstream: boolean
  readonly downstreamToken: DownstreamTokenOption | undefined
  /** How callers may identify themselves on this route. */
  readonly credentials: { readonly session: boolean, readonly bearer: boolean }
  /** False when the decision never depends on who the user is: the session is then not even read. */
  readonly needsIdentity: boolean
}
