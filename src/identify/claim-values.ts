/** Readers of single claim values, shared by the claim mappers and the builder. */
import { emailClaim } from './email-address.js'

export type Claims = Readonly<Record<string, unknown>>

export function stringList (value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string')
  if (typeof value === 'string' && value !== '') return [value]
  return []
}

export function optionalString (value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** The client a token was issued to: `azp` (OpenID Connect), `appid` (Entra v1) or `client_id` (RFC 9068). */
export function clientIdOf (claims: Claims): string | undefined {
  return optionalString(claims.azp) ?? optionalString(claims.appid) ?? optionalString(claims.client_id)
}

/** An email the IdP itself says is unverified is not an identity; nor is text that is not exactly one address. */
export function verifiedEmail (claims: Claims): string | undefined {
  return claims.email_verified === false ? undefined : emailClaim(claims.email)
}
