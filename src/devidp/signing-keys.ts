/// <reference path="./oidc-provider.d.ts" />
import { randomBytes } from 'node:crypto'
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose'
import type { JWK } from 'oidc-provider'

/** A fresh RS256 and ES256 signing key, made at every start (private JWKs). */
export async function generateSigningKeys (): Promise<{ keys: JWK[] }> {
  const rsa = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 })
  const ec = await generateKeyPair('ES256', { extractable: true })
  const suffix = randomBytes(4).toString('hex')
  return {
    keys: [
      { ...(await exportJWK(rsa.privateKey)), kty: 'RSA', kid: `devidp-rs256-${suffix}`, alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.privateKey)), kty: 'EC', kid: `devidp-es256-${suffix}`, alg: 'ES256', use: 'sig' },
    ],
  }
}

/** Signs a JWT with one of `keys` (the first unless the header's `kid` names another). */
export function jwtSigner (keys: readonly JWK[]): (payload: JWTPayload, header?: Record<string, unknown>) => Promise<string> {
  return async (payload, header = {}) => {
    const jwk = keys.find(k => k.kid === (header.kid ?? keys[0]?.kid)) ?? keys[0]
    if (jwk === undefined) throw new Error('the dev IdP has no signing key')
    const alg = String(header.alg ?? jwk.alg ?? 'RS256')
    return await new SignJWT(payload).setProtectedHeader({ ...header, alg, kid: jwk.kid }).sign(await importJWK(jwk, alg))
  }
}
