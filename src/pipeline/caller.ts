import { GatehouseError } from '../errors.js'
import type { BearerVerifier } from '../identify/bearer-token.js'
import type { Identity } from '../identify/identity.js'
import type { Route } from '../policy/types.js'
import type { ActiveSession } from '../session/active-session.js'
import { bearerTokenOf } from './bearer-header.js'
import { liveSession, type LiveSessionDeps } from './live-session.js'
import type { PipelineRequest } from './request.js'

/** Who is calling, as far as the route's decision can depend on it. */
export type Caller =
  /** The route decides without a user, or the request carried no credential the route takes. */
  | { readonly kind: 'anonymous' }
  /** A session cookie was sent: its user while the session is live. */
  | { readonly kind: 'session', readonly identity: Identity | undefined, readonly session: ActiveSession | undefined }
  | { readonly kind: 'bearer', readonly identity: Identity, readonly token: string }
  /** A bearer token that is not valid: 401, never a sign-in. */
  | { readonly kind: 'invalid_token', readonly error: GatehouseError }

export interface CallerDeps {
  /** Undefined when bearer tokens are not configured (bearer.audiences). */
  readonly bearer: BearerVerifier | undefined
  readonly live: LiveSessionDeps
}

const ANONYMOUS: Caller = Object.freeze({ kind: 'anonymous' })

/**
 * Identifies the caller only where the route's decision can depend on it:
 * a bearer token where the route takes one (it wins over a cookie), else the
 * session. Public routes read neither, so they keep working while Redis or
 * the IdP is away.
 */
export async function identifyCaller (request: PipelineRequest, route: Route, sessionCookie: string | undefined, deps: CallerDeps): Promise<Caller> {
  if (!route.needsIdentity) return ANONYMOUS
  const token = route.credentials.bearer ? bearerTokenOf(request.headers.authorization) : undefined
  if (token !== undefined) return await verifiedBearer(token, deps)
  if (!route.credentials.session) return ANONYMOUS
  const live = await liveSession(request, sessionCookie, route.name, deps.live)
  return { kind: 'session', identity: live.identity, session: live.session }
}

async function verifiedBearer (token: string, deps: CallerDeps): Promise<Caller> {
  try {
    if (deps.bearer === undefined) throw new GatehouseError('GH_INVALID_TOKEN', 'bearer tokens are not configured (bearer.audiences)')
    return { kind: 'bearer', identity: await deps.bearer.verify(token, deps.live.clock()), token }
  } catch (err) {
    if (err instanceof GatehouseError && err.code === 'GH_INVALID_TOKEN') return { kind: 'invalid_token', error: err }
    throw err
  }
}
