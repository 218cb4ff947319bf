import type { ActiveSession } from '../session/active-session.js'
import * as client from 'openid-client'
import type { GatewayConfig } from '../config/types.js'
import { GatehouseError } from '../errors.js'
import type { Identity } from '../identify/identity.js'
import { auditRequest, auditUser, type AuditLog, type AuditRequest } from '../log/audit.js'
import type { RequestLog } from '../log/request-log.js'
import type { GatewayMetrics } from '../metrics/gateway-metrics.js'
import type { SessionEnder } from '../session/session-ender.js'
import type { SessionStore } from '../session/session-store.js'
import { SessionTokens } from '../session/session-tokens.js'
import { shortId } from '../session/session-store.js'
import type { IdentityBuilder } from './identity-builder.js'
import { refreshedIdTokenProblem } from './id-token-checks.js'
import type { OidcProvider } from './oidc-provider.js'

/** How long one gateway may hold a session's refresh lock. */
const REFRESH_LOCK_MS = 15_000

export type RefreshOutcome =
  /** Nothing to do, refreshed, or another request is refreshing: go on with the session. */
  | 'ok'
  /** The session is over, and gone from the store: the IdP refused the refresh token (account disabled, consent revoked...), its ID token or tenant was refused, or it had ended already. */
  | 'ended'

export interface TokenRefreshDeps {
  config: GatewayConfig
  oidc: OidcProvider
  store: SessionStore
  audit: AuditLog
  /** How a session the IdP no longer accepts ends (as every revocation does). */
  ender: SessionEnder
  identities: IdentityBuilder
  metrics: GatewayMetrics
  clock: () => number
}

/**
 * Refreshes a session's tokens shortly before the access token expires.
 *
 * Single-flight across every gateway on the same Redis: one request takes a
 * short lock per session, reads the session again from Redis (another gateway
 * may have refreshed it already, and its refresh token is then spent), and
 * only then uses the refresh token. Requests that do not get the lock go on
 * with the session as it is, so a rotated refresh token never signs anyone
 * out. `invalid_grant` ends the session at once; an IdP that cannot be
 * reached keeps the session until its maximum lifetime, and the log says so.
 */
export class TokenRefresh {
  readonly #deps: TokenRefreshDeps

  constructor (deps: TokenRefreshDeps) {
    this.#deps = deps
  }

  isDue (session: ActiveSession): boolean {
    const tokens = session.record.tokens
    return tokens?.refreshToken !== undefined && tokens.expiresAt !== undefined && this.#deps.clock() >= tokens.expiresAt - this.#deps.config.session.refreshSkewMs
  }

  async refresh (request: AuditRequest & { readonly log: RequestLog }, session: ActiveSession): Promise<RefreshOutcome> {
    const { store, oidc, audit, metrics, config, clock } = this.#deps
    const sessionId = session.id
    const log = request.log.child({ session: shortId(sessionId) })
    const lock = await store.backend.lock(`refresh:{${sessionId}}`, REFRESH_LOCK_MS)
    if (lock === undefined) return 'ok'
    try {
      const current = await store.get(sessionId, { fresh: true })
      if (current === undefined) return 'ended'
      if (current.identity === undefined) {
        await store.destroy(sessionId)
        return 'ended'
      }
      const tokens = current.tokens
      if (tokens?.refreshToken !== session.record.tokens?.refreshToken || (tokens?.expiresAt ?? 0) - config.session.refreshSkewMs > clock()) {
        // Another request or gateway refreshed first: take its result.
        session.update({ tokens, identity: current.identity, refreshedAt: current.refreshedAt, groupsStale: current.groupsStale, groupsFromGraph: current.groupsFromGraph })
        return 'ok'
      }
      if (!oidc.isReady || tokens?.refreshToken === undefined) return 'ok'
      let result
      try {
        result = await client.refreshTokenGrant(oidc.configuration(), tokens.refreshToken)
      } catch (err) {
        if (err instanceof client.ResponseBodyError && err.error === 'invalid_grant') {
          metrics.refresh('rejected')
          return await this.#end(request, sessionId, current.identity, 'refresh_rejected', err.error_description)
        }
        metrics.refresh('error')
        log.warn({ event: 'token_refresh.failed', err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'token refresh failed (IdP unreachable?); the session is kept until its maximum lifetime')
        return 'ok'
      }
      const now = clock()
      const claims = result.claims()
      const problem = claims === undefined ? undefined : refreshedIdTokenProblem(claims, current.identity, config.oidc.clientId, now)
      if (problem !== undefined) {
        // Not the sign-in's user, or not for this gateway: the new tokens are not kept, and the session ends.
        metrics.refresh('rejected')
        return await this.#end(request, sessionId, current.identity, 'id_token_refused', problem)
      }
      let identity = current.identity
      let groupsStale = false
      let groupsFromGraph = current.groupsFromGraph === true
      try {
        if (claims !== undefined) {
          const built = await this.#deps.identities.fromClaims(claims, result.access_token, { fresh: true, previousSid: current.identity.sid })
          identity = built.identity
          groupsFromGraph = built.groupsFromGraph
        } else if (groupsFromGraph) {
          identity = await this.#deps.identities.withFreshGroups(current.identity, result.access_token)
        }
      } catch (err) {
        if (!(err instanceof GatehouseError)) throw err
        if (err.code === 'GH_TENANT_REFUSED') {
          return await this.#end(request, sessionId, current.identity, 'tenant_refused', err.detail)
        }
        // Groups could not be read: keep the new tokens, refuse requests until the groups are read (fail closed).
        groupsStale = true
      }
      session.update({
        identity,
        ...(groupsFromGraph ? { groupsFromGraph: true } : {}),
        groupsStale: groupsStale ? true : undefined,
        refreshedAt: now,
        tokens: new SessionTokens({
          idToken: result.id_token ?? tokens.idToken,
          accessToken: result.access_token,
          // Without rotation the IdP sends no new refresh token: the old one stays valid.
          refreshToken: result.refresh_token ?? tokens.refreshToken,
          expiresAt: typeof result.expires_in === 'number' ? now + result.expires_in * 1000 : undefined,
          // Tokens for other APIs stay good until they expire, whatever happens to the session's own.
          ...(tokens.downstream === undefined ? {} : { downstream: tokens.downstream }),
        }),
      })
      if (!await session.save()) {
        // Signed out or revoked while the IdP answered: the new tokens are dropped, the session stays ended.
        return 'ended'
      }
      metrics.refresh('success')
      audit('session.refreshed', { ...auditUser(identity), ...auditRequest(request) })
      return 'ok'
    } finally {
      await store.backend.unlock(`refresh:{${sessionId}}`, lock).catch(() => { /* expires by itself */ })
    }
  }

  async #end (request: AuditRequest, session: string, identity: Identity, reason: string, detail: string | undefined): Promise<'ended'> {
    await this.#deps.ender.end({ session, identity }, 'refresh', { ...auditRequest(request), reason, detail })
    return 'ended'
  }
}
