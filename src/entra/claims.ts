import type { EntraSettings } from '../config/types.js'
import { emailClaim } from '../identify/email-address.js'
import { GatehouseError } from '../errors.js'
import type { ClaimMapper } from '../identify/claim-mapper.js'
import { optionalString, stringList, verifiedEmail, type Claims } from '../identify/claim-values.js'
import type { ClaimNames } from '../identify/identity.js'

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Entra ID's claims. The stable key is `tid/oid` (`sub` differs per
 * application) and the tenant must be allowed. Group object ids are mapped to
 * the names of entra.group_names (a group's display name is not used: anyone
 * who owns a group can rename it). Directory roles (`wids`) and every other
 * claim stay testable by `claims` conditions.
 */
export function entraClaims (settings: EntraSettings, names: ClaimNames): ClaimMapper {
  return {
    names,
    read: claims => {
      const tenant = tenantOf(claims, settings)
      const oid = optionalString(claims.oid)?.toLowerCase()
      if (oid === undefined) throw new GatehouseError('GH_TENANT_REFUSED', 'the token has no object id (oid)')
      const amr = stringList(claims.amr)
      return {
        id: `${tenant}/${oid}`,
        tenant,
        email: verifiedEmail(claims) ?? emailLikeUsername(claims),
        groups: mapGroups(stringList(claims[names.groupsClaim]), settings),
        amr: mfaByAuthContext(claims, settings) && !amr.includes('mfa') ? [...amr, 'mfa'] : amr,
      }
    },
    groupNames: ids => mapGroups(ids, settings),
    hasGroupOverage,
    tenantOf: claims => tenantOf(claims, settings),
    // `sub` of an Entra app-only token is the service principal, not the client id.
    isApplication: claims => claims.idtyp === 'app' || (claims.scp === undefined && claims.scope === undefined),
  }
}

/**
 * True when the token says some of the user's groups were left out (the
 * "overage" of more than 200 groups in a JWT): `_claim_names.groups` points
 * to a claim source, or `hasgroups` is set (implicit flow). The groups must
 * then be read from Microsoft Graph.
 */
function hasGroupOverage (claims: Claims): boolean {
  if (claims.hasgroups === true || claims.hasgroups === 'true') return true
  const names = claims._claim_names
  return names !== null && typeof names === 'object' && !Array.isArray(names) && 'groups' in names
}

/**
 * The tenant a token comes from, checked against the allowed tenants.
 * Throws GH_TENANT_REFUSED for a missing, malformed or foreign `tid`.
 */
function tenantOf (claims: Claims, settings: EntraSettings): string {
  const tid = optionalString(claims.tid)?.toLowerCase()
  if (tid === undefined || !GUID.test(tid)) throw new GatehouseError('GH_TENANT_REFUSED', 'the token has no tenant id (tid)')
  if (settings.allowedTenants.length > 0 && !settings.allowedTenants.includes(tid)) {
    throw new GatehouseError('GH_TENANT_REFUSED', `tenant ${tid} is not in entra.allowed_tenants`)
  }
  return tid
}

/** Without an `email` claim, a `preferred_username` that is exactly one address (unless the IdP says it is unverified). */
function emailLikeUsername (claims: Claims): string | undefined {
  return claims.email_verified === false ? undefined : emailClaim(claims.preferred_username)
}

/**
 * `acrs` lists the conditional-access authentication contexts the sign-in
 * satisfied; those named in entra.mfa_auth_contexts require MFA, so they
 * count as `mfa` (added to amr, which the `mfa` condition reads).
 */
function mfaByAuthContext (claims: Claims, settings: EntraSettings): boolean {
  if (settings.mfaAuthContexts.length === 0) return false
  return stringList(claims.acrs).some(c => settings.mfaAuthContexts.includes(c))
}

/** Group ids to configured names; unnamed ids stay ids, or are dropped with only_named_groups. */
function mapGroups (ids: readonly string[], settings: EntraSettings): string[] {
  const out: string[] = []
  for (const raw of ids) {
    const id = raw.toLowerCase()
    const name = settings.groupNames[id]
    if (name !== undefined) out.push(name)
    else if (!settings.onlyNamedGroups) out.push(id)
  }
  return [...new Set(out)]
}
