/// <reference path="./oidc-provider.d.ts" />
import type { JWTPayload } from 'jose'
import type { KoaContextWithOIDC, Provider } from 'oidc-provider'
import type { DevUser } from './dev-users.js'

export interface DevClient {
  client_id: string
  client_secret: string
  redirect_uris: string[]
  post_logout_redirect_uris?: string[]
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post'
  /** OpenID Connect Back-Channel Logout endpoint of the RP (optional). */
  backchannel_logout_uri?: string
  backchannel_logout_session_required?: boolean
}

/** An API the IdP issues access tokens for (RFC 8707 resource indicator), with the scopes it knows. */
export interface DevResource {
  indicator: string
  scopes: string[]
  /** Lifetime of its access tokens; default: accessTokenTtlSeconds. */
  accessTokenTtlSeconds?: number
}

export interface DevIdpOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string
  /** Port to bind; 0 (default) picks a free port. */
  port?: number
  /**
   * Public issuer URL. Default: http://HOST:BOUND_PORT. Only needed when the
   * IdP is reached under another name than the bind address (e.g. docker).
   */
  issuer?: string
  users: DevUser[]
  clients: DevClient[]
  /** Access token lifetime; default 600 s. */
  accessTokenTtlSeconds?: number
  /** ID token lifetime; default 3600 s. */
  idTokenTtlSeconds?: number
  /** Keys used to sign the IdP's cookies; random by default. */
  cookieKeys?: string[]
  /** APIs the IdP issues tokens for: refresh tokens redeemed with `resource`, and RFC 8693 token exchange. */
  resources?: DevResource[]
}

export type DevIdpMiddleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>

export interface DevIdp {
  /** http://127.0.0.1:PORT (no trailing slash). */
  issuer: string
  provider: Provider
  close (): Promise<void>
  /**
   * Signs a JWT with one of the IdP's own keys (its RS256 key unless `kid`
   * names another), so tests can mint tokens the IdP would issue, e.g.
   * logout tokens, or subtly wrong ones. `header` adds protected header members.
   */
  signJwt (payload: JWTPayload, header?: Record<string, unknown>): Promise<string>
  /** Count of successful token endpoint grants, by grant type (for tests). */
  grants: { authorization_code: number, refresh_token: number, token_exchange: number }
  /** Records that a user consented to an API's scopes for a client (as a sign-in asking for them does). */
  consent (accountId: string, clientId: string, resource: string, scopes: string[]): void
  /**
   * Adds a Koa middleware around the provider's own handling, in the order
   * added, so tests can see or alter what the IdP answers (e.g. swap the ID
   * token of a token response for a forged one).
   */
  use (middleware: DevIdpMiddleware): void
}
