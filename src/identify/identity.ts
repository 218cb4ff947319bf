import { emailClaim } from './email-address.js'

/**
 * Who a request comes from, as the rest of the gateway sees it: plain data,
 * independent of how it was established (session cookie today, bearer token later).
 */
export interface Identity {
  /** Stable key: the IdP's `sub` (one issuer per gateway); for Entra ID `tid/oid`. */
  readonly id: string
  /** `application` for an app-only (client credentials) bearer token; absent for people. */
  readonly kind?: 'application'
  /** Entra tenant id (`tid`). */
  readonly tenant?: string
  /** Delegated scopes of a bearer token (`scp` or `scope`). */
  readonly scopes?: readonly string[]
  /** The client the token was issued to (`azp`, `appid` or `client_id`) for bearer tokens. */
  readonly clientId?: string
  readonly issuer: string
  readonly subject: string
  readonly name: string | undefined
  readonly email: string | undefined
  readonly groups: readonly string[]
  readonly roles: readonly string[]
  /** Authentication methods (`amr`) and context (`acr`), for MFA conditions. */
  readonly amr: readonly string[]
  readonly acr: string | undefined
  /** The IdP's session id (`sid`), for logout. */
  readonly sid: string | undefined
  /** Further claims that policies may test. */
  readonly claims: Readonly<Record<string, unknown>>
}

export interface ClaimNames {
  groupsClaim: string
  rolesClaim: string
}

/**
 * Claims not copied into Identity.claims: protocol bookkeeping of the token
 * itself, and values kept in their own fields. Everything else is kept, so a
 * policy may test any claim the IdP sends (policies change without signing in again).
 */
const PROTOCOL_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'auth_time', 'nonce', 'at_hash', 'c_hash', 's_hash', 'jti', 'sid', 'sid_hash', 'azp_hash', 'name', 'email',
  // bookkeeping of Entra ID tokens
  '_claim_names', '_claim_sources', 'hasgroups', 'uti', 'rh', 'aio'])
const MAX_CLAIM_BYTES = 8192

export function stringList (value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string')
  if (typeof value === 'string' && value !== '') return [value]
  return []
}

export function optionalString (value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** The client a token was issued to: `azp` (OpenID Connect), `appid` (Entra v1) or `client_id` (RFC 9068). */
export function clientIdOf (claims: Readonly<Record<string, unknown>>): string | undefined {
  return optionalString(claims.azp) ?? optionalString(claims.appid) ?? optionalString(claims.client_id)
}

/** Builds an Identity from validated ID token claims (and, if fetched, userinfo). */
export function identityFromClaims (claims: Readonly<Record<string, unknown>>, names: ClaimNames): Identity {
  const issuer = String(claims.iss)
  const subject = String(claims.sub)
  const kept: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(claims)) {
    if (PROTOCOL_CLAIMS.has(name) || name === '__proto__' || name === names.groupsClaim || name === names.rolesClaim || value === undefined) continue
    // A claim too large to be a policy input (a blob, a picture) is left out.
    if (JSON.stringify(value).length > MAX_CLAIM_BYTES) continue
    kept[name] = value
  }
  const scopes = typeof claims.scp === 'string' ? claims.scp : typeof claims.scope === 'string' ? claims.scope : undefined
  const clientId = clientIdOf(claims)
  const tenant = optionalString(claims.tid)
  return {
    id: subject,
    ...(tenant === undefined ? {} : { tenant }),
    ...(scopes === undefined ? {} : { scopes: scopes.split(' ').filter(s => s !== '') }),
    ...(clientId === undefined ? {} : { clientId }),
    issuer,
    subject,
    name: optionalString(claims.name) ?? optionalString(claims.preferred_username),
    // An email the IdP itself says is unverified is not an identity; nor is text that is not exactly one address.
    email: claims.email_verified === false ? undefined : emailClaim(claims.email),
    groups: stringList(claims[names.groupsClaim]),
    roles: stringList(claims[names.rolesClaim]),
    amr: stringList(claims.amr),
    acr: optionalString(claims.acr),
    sid: optionalString(claims.sid),
    claims: kept,
  }
}
