import type { ClientCertificate } from '../identify/identity.js'
import type { Address } from '../net/address.js'
import type { CanonicalPath } from '../policy/canonical-path.js'
import type { Policy } from '../policy/load-policy.js'
import type { Route } from '../policy/types.js'

/** What the gateway knows about a request once it is routed; fixed for the request's life. */
export interface RoutedRequest {
  readonly policy: Policy
  readonly route: Route
  /** The method and host of the request decided (for forward-auth, of the request described). */
  readonly method: string
  readonly host: string
  readonly canonical: CanonicalPath
  readonly clientIp: Address | undefined
  /** The connection's verified client certificate; never set for forward-auth, whose connection is the proxy's. */
  readonly clientCertificate?: ClientCertificate | undefined
}
