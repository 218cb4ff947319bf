import { createHash } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import * as client from 'openid-client'
import type { GatewayConfig } from '../config/types.js'
import type { RequestLog } from '../log/request-log.js'
import type { DownstreamTokenOption } from '../policy/types.js'
import type { ActiveSession } from '../session/active-session.js'
import type { SessionStore } from '../session/session-store.js'
import { SessionTokens, type DownstreamToken, type TokenSet } from '../session/session-tokens.js'
import { shortId } from '../session/session-store.js'
import type { OidcProvider } from './oidc-provider.js'

/** How long one gateway may hold a session's token lock (the same lock as a refresh: both spend the refresh token). */
const LOCK_MS = 15_000
/** How often a request waiting for another gateway's redemption looks again. */
const WAIT_STEP_MS = 50

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

/** Token-endpoint errors that mean the user must sign in (again) and consent, not that something is broken. */
const INTERACTION_ERRORS = new Set(['interaction_required', 'consent_required', 'login_required'])

export type DownstreamFailure =
  /** The session holds no refresh token (oidc.scopes without offline_access, or the IdP issued none). */
  | 'no_refresh_token'
  /** The IdP answered the token request with an error other than consent or interaction. */
  | 'idp_refused'
  /** The IdP could not be reached, or its answer was not a token response. */
  | 'idp_unreachable'
  /** Another gateway held the session's token lock for longer than a redemption may take. */
  | 'busy'
  /** The session ended (signed out, revoked) while the token was fetched. */
  | 'session_ended'

export type DownstreamOutcome =
  | { readonly kind: 'token', readonly token: string }
  /** The IdP wants the user to consent or interact (incremental consent, MFA); `claims`: its claims challenge, if any. */
  | { readonly kind: 'consent', readonly claims: string | undefined, readonly detail: string }
  | { readonly kind: 'failed', readonly reason: DownstreamFailure, readonly detail: string }

export interface DownstreamTokensDeps {
  config: GatewayConfig
  oidc: OidcProvider
  store: SessionStore
  clock: () => number
}

/**
 * Access tokens for other APIs (a route's `downstream_token`), as the caller.
 *
 * For a session, the session's refresh token is redeemed for the route's
 * scopes (and RFC 8707 resource): Entra ID's refresh tokens serve every
 * resource the user consented to. The token is kept with the session's other
 * tokens (encrypted with the session) until shortly before it expires
 * (session.refresh_skew), and never used after that. Redemptions are
 * single-flight: one per session and token on this gateway (the others wait
 * for its result), and across gateways under the session's refresh lock,
 * since a rotating IdP spends the refresh token; a request that finds the
 * lock taken waits for the token the holder stores, never goes on without one.
 *
 * For a bearer caller, the caller's token is exchanged: Entra ID's
 * On-Behalf-Of flow, or RFC 8693 token exchange elsewhere. The result is kept
 * encrypted beside the sessions, under a hash of the caller's token, until
 * shortly before it expires.
 */
export class DownstreamTokens {
  readonly #deps: DownstreamTokensDeps
  readonly #inFlight = new Map<string, Promise<DownstreamOutcome>>()

  constructor (deps: DownstreamTokensDeps) {
    this.#deps = deps
  }

  /** The session's token for `want`: the one it holds while fresh, else a new one from its refresh token. */
  async forSession (log: RequestLog, session: ActiveSession, want: DownstreamTokenOption): Promise<DownstreamOutcome> {
    const held = this.#fresh(session.record.tokens, want.key)
    if (held !== undefined) return { kind: 'token', token: held }
    return await this.#once(`session\0${session.id}\0${want.key}`, async () => await this.#redeem(log.child({ session: shortId(session.id) }), session, want))
  }

