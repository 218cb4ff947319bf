import * as client from 'openid-client'
import type { OidcProvider } from './oidc-provider.js'

/** A token is asked for again this long before it expires. */
const EXPIRY_MARGIN_MS = 60_000

/**
 * The gateway's own access token for an API (client credentials grant at
 * the IdP's token endpoint, with the gateway's client id and secret), kept
 * until shortly before it expires. Throws what openid-client throws when the
 * IdP refuses or cannot be reached; the caller decides what that means.
 */
export class AppToken {
  readonly #oidc: OidcProvider
  readonly #scope: string
  #token: { value: string, until: number } | undefined

  constructor (oidc: OidcProvider, scope: string) {
    this.#oidc = oidc
    this.#scope = scope
  }

  async get (): Promise<string> {
    const now = Date.now()
    if (this.#token !== undefined && this.#token.until > now) return this.#token.value
    const response = await client.clientCredentialsGrant(this.#oidc.configuration(), { scope: this.#scope })
    const lifetimeMs = (response.expiresIn() ?? 300) * 1000
    this.#token = { value: response.access_token, until: now + Math.max(0, lifetimeMs - EXPIRY_MARGIN_MS) }
    return response.access_token
  }
}
