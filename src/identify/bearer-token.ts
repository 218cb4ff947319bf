import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose'
import { LRUCache } from 'lru-cache'
import type { BearerSettings } from '../config/types.js'
import { GatehouseError } from '../errors.js'
import { buildIdentity } from './build-identity.js'
import type { ClaimMapper } from './claim-mapper.js'
import { clientIdOf } from './claim-values.js'
import type { Identity } from './identity.js'

/** Asymmetric algorithms only: an HMAC "signed" with the public key, or `none`, is refused before any key is looked at. */
export const BEARER_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
const MAX_TOKEN_LENGTH = 16_384
/** Header members that would bring their own key: keys come only from the configured key set. */
const KEY_CARRYING_HEADERS = ['jwk', 'jku', 'x5u', 'x5c']
const ACCESS_TOKEN_TYPES = new Set(['jwt', 'at+jwt', 'application/at+jwt'])
/** Claims only an ID token carries. */
const ID_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash']
const VERIFIED_CACHE_MAX = 10_000
const VERIFIED_CACHE_MAX_MS = 5 * 60_000

export interface ProviderKeys {
  /** The issuer from discovery (for Entra a `{tenantid}` template when multi-tenant). */
  issuer: string
  jwksUri: string | undefined
}

/**
 * Validates access tokens sent as `Authorization: Bearer` (RFC 6750) with
 * jose against the provider's key set (cached, fetched again for an unknown
 * `kid` after a cool-down): signature by an asymmetric algorithm, `iss`,
 * `aud`, `exp`/`nbf` with a small tolerance, `iat` no later than now plus
 * that tolerance (a token issued in the future was minted by a clock or a
 * hand that is not to be trusted), and that it is an access token
 * (not an ID token). No session is created. Every refusal throws
 * GH_INVALID_TOKEN whose detail says why (for the log).
 */
export class BearerVerifier {
  readonly #settings: BearerSettings
  readonly #mapper: ClaimMapper
  readonly #provider: () => ProviderKeys
  #keys: { url: string, set: ReturnType<typeof createRemoteJWKSet> } | undefined
  /** Verified tokens until they expire (at most 5 minutes): no signature check per request. */
  readonly #verified = new LRUCache<string, Identity>({ max: VERIFIED_CACHE_MAX })

  /** `mapper`: the provider's claim mapper, the one sessions are built with. */
  constructor (settings: BearerSettings, mapper: ClaimMapper, provider: () => ProviderKeys) {
    this.#settings = settings
    this.#mapper = mapper
    this.#provider = provider
  }

  async verify (token: string, now: number = Date.now()): Promise<Identity> {
    const known = this.#verified.get(token)
    if (known !== undefined) return known
    if (token.length > MAX_TOKEN_LENGTH) throw invalid(`longer than ${MAX_TOKEN_LENGTH} characters`)
    let header
    let unverified: JWTPayload
    try {
      header = decodeProtectedHeader(token)
      unverified = decodeJwt(token)
    } catch {
      throw invalid('not a JWT')
    }
    if (typeof header.alg !== 'string' || !BEARER_ALGORITHMS.includes(header.alg)) throw invalid(`algorithm ${String(header.alg)} is not accepted (asymmetric signatures only)`)
    const carried = KEY_CARRYING_HEADERS.filter(name => name in header)
    if (carried.length > 0) throw invalid(`the header names its own key (${carried.join(', ')}); keys come only from the provider's key set`)
    if (header.typ !== undefined && !ACCESS_TOKEN_TYPES.has(header.typ.toLowerCase())) throw invalid(`typ ${header.typ} is not an access token type`)

    const provider = this.#provider()
    let issuers: string[]
    try {
      issuers = this.#issuers(provider.issuer, unverified)
    } catch (err) {
      if (err instanceof GatehouseError && err.code === 'GH_TENANT_REFUSED') throw invalid(err.detail ?? err.code, err)
      throw err
    }
    const jwksUrl = this.#settings.jwksUrl ?? provider.jwksUri
    if (jwksUrl === undefined) throw new GatehouseError('GH_IDP_NOT_READY', 'the provider publishes no jwks_uri and bearer.jwks_url is not set')
    if (this.#keys?.url !== jwksUrl) this.#keys = { url: jwksUrl, set: createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }) }

    let payload: JWTPayload
    try {
      ({ payload } = await jwtVerify(token, this.#keys.set, {
        issuer: issuers,
        audience: [...this.#settings.audiences],
        algorithms: BEARER_ALGORITHMS,
        clockTolerance: Math.ceil(this.#settings.clockToleranceMs / 1000),
        currentDate: new Date(now),
        requiredClaims: ['exp'],
      }))
    } catch (err) {
      const e = err as { code?: string, claim?: string, message?: string }
      if (e.code === 'ERR_JWKS_TIMEOUT' || e.code === 'ERR_JOSE_GENERIC' || (e.code === undefined && /fetch/i.test(e.message ?? ''))) {
        throw new GatehouseError('GH_IDP_NOT_READY', `the provider's keys could not be fetched: ${e.message ?? 'error'}`, { cause: err })
      }
      throw invalid(`${e.code ?? 'error'}${e.claim === undefined ? '' : ` (${e.claim})`}: ${e.message ?? ''}`.trim(), err)
    }
    // jose checks iat only for a maximum age: one from the future passes there.
    if (payload.iat !== undefined && payload.iat * 1000 > now + this.#settings.clockToleranceMs) {
      throw invalid(`iat is ${Math.round(payload.iat - now / 1000)}s in the future, beyond the clock tolerance`)
    }
    const present = ID_TOKEN_CLAIMS.filter(c => c in payload)
    if (present.length > 0) throw invalid(`an ID token is not an access token (it has ${present.join(', ')})`)
    const clientId = clientIdOf(payload)
    if (clientId === undefined) throw invalid('no client id (azp, appid or client_id): not an access token')

    const identity = this.#identity(payload, clientId)
    const ttl = Math.min(VERIFIED_CACHE_MAX_MS, (payload.exp as number) * 1000 - now)
    if (ttl > 0) this.#verified.set(token, identity, { ttl })
    return identity
  }

  #issuers (discovered: string, unverified: JWTPayload): string[] {
    const configured = this.#settings.issuers.length > 0 ? this.#settings.issuers : [discovered]
    const out: string[] = []
    for (const issuer of configured) {
      if (!issuer.includes('{tenantid}')) {
        out.push(issuer)
        continue
      }
      // A template stands only for an allowed tenant; the signature and iss check follow.
      const tid = this.#mapper.tenantOf(unverified)
      if (tid === undefined) continue
      out.push(issuer.replace('{tenantid}', tid))
    }
    if (out.length === 0) throw invalid('no accepted issuer applies to this token')
    return out
  }

  #identity (payload: JWTPayload, clientId: string): Identity {
    const claims = payload as Record<string, unknown>
    if (this.#mapper.hasGroupOverage(claims)) {
      throw invalid('the token has too many groups to list (overage); bearer callers are not looked up in Graph: use app roles for APIs')
    }
    try {
      return buildIdentity(claims, this.#mapper, this.#mapper.isApplication(claims, clientId) ? { applicationOf: clientId } : {})
    } catch (err) {
      if (err instanceof GatehouseError) throw invalid(err.detail ?? err.code, err)
      throw err
    }
  }
}

function invalid (detail: string, cause?: unknown): GatehouseError {
  return new GatehouseError('GH_INVALID_TOKEN', detail, { cause })
}
