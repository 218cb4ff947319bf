import type { Claims } from './claim-values.js'
import type { ClaimNames } from './identity.js'

/** What a provider reads its own way from validated claims; the rest is plain OpenID Connect. */
export interface ProviderClaims {
  /** The stable user key. */
  readonly id: string
  readonly tenant: string | undefined
  readonly email: string | undefined
  /** The token's groups, as policies name them. */
  readonly groups: readonly string[]
  readonly amr: readonly string[]
}

/**
 * How one kind of identity provider (generic OpenID Connect, Entra ID) maps
 * its claims. buildIdentity uses it; nothing else turns claims into an Identity.
 */
export interface ClaimMapper {
  readonly names: ClaimNames
  /** Throws GH_TENANT_REFUSED when the claims come from a tenant that is not allowed. */
  read (claims: Claims): ProviderClaims
  /** Group ids read from the directory (not the token), as policies name them. */
  groupNames (ids: readonly string[]): string[]
  /** The token left some of the user's groups out: they must be read from the directory. */
  hasGroupOverage (claims: Claims): boolean
  /**
   * The checked tenant of the claims, for `{tenantid}` issuer templates;
   * undefined when the provider has no tenants. Throws GH_TENANT_REFUSED.
   */
  tenantOf (claims: Claims): string | undefined
  /** An app-only token (client credentials): no person behind it. */
  isApplication (claims: Claims, clientId: string): boolean
}