  /** A token for `want` in exchange for a bearer caller's access token. */
  async forBearer (log: RequestLog, subjectToken: string, want: DownstreamTokenOption): Promise<DownstreamOutcome> {
    const cacheKey = `downstream:${createHash('sha256').update(`${want.key}\0${subjectToken}`).digest('base64url')}`
    return await this.#once(cacheKey, async () => {
      const cached = parseCached(await this.#deps.store.getValue(cacheKey))
      if (cached !== undefined && this.#isFresh(cached)) return { kind: 'token', token: cached.accessToken }
      const outcome = await this.#exchange(log, subjectToken, want)
      if (outcome.kind !== 'token' || outcome.expiresAt === undefined) return outcome
      const ttl = outcome.expiresAt - this.#deps.config.session.refreshSkewMs - this.#deps.clock()
      if (ttl > 0) await this.#deps.store.setValue(cacheKey, JSON.stringify({ accessToken: outcome.token, expiresAt: outcome.expiresAt }), ttl)
      return { kind: 'token', token: outcome.token }
    })
  }

  /** Requests that ask for the same token together share one answer. */
  async #once (key: string, fetch: () => Promise<DownstreamOutcome>): Promise<DownstreamOutcome> {
    const running = this.#inFlight.get(key)
    if (running !== undefined) return await running
    const started = fetch().finally(() => { this.#inFlight.delete(key) })
    this.#inFlight.set(key, started)
    return await started
  }

  #isFresh (token: DownstreamToken): boolean {
    return token.expiresAt - this.#deps.config.session.refreshSkewMs > this.#deps.clock()
  }

  #fresh (tokens: TokenSet | undefined, key: string): string | undefined {
    const token = tokens?.downstream?.[key]
    return token !== undefined && this.#isFresh(token) ? token.accessToken : undefined
  }

  async #redeem (log: RequestLog, session: ActiveSession, want: DownstreamTokenOption): Promise<DownstreamOutcome> {
    const { store, clock } = this.#deps
    const lockKey = `refresh:{${session.id}}`
    // Wall time, whatever clock the sessions follow: a wait ends.
    const until = Date.now() + LOCK_MS
    let lock = await store.backend.lock(lockKey, LOCK_MS)
    while (lock === undefined) {
      // Another request or gateway is refreshing the session or fetching this token: take what it stores.
      if (Date.now() > until) return { kind: 'failed', reason: 'busy', detail: 'the session\'s token lock stayed taken' }
      await delay(WAIT_STEP_MS)
      const current = await store.get(session.id, { fresh: true })
      if (current === undefined) return { kind: 'failed', reason: 'session_ended', detail: 'the session ended while its token was fetched' }
      const held = this.#fresh(current.tokens, want.key)
      if (held !== undefined) return { kind: 'token', token: held }
      lock = await store.backend.lock(lockKey, LOCK_MS)
    }
    try {
      const current = await store.get(session.id, { fresh: true })
      if (current?.identity === undefined) return { kind: 'failed', reason: 'session_ended', detail: 'the session ended while its token was fetched' }
      const tokens = current.tokens
      const held = this.#fresh(tokens, want.key)
      if (held !== undefined) return { kind: 'token', token: held }
      if (tokens?.refreshToken === undefined) return { kind: 'failed', reason: 'no_refresh_token', detail: 'the session holds no refresh token (keep offline_access in oidc.scopes)' }
      let result
      try {
        result = await client.refreshTokenGrant(this.#deps.oidc.configuration(), tokens.refreshToken, {
          scope: want.scopes.join(' '),
          ...(want.resource === undefined ? {} : { resource: want.resource }),
        })
      } catch (err) {
        return failure(log, err, 'refresh_token')
      }
      const now = clock()
      const expiresAt = typeof result.expires_in === 'number' ? now + result.expires_in * 1000 : undefined
      const downstream: Record<string, DownstreamToken> = {}
      // Tokens already expired are dropped whenever a new one is stored.
      for (const [key, token] of Object.entries(tokens.downstream ?? {})) if (token.expiresAt > now) downstream[key] = token
      // A token without a lifetime is used for this request only.
      if (expiresAt !== undefined) downstream[want.key] = { accessToken: result.access_token, expiresAt }
      // A rotating IdP spent the old refresh token: the new one is stored with the session before anything else uses it.
      session.update({
        identity: current.identity,
        groupsStale: current.groupsStale,
        groupsFromGraph: current.groupsFromGraph,
        refreshedAt: now,
        tokens: new SessionTokens({ ...tokens.plain(), refreshToken: result.refresh_token ?? tokens.refreshToken, downstream }),
      })
      if (!await session.save()) return { kind: 'failed', reason: 'session_ended', detail: 'the session ended while its token was fetched' }
      log.info({ event: 'downstream_token.redeemed', scopes: want.scopes, resource: want.resource }, 'token for a downstream API fetched with the session\'s refresh token')
      return { kind: 'token', token: result.access_token }
    } finally {
      await store.backend.unlock(lockKey, lock).catch(() => { /* expires by itself */ })
    }
  }

  async #exchange (log: RequestLog, subjectToken: string, want: DownstreamTokenOption): Promise<DownstreamOutcome & { expiresAt?: number }> {
    const { config, oidc, clock } = this.#deps
    const scope = want.scopes.join(' ')
    const [grantType, parameters]: [string, Record<string, string>] = config.oidc.provider === 'entra'
      ? [JWT_BEARER, { assertion: subjectToken, requested_token_use: 'on_behalf_of', scope }]
      : [TOKEN_EXCHANGE, {
          subject_token: subjectToken,
          subject_token_type: ACCESS_TOKEN_TYPE,
          requested_token_type: ACCESS_TOKEN_TYPE,
          scope,
          ...(want.resource === undefined ? {} : { resource: want.resource }),
        }]
    let result
    try {
      result = await client.genericGrantRequest(oidc.configuration(), grantType, parameters)
    } catch (err) {
      return failure(log, err, config.oidc.provider === 'entra' ? 'on_behalf_of' : 'token_exchange')
    }
    log.info({ event: 'downstream_token.exchanged', scopes: want.scopes, resource: want.resource }, 'token for a downstream API fetched in exchange for the caller\'s token')
    return { kind: 'token', token: result.access_token, ...(typeof result.expires_in === 'number' ? { expiresAt: clock() + result.expires_in * 1000 } : {}) }
  }
}

