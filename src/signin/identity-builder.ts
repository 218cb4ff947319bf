import type { GatewayConfig } from '../config/types.js'
import { entraClaims } from '../entra/claims.js'
import { GraphGroups } from '../entra/graph-groups.js'
import { GatehouseError } from '../errors.js'
import { buildIdentity, withDirectoryGroups } from '../identify/build-identity.js'
import type { ClaimMapper } from '../identify/claim-mapper.js'
import { oidcClaims } from '../identify/oidc-claims.js'
import type { Identity } from '../identify/identity.js'
import type { Logger } from '../log/logger.js'
import type { SessionStore } from '../session/session-store.js'

export interface BuiltIdentity {
  identity: Identity
  /** The groups were read from Microsoft Graph (overage): they are read again at every token refresh. */
  groupsFromGraph: boolean
}

/**
 * Turns validated ID token claims into the session's Identity through the
 * provider's claim mapper (generic OpenID Connect, or Entra ID) and, when the
 * token left groups out, the memberships read from Graph (kept encrypted
 * beside the sessions for entra.groups_cache_ttl, so another sign-in of the
 * same user does not ask again).
 */
export class IdentityBuilder {
  /** The provider's claim mapper, which bearer tokens are read with too. */
  readonly mapper: ClaimMapper
  readonly #config: GatewayConfig
  readonly #store: SessionStore
  readonly #graph: GraphGroups | undefined
  readonly #log: Logger

  constructor (config: GatewayConfig, store: SessionStore, log: Logger, graph?: GraphGroups) {
    this.#config = config
    this.#store = store
    this.#log = log.child({ module: 'identity' })
    this.#graph = config.entra === undefined ? undefined : graph ?? new GraphGroups(config.entra)
    this.mapper = config.entra === undefined ? oidcClaims(config.oidc) : entraClaims(config.entra, config.oidc)
  }

  /** Throws GH_TENANT_REFUSED or GH_GROUPS_UNAVAILABLE (never an identity with groups missing). */
  async fromClaims (claims: Readonly<Record<string, unknown>>, accessToken: string | undefined, opts: { fresh: boolean, previousSid?: string }): Promise<BuiltIdentity> {
    const identity = buildIdentity(claims, this.mapper, { previousSid: opts.previousSid })
    if (!this.mapper.hasGroupOverage(claims)) return { identity, groupsFromGraph: false }
    const groups = await this.#graphGroups(identity.id, accessToken, opts)
    return { identity: buildIdentity(claims, this.mapper, { previousSid: opts.previousSid, directoryGroups: groups }), groupsFromGraph: true }
  }

  /** The identity with its groups read again from Graph (after a refresh whose Graph call failed). */
  async withFreshGroups (identity: Identity, accessToken: string | undefined): Promise<Identity> {
    if (this.#config.entra === undefined) return identity
    return withDirectoryGroups(identity, await this.#graphGroups(identity.id, accessToken, { fresh: true }), this.mapper)
  }

  async #graphGroups (userKey: string, accessToken: string | undefined, opts: { fresh: boolean }): Promise<string[]> {
    const entra = this.#config.entra
    if (entra === undefined || this.#graph === undefined) throw new GatehouseError('GH_INTERNAL', 'Graph groups without Entra settings')
    const cacheKey = `entra-groups:${userKey}`
    if (!opts.fresh) {
      const cached = await this.#store.getValue(cacheKey)
      const list = cached === undefined ? undefined : parseList(cached)
      if (list !== undefined) return list
    }
    if (accessToken === undefined) throw new GatehouseError('GH_GROUPS_UNAVAILABLE', 'the token has too many groups to list and no access token came with it to ask Microsoft Graph')
    try {
      const ids = await this.#graph.groupIds(accessToken)
      await this.#store.setValue(cacheKey, JSON.stringify(ids), entra.groupsCacheTtlMs)
      this.#log.info({ user: userKey, groups: ids.length }, 'group memberships read from Microsoft Graph (the token had too many to list)')
      return ids
    } catch (err) {
      this.#log.warn({ user: userKey, err: { code: (err as GatehouseError).code, detail: (err as GatehouseError).detail } }, 'group memberships could not be read from Microsoft Graph: refused (fail closed)')
      throw err
    }
  }
}

function parseList (text: string): string[] | undefined {
  try {
    const value = JSON.parse(text) as unknown
    return Array.isArray(value) && value.every(v => typeof v === 'string') ? value : undefined
  } catch {
    return undefined
  }
}
