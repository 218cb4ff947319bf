/**
 * Who a request comes from, as the rest of the gateway sees it: plain data,
 * independent of how it was established (session cookie today, bearer token later).
 */
export interface Identity {
  /** Stable user key: the IdP's `sub`, scoped to the issuer. */
  readonly id: string
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

/** Claims copied into Identity.claims: small, non-secret values policies may use. */
const KEPT_CLAIMS = ['tid', 'oid', 'preferred_username', 'email_verified', 'acr', 'amr', 'wids', 'scp', 'azp', 'hd']

function stringList (value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string')
  if (typeof value === 'string' && value !== '') return [value]
  return []
}

function optionalString (value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** Builds an Identity from validated ID token claims (and, if fetched, userinfo). */
export function identityFromClaims (claims: Readonly<Record<string, unknown>>, names: ClaimNames): Identity {
  const issuer = String(claims.iss)
  const subject = String(claims.sub)
  const kept: Record<string, unknown> = {}
  for (const name of KEPT_CLAIMS) if (claims[name] !== undefined) kept[name] = claims[name]
  return {
    id: subject,
    issuer,
    subject,
    name: optionalString(claims.name) ?? optionalString(claims.preferred_username),
    email: optionalString(claims.email),
    groups: stringList(claims[names.groupsClaim]),
    roles: stringList(claims[names.rolesClaim]),
    amr: stringList(claims.amr),
    acr: optionalString(claims.acr),
    sid: optionalString(claims.sid),
    claims: kept,
  }
}
