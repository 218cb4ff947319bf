import { timingSafeEqual, createHash } from 'node:crypto'
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import type { SsfTransmitter } from '../config/types.js'

/**
 * The error codes of RFC 8935 section 2.3 that a receiver answers with (400),
 * and `temporarily_unavailable` when the transmitter's keys could not be
 * fetched: the SET was not judged, and the transmitter should push it again.
 */
export type SetErrorCode = 'invalid_request' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience' | 'temporarily_unavailable'

export type SetVerdict =
  | { ok: true, transmitter: SsfTransmitter, payload: JWTPayload & { jti: string, iat: number } }
  | { ok: false, err: SetErrorCode, description: string }

/** Asymmetric algorithms only: a SET signed with a shared secret or `none` is refused. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
/** How old a SET may be when it arrives (a transmitter retries a push for a while); its jti is remembered this long. */
export const SET_MAX_AGE_MS = 30 * 60 * 1000
const CLOCK_TOLERANCE_S = 30

/**
 * Security Event Tokens (RFC 8417) as a Shared Signals receiver checks them:
 * the transmitter is the one whose bearer secret came with the push, and its
 * SET must carry its own issuer, the audience configured for it, a signature
 * by a key from its jwks_url, a recent `iat` and a `jti`.
 */
export class SetVerifier {
  readonly #transmitters: ReadonlyArray<{ transmitter: SsfTransmitter, secret: Buffer, keys: JWTVerifyGetKey }>

  constructor (transmitters: readonly SsfTransmitter[]) {
    this.#transmitters = transmitters.map(transmitter => ({
      transmitter,
      secret: digest(transmitter.bearerSecret),
      keys: createRemoteJWKSet(new URL(transmitter.jwksUrl), { cooldownDuration: 30_000 }),
    }))
  }

  /** Whether the `Authorization` header carries some transmitter's bearer secret (compared in constant time). */
  authenticated (authorization: string | undefined): boolean {
    return this.#byBearer(authorization) !== undefined
  }

  async verify (authorization: string | undefined, token: string): Promise<SetVerdict> {
    const known = this.#byBearer(authorization)
    if (known === undefined) return { ok: false, err: 'invalid_request', description: 'no transmitter has this bearer secret' }
    const { transmitter, keys } = known
    let claimed: JWTPayload
    try {
      claimed = decodeJwt(token)
    } catch {
      return { ok: false, err: 'invalid_request', description: 'the body is not a JWT' }
    }
    if (claimed.iss !== transmitter.issuer) return { ok: false, err: 'invalid_issuer', description: 'the SET\'s iss is not the transmitter this bearer secret belongs to' }
    try {
      const { payload, protectedHeader } = await jwtVerify(token, keys, {
        issuer: transmitter.issuer,
        audience: transmitter.audience,
        algorithms: ALGORITHMS,
        maxTokenAge: `${SET_MAX_AGE_MS / 1000}s`,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['iat', 'jti'],
      })
      if (protectedHeader.typ !== undefined && protectedHeader.typ.toLowerCase() !== 'secevent+jwt') return { ok: false, err: 'invalid_request', description: `typ ${protectedHeader.typ} is not secevent+jwt` }
      if (typeof payload.jti !== 'string' || payload.jti === '' || typeof payload.iat !== 'number') return { ok: false, err: 'invalid_request', description: 'jti or iat is missing' }
      return { ok: true, transmitter, payload: payload as JWTPayload & { jti: string, iat: number } }
    } catch (err) {
      return refused(err)
    }
  }

  #byBearer (authorization: string | undefined): { transmitter: SsfTransmitter, keys: JWTVerifyGetKey } | undefined {
    const match = /^Bearer +(\S+)$/i.exec(authorization ?? '')
    if (match === null) return undefined
    const given = digest(match[1] as string)
    return this.#transmitters.find(t => timingSafeEqual(t.secret, given))
  }
}

/** Equal-length values to compare in constant time, whatever the secret's length. */
function digest (secret: string): Buffer {
  return createHash('sha256').update(secret).digest()
}

function refused (err: unknown): SetVerdict & { ok: false } {
  const code = (err as { code?: string }).code ?? (err as Error).message
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return { ok: false, err: 'invalid_audience', description: 'the SET is not for this receiver (aud)' }
    if (err.claim === 'iss') return { ok: false, err: 'invalid_issuer', description: 'the SET\'s iss is not the transmitter\'s' }
    return { ok: false, err: 'invalid_request', description: `${err.claim}: ${err.reason}` }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JOSEAlgNotAllowed) {
    return { ok: false, err: 'invalid_key', description: `the SET's signature is not by a key of the transmitter (${code})` }
  }
  if (keysUnavailable(err)) return { ok: false, err: 'temporarily_unavailable', description: `the transmitter's keys could not be fetched from its jwks_url (${(err as Error).message})` }
  return { ok: false, err: 'invalid_request', description: `the SET was refused (${code})` }
}

/**
 * Fetching the key set failed (no answer, a timeout, not 200, not a key set):
 * jose's JWKSTimeout and JWKSInvalid, its generic error for the HTTP status
 * and the body, and fetch's own TypeError for a connection that failed.
 */
function keysUnavailable (err: unknown): boolean {
  return err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err instanceof TypeError ||
    (err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC')
}
