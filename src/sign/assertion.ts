import { parseEmailAddress } from '../identify/email-address.js'
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
  /**
   * Signed assertions per identity object and audience. Identities come from
   * the session cache as frozen objects, replaced (never changed) on refresh,
   * so an entry can never describe a stale identity, and it goes when the
   * session leaves the cache.
   */
  readonly #cache = new WeakMap<Identity, Map<string, { token: string, renewAt: number }>>()

  constructor (key: SigningKey, issuer: string, ttlMs: number) {
    this.#key = key
    this.#issuer = issuer
    this.#ttlSeconds = Math.max(1, Math.floor(ttlMs / 1000))
  }

  /**
   * The assertion for this identity and audience: a cached one while less than
   * half its lifetime has passed (an upstream always gets at least half of it),
   * else a newly signed one.
   */
  async assertion (identity: Identity, audience: string, now: number = Date.now()): Promise<string> {
    let byAudience = this.#cache.get(identity)
    const cached = byAudience?.get(audience)
    if (cached !== undefined && now < cached.renewAt) return cached.token
    const token = await this.sign(identity, audience, now)
    if (byAudience === undefined) {
      byAudience = new Map()
      this.#cache.set(identity, byAudience)
    }
    byAudience.set(audience, { token, renewAt: now + (this.#ttlSeconds * 1000) / 2 })
    return token
  }

  async sign (identity: Identity, audience: string, now: number = Date.now()): Promise<string> {
    const iat = Math.floor(now / 1000)
    const claims: Record<string, unknown> = {
      groups: identity.groups,
      roles: identity.roles,
    }
    if (identity.email !== undefined && parseEmailAddress(identity.email) !== undefined) claims.email = identity.email
    if (identity.name !== undefined) claims.name = identity.name
    if (identity.amr.length > 0) claims.amr = identity.amr
    claims.kind = identity.kind ?? 'user'
    if (identity.tenant !== undefined) claims.tid = identity.tenant
    if (identity.clientId !== undefined) claims.client_id = identity.clientId
    if (identity.scopes !== undefined) claims.scp = identity.scopes.join(' ')
    const cert = identity.certificate
    if (cert !== undefined) {
      // RFC 8705: the certificate the caller presented, by its thumbprint; and what policies tested of it.
      claims.cnf = { 'x5t#S256': cert.thumbprint }
      claims.client_cert = { subject: cert.subject, issuer: cert.issuer, san_dns: cert.dns, san_uri: cert.uris, san_email: cert.emails }
    }
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
