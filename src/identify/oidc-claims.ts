import type { ClaimMapper } from './claim-mapper.js'
import { optionalString, stringList, verifiedEmail } from './claim-values.js'
import type { ClaimNames } from './identity.js'

/**
 * Plain OpenID Connect: `sub` is the key, groups and roles are read from the
 * configured claims as sent. A token without delegated scopes, marked
 * `idtyp: app`, or whose subject is its own client is an application's.
 */
export function oidcClaims (names: ClaimNames): ClaimMapper {
  return {
    names,
    read: claims => ({
      id: String(claims.sub),
      tenant: optionalString(claims.tid),
      email: verifiedEmail(claims),
      groups: stringList(claims[names.groupsClaim]),
      amr: stringList(claims.amr),
    }),
    groupNames: ids => [...ids],
    hasGroupOverage: () => false,
    tenantOf: () => undefined,
    isApplication: (claims, clientId) => claims.idtyp === 'app' || (claims.scp === undefined && claims.scope === undefined) || claims.sub === clientId,
  }
}
