import { GATEHOUSE_PREFIX } from '../endpoints.js'
import type { CanonicalPath } from './canonical-path.js'
import type { Policy } from './load-policy.js'
import { describeAmbiguity } from './route-table.js'
import type { Route } from './types.js'

/** The only methods the gateway answers or forwards; TRACE, CONNECT, WebDAV and the rest get 405. */
export const FORWARDED_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

export type RouteFinding =
  | { readonly kind: 'route', readonly route: Route }
  /** A spelling of the gateway's own prefix (case, ;parameters): never proxied, 404. */
  | { readonly kind: 'gateway_path' }
  | { readonly kind: 'no_route' }
  /** The letter case of the path selects another route: refused (400). */
  | { readonly kind: 'ambiguous_case', readonly detail: string, readonly route: Route | undefined }

/**
 * The route of a canonical path under a policy, as the gateway routes it.
 * Spellings of the gateway's own prefix that an upstream might read as it
 * and paths whose letter case selects another route are refused; no route
 * is an answer of its own.
 */
export function findRoute (policy: Policy, host: string, method: string, canonical: CanonicalPath): RouteFinding {
  const folded = canonical.matchPath.toLowerCase()
  if (folded === GATEHOUSE_PREFIX || folded.startsWith(`${GATEHOUSE_PREFIX}/`)) return { kind: 'gateway_path' }
  const lookup = policy.table.lookup(host, method, canonical.matchPath)
  if (lookup.kind === 'none') return { kind: 'no_route' }
  if (lookup.kind === 'ambiguous_case') return { kind: 'ambiguous_case', detail: describeAmbiguity(lookup), route: lookup.asWritten ?? lookup.lowerCase }
  return { kind: 'route', route: lookup.route }
}
