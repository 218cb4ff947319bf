/// <reference path="./oidc-provider.d.ts" />
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { errors, type JWK, type KoaContextWithOIDC, type Provider, type UnknownObject } from 'oidc-provider'
import type { DevResource } from './dev-idp-options.js'

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

/**
 * What each user consented to, per client and API (resource indicator):
 * recorded when a sign-in grants an API's scopes (or by a test), read by
 * the token exchange, which has no grant of its own to look at.
 */
export class ConsentLedger {
  readonly #scopes = new Map<string, Set<string>>()

  add (accountId: string, clientId: string, resource: string, scopes: readonly string[]): void {
    const key = `${accountId}\0${clientId}\0${resource}`
    const set = this.#scopes.get(key) ?? new Set()
    for (const s of scopes) set.add(s)
    this.#scopes.set(key, set)
  }

  has (accountId: string, clientId: string, resource: string, scopes: readonly string[]): boolean {
    const set = this.#scopes.get(`${accountId}\0${clientId}\0${resource}`)
    return set !== undefined && scopes.every(s => set.has(s))
  }
}

/**
 * RFC 8707 resource indicators for the APIs the dev IdP knows: an access
 * token for one of them is a JWT with its audience and scopes. Without a
 * `resource` in the token request, the token is the usual one for userinfo.
 */
export function resourceIndicators (resources: readonly DevResource[], defaultTtlSeconds: number): UnknownObject & { enabled: boolean } {
  return {
    enabled: true,
    defaultResource: () => undefined,
    useGrantedResource: () => false,
    getResourceServerInfo: (_ctx: KoaContextWithOIDC, indicator: string) => {
      const resource = resources.find(r => r.indicator === indicator)
      if (resource === undefined) throw new errors.InvalidTarget()
      return { scope: resource.scopes.join(' '), audience: indicator, accessTokenFormat: 'jwt', accessTokenTTL: resource.accessTokenTtlSeconds ?? defaultTtlSeconds }
    },
  }
}

/**
 * A refresh token asked for an API's scopes that its grant does not hold
 * (the user never consented to them) is refused by oidc-provider as
 * invalid_scope or invalid_target; the dev IdP says what it means, as
 * OpenID Providers do: interaction_required, the user must sign in and consent.
 */
export function consentRequiredOnRefresh (): (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void> {
  return async (ctx, next) => {
    await next()
    if (ctx.method !== 'POST' || !ctx.path.endsWith('/token') || ctx.status !== 400) return
    const params = ctx.oidc?.params
    const body = ctx.body as { error?: string } | undefined
    if (params?.grant_type !== 'refresh_token' || params.resource === undefined) return
    if (body?.error === 'invalid_scope' || body?.error === 'invalid_target') {
      ctx.body = { error: 'interaction_required', error_description: 'the user has not consented to the requested scopes of this resource' }
    }
  }
}

export interface TokenExchangeDeps {
  issuer: string
  keys: readonly JWK[]
  resources: readonly DevResource[]
  consents: ConsentLedger
  signJwt: (payload: JWTPayload, header?: Record<string, unknown>) => Promise<string>
  defaultTtlSeconds: number
  issued: () => void
}

/**
 * RFC 8693 token exchange: a client exchanges an access token it received
 * (a JWT of this IdP whose audience is the client) for one to an API the
 * user consented to, on the user's behalf (`act` names the client).
 */
export function registerTokenExchange (provider: Provider, deps: TokenExchangeDeps): void {
  const publicKeys = createLocalJWKSet({ keys: deps.keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub) as never })
  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, async (ctx) => {
    const params = ctx.oidc.params ?? {}
    const client = ctx.oidc.client
    if (client === undefined) throw new errors.InvalidClient()
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest('subject_token_type must be an access token')
    let subject: JWTPayload
    try {
      subject = (await jwtVerify(String(params.subject_token), publicKeys, { issuer: deps.issuer })).payload
    } catch {
      throw new errors.InvalidGrant('subject_token is not a valid access token of this issuer')
    }
    const audiences = Array.isArray(subject.aud) ? subject.aud : [subject.aud]
    if (!audiences.includes(client.clientId)) throw new errors.InvalidGrant('subject_token was not issued to this client')
    const resource = deps.resources.find(r => r.indicator === params.resource)
    if (resource === undefined || typeof subject.sub !== 'string') throw new errors.InvalidTarget()
    const scopes = String(params.scope ?? '').split(' ').filter(s => s !== '')
    if (scopes.length === 0 || scopes.some(s => !resource.scopes.includes(s))) throw new errors.InvalidScope('requested scope is not a scope of the resource', scopes.join(' '))
    if (!deps.consents.has(subject.sub, client.clientId, resource.indicator, scopes)) throw new errors.InteractionRequired('the user has not consented to the requested scopes of this resource')
    const ttl = resource.accessTokenTtlSeconds ?? deps.defaultTtlSeconds
    const now = Math.floor(Date.now() / 1000)
    const accessToken = await deps.signJwt({ iss: deps.issuer, sub: subject.sub, aud: resource.indicator, client_id: client.clientId, scope: scopes.join(' '), act: { sub: client.clientId }, iat: now, exp: now + ttl }, { typ: 'at+jwt' })
    deps.issued()
    ctx.body = { access_token: accessToken, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: ttl, scope: scopes.join(' ') }
  }, ['subject_token', 'subject_token_type', 'requested_token_type', 'resource', 'audience', 'scope', 'actor_token', 'actor_token_type'])
}
