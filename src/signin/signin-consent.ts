/**
 * What an incremental-consent sign-in asks the IdP for besides oidc.scopes:
 * the scopes (and RFC 8707 resource) of a route's downstream API, and the
 * IdP's claims challenge when its token endpoint sent one.
 */
export interface SigninConsent {
  readonly scopes: readonly string[]
  readonly resource?: string | undefined
  /** A JSON object, passed on as the OpenID Connect `claims` request parameter. */
  readonly claims?: string | undefined
}

/** A claims challenge longer than this is not carried in a sign-in link. */
const MAX_CLAIMS_LENGTH = 4096

/** The query parameters of a sign-in link that asks for this consent (beside `return`). */
export function consentQuery (consent: SigninConsent): Record<string, string> {
  return {
    scope: consent.scopes.join(' '),
    ...(consent.resource === undefined ? {} : { resource: consent.resource }),
    ...(consent.claims === undefined || consent.claims.length > MAX_CLAIMS_LENGTH ? {} : { claims: consent.claims }),
  }
}

/**
 * The consent a sign-in link asks for, keeping only scopes and resources that
 * `known` (the policy's downstream tokens) names: a link cannot make the IdP
 * ask a person to grant the gateway anything no route uses. A `claims` value
 * is kept only when it is a JSON object. Undefined when nothing is left.
 */
export function consentFromQuery (query: Readonly<Record<string, unknown>>, known: { scopes: ReadonlySet<string>, resources: ReadonlySet<string> }): SigninConsent | undefined {
  const scopes = typeof query.scope === 'string' ? [...new Set(query.scope.split(' ').filter(s => known.scopes.has(s)))] : []
  if (scopes.length === 0) return undefined
  const resource = typeof query.resource === 'string' && known.resources.has(query.resource) ? query.resource : undefined
  return { scopes, resource, claims: claimsOf(query.claims) }
}

function claimsOf (value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_CLAIMS_LENGTH) return undefined
  try {
    const parsed: unknown = JSON.parse(value)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? value : undefined
  } catch {
    return undefined
  }
}

/** The authorization request's `scope`: the configured scopes, then the consent's that are not among them. */
export function scopeWithConsent (configured: readonly string[], consent: SigninConsent | undefined): string {
  if (consent === undefined) return configured.join(' ')
  return [...configured, ...consent.scopes.filter(s => !configured.includes(s))].join(' ')
}