/** What a failed token request means: consent or interaction needed, or a failure (logged without any token). */
function failure (log: RequestLog, err: unknown, grant: string): DownstreamOutcome {
  if (err instanceof client.ResponseBodyError) {
    const body = err.cause
    const description = err.error_description ?? ''
    const claims = typeof body.claims === 'string' && body.claims !== '' ? body.claims : undefined
    // Entra ID: AADSTS65001 (no consent) comes as invalid_grant with suberror consent_required.
    if (INTERACTION_ERRORS.has(err.error) || body.suberror === 'consent_required' || /\bAADSTS65001\b/.test(description) || claims !== undefined) {
      log.info({ event: 'downstream_token.consent_required', grant, error: err.error }, 'the IdP wants the user to consent or sign in again before it issues a token for a downstream API')
      return { kind: 'consent', claims, detail: `${grant}: ${err.error}` }
    }
    log.warn({ event: 'downstream_token.refused', grant, error: err.error, description: description.slice(0, 300) }, 'the IdP refused a token for a downstream API')
    return { kind: 'failed', reason: 'idp_refused', detail: `${grant}: ${err.error}` }
  }
  const e = err as { code?: string, message?: string }
  log.warn({ event: 'downstream_token.failed', grant, err: { code: e.code, message: e.message } }, 'no token for a downstream API: the IdP did not answer with one')
  return { kind: 'failed', reason: 'idp_unreachable', detail: `${grant}: ${e.code ?? 'error'}` }
}

function parseCached (text: string | undefined): DownstreamToken | undefined {
  if (text === undefined) return undefined
  try {
    const value = JSON.parse(text) as Partial<DownstreamToken>
    return typeof value.accessToken === 'string' && typeof value.expiresAt === 'number' ? { accessToken: value.accessToken, expiresAt: value.expiresAt } : undefined
  } catch {
    return undefined
  }
}
