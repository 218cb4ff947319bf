import { SignJWT } from 'jose'
import type { Identity } from '../identify/identity.js'
import type { SigningKey } from './keys.js'

export const ASSERTION_TYPE = 'gatehouse-assertion+jwt'

/**
 * Signs the identity assertion that upstreams verify against
 * /.gatehouse/jwks.json: iss is the gateway's public URL, aud the upstream.
 */
export class AssertionSigner {
  readonly #key: SigningKey
  readonly #issuer: string
  readonly #ttlSeconds: number

  constructor (key: SigningKey, issuer: string, ttlMs: number) {
    this.#key = key
    this.#issuer = issuer
    this.#ttlSeconds = Math.max(1, Math.floor(ttlMs / 1000))
  }

  async sign (identity: Identity, audience: string, now: number = Date.now()): Promise<string> {
    const iat = Math.floor(now / 1000)
    const claims: Record<string, unknown> = {
      groups: identity.groups,
      roles: identity.roles,
    }
    if (identity.email !== undefined) claims.email = identity.email
    if (identity.name !== undefined) claims.name = identity.name
    if (identity.amr.length > 0) claims.amr = identity.amr
    return await new SignJWT(claims)
      .setProtectedHeader({ alg: this.#key.alg, kid: this.#key.kid, typ: ASSERTION_TYPE })
      .setIssuer(this.#issuer)
      .setAudience(audience)
      .setSubject(identity.id)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.#ttlSeconds)
      .sign(this.#key.privateKey)
  }
}
