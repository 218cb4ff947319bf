/** How far in the future an ID token's `iat` may be (the IdP's clock may run a little ahead). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000

/**
 * Checks of a validated ID token that openid-client leaves to the client
 * (OpenID Connect Core 3.1.3.7): a token authorized for another party (`azp`)
 * is not for this gateway, and one issued in the future is not valid yet.
 * Returns what is wrong, or undefined.
 */
export function idTokenProblem (claims: Readonly<Record<string, unknown>>, clientId: string, now: number): string | undefined {
  if (claims.azp !== undefined && claims.azp !== clientId) return 'ID token authorized for another party (azp)'
  if (typeof claims.iat === 'number' && claims.iat * 1000 > now + MAX_CLOCK_SKEW_MS) return 'ID token issued in the future (iat)'
  return undefined
}

/**
 * A refreshed ID token must be about the same user from the same issuer as
 * the one of the sign-in (OpenID Connect Core 12.2); openid-client checks it
 * against the issuer's metadata but does not know the session.
 */
export function refreshedIdTokenProblem (claims: Readonly<Record<string, unknown>>, signedIn: { issuer: string, subject: string }, clientId: string, now: number): string | undefined {
  if (claims.iss !== signedIn.issuer) return 'refreshed ID token from another issuer (iss)'
  if (claims.sub !== signedIn.subject) return 'refreshed ID token about another user (sub)'
  return idTokenProblem(claims, clientId, now)
}
