import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose'
import type { GatewayConfig } from '../config/types.js'
import type { AuditFields, AuditLog } from '../log/audit.js'
import type { SessionEnder } from '../session/session-ender.js'
import type { SessionStore } from '../session/session-store.js'
import type { OidcProvider } from './oidc-provider.js'

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'
/** Asymmetric algorithms only: a logout token signed with a shared secret or `none` is refused. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
const MAX_TOKEN_AGE = '5m'
const JTI_MEMORY_MS = 10 * 60 * 1000

export type BackchannelResult =
  | { ok: true, sessions: number }
  | { ok: false, error: string }

/**
 * OpenID Connect Back-Channel Logout 1.0: the IdP posts a logout token when a
 * person signs out elsewhere or is disabled; every gateway session of that IdP
 * session (`sid`), or of that user (`sub`), ends at once on every replica
 * (audited as `session.revoked`; a refused token as `backchannel.logout`).
 * The token is checked as the specification says: signature with the IdP's
 * keys, iss, aud, iat (recent), the logout event, no nonce, sid and/or sub,
 * and a jti not seen before.
 */
export class BackchannelLogout {
  readonly #config: GatewayConfig
  readonly #oidc: OidcProvider
  readonly #store: SessionStore
  readonly #audit: AuditLog
  readonly #ender: SessionEnder
  #jwks: { uri: string, keys: JWTVerifyGetKey } | undefined

  constructor (deps: { config: GatewayConfig, oidc: OidcProvider, store: SessionStore, audit: AuditLog, ender: SessionEnder }) {
    this.#config = deps.config
    this.#oidc = deps.oidc
    this.#store = deps.store
    this.#audit = deps.audit
    this.#ender = deps.ender
  }

  /** `at` is what the request contributes to the audit line (client address, request and trace ids). */
  async handle (logoutToken: unknown, at: AuditFields): Promise<BackchannelResult> {
    if (typeof logoutToken !== 'string' || logoutToken.length === 0 || logoutToken.length > 16_384) return this.#refuse('logout_token is missing', at)
    const metadata = this.#oidc.configuration().serverMetadata()
    if (metadata.jwks_uri === undefined) return this.#refuse('the IdP publishes no jwks_uri', at)
    if (this.#jwks?.uri !== metadata.jwks_uri) this.#jwks = { uri: metadata.jwks_uri, keys: createRemoteJWKSet(new URL(metadata.jwks_uri), { cooldownDuration: 30_000 }) }
    let payload: Record<string, unknown>
    try {
      const verified = await jwtVerify(logoutToken, this.#jwks.keys, {
        issuer: metadata.issuer,
        audience: this.#config.oidc.clientId,
        algorithms: ALGORITHMS,
        maxTokenAge: MAX_TOKEN_AGE,
        clockTolerance: 30,
      })
      if (verified.protectedHeader.typ !== undefined && verified.protectedHeader.typ.toLowerCase() !== 'logout+jwt') return this.#refuse(`typ ${verified.protectedHeader.typ} is not logout+jwt`, at)
      payload = verified.payload
    } catch (err) {
      return this.#refuse(`logout token rejected: ${(err as { code?: string }).code ?? (err as Error).message}`, at)
    }
    const events = payload.events
    if (events === null || typeof events !== 'object' || Array.isArray(events)) return this.#refuse('no events claim', at)
    const event = (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT]
    if (event === null || typeof event !== 'object' || Array.isArray(event)) return this.#refuse('events has no back-channel logout event', at)
    if ('nonce' in payload) return this.#refuse('a logout token must not carry a nonce', at)
    const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined
    const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined
    if (sid === undefined && sub === undefined) return this.#refuse('neither sid nor sub', at)
    if (typeof payload.jti !== 'string' || payload.jti === '') return this.#refuse('no jti', at)
    if (!await this.#store.backend.claimOnce(`logout-jti:${payload.jti}`, JTI_MEMORY_MS)) return this.#refuse('logout token replayed (jti seen before)', at)

    const fields = { ...at, user: sub, reason: 'idp_logout' }
    const sessions = sid !== undefined ? await this.#ender.end({ idpSession: sid }, 'backchannel', fields) : await this.#ender.end({ user: sub as string }, 'backchannel', fields)
    return { ok: true, sessions }
  }

  #refuse (error: string, at: AuditFields): BackchannelResult {
    this.#audit('backchannel.logout', { ...at, refused: true, reason: 'refused', detail: error })
    return { ok: false, error }
  }
}
