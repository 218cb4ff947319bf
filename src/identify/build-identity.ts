import type { ClaimMapper } from './claim-mapper.js'
import { clientIdOf, optionalString, stringList, type Claims } from './claim-values.js'
import type { ClaimNames, Identity } from './identity.js'
import { oidcClaims } from './oidc-claims.js'

/**
 * Claims not copied into Identity.claims: protocol bookkeeping of the token
 * itself, and values kept in their own fields. Everything else is kept, so a
 * policy may test any claim the IdP sends (policies change without signing in again).
 */
const PROTOCOL_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'auth_time', 'nonce', 'at_hash', 'c_hash', 's_hash', 'jti', 'sid', 'sid_hash', 'azp_hash', 'name', 'email',
  // bookkeeping of Entra ID tokens
  '_claim_names', '_claim_sources', 'hasgroups', 'uti', 'rh', 'aio'])
const MAX_CLAIM_BYTES = 8192

export interface BuildOptions {
  /** Group ids read from the directory because the token left some out: they replace the token's groups. */
  directoryGroups?: readonly string[]
  /** An app-only bearer token issued to this client: the identity is the application's. */
  applicationOf?: string
  /** The sign-in's IdP session id, kept when a refreshed ID token has none. */
  previousSid?: string
}

/** The one place an Identity is made: validated claims (ID token, userinfo or access token) read through the provider's mapper. */
export function buildIdentity (claims: Claims, mapper: ClaimMapper, opts: BuildOptions = {}): Identity {
  const provider = mapper.read(claims)
  const scopes = typeof claims.scp === 'string' ? claims.scp : typeof claims.scope === 'string' ? claims.scope : undefined
  const clientId = clientIdOf(claims)
  const name = optionalString(claims.name) ?? optionalString(claims.preferred_username)
  const application = opts.applicationOf !== undefined
  return {
    id: provider.id,
    ...(application ? { kind: 'application' as const } : {}),
    ...(provider.tenant === undefined ? {} : { tenant: provider.tenant }),
    ...(scopes === undefined ? {} : { scopes: scopes.split(' ').filter(s => s !== '') }),
    ...(clientId === undefined ? {} : { clientId }),
    issuer: String(claims.iss),
    subject: String(claims.sub),
    name: application ? name ?? opts.applicationOf : name,
    email: application ? undefined : provider.email,
    groups: opts.directoryGroups === undefined ? provider.groups : mapper.groupNames(opts.directoryGroups),
    roles: stringList(claims[mapper.names.rolesClaim]),
    amr: provider.amr,
    acr: optionalString(claims.acr),
    ...(typeof claims.auth_time === 'number' && Number.isFinite(claims.auth_time) ? { authTime: claims.auth_time } : {}),
    sid: optionalString(claims.sid) ?? opts.previousSid,
    claims: policyClaims(claims, mapper.names),
  }
}

/** The identity with its groups read again from the directory. */
export function withDirectoryGroups (identity: Identity, ids: readonly string[], mapper: ClaimMapper): Identity {
  return { ...identity, groups: mapper.groupNames(ids) }
}

/** The identity as the upstream is told of it, with only the groups `keep` selects (upstream.forward_groups: mentioned). */
export function withOnlyGroups (identity: Identity, keep: (group: string) => boolean): Identity {
  return Object.freeze({ ...identity, groups: identity.groups.filter(keep) })
}

/** An Identity from plain OpenID Connect claims (the CLI's explain, tests). */
export function identityFromClaims (claims: Claims, names: ClaimNames): Identity {
  return buildIdentity(claims, oidcClaims(names))
}

function policyClaims (claims: Claims, names: ClaimNames): Record<string, unknown> {
  const kept: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(claims)) {
    if (PROTOCOL_CLAIMS.has(name) || name === '__proto__' || name === names.groupsClaim || name === names.rolesClaim || value === undefined) continue
    // A claim too large to be a policy input (a blob, a picture) is left out.
    if (JSON.stringify(value).length > MAX_CLAIM_BYTES) continue
    kept[name] = value
  }
  return kept
}
