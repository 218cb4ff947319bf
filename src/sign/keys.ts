import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { calculateJwkThumbprint, type JWK } from 'jose'
import { ConfigError } from '../errors.js'
import type { GatewayConfig } from '../config/types.js'

export type SigningAlgorithm = GatewayConfig['signing']['algorithm']
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA']

/** The gateway's signing key with its public half, ready to serve as a JWKS. */
export interface SigningKey {
  readonly alg: SigningAlgorithm
  readonly kid: string
  readonly privateKey: KeyObject
  readonly publicJwk: Readonly<JWK>
  /** True when the key was generated at start-up (demo only). */
  readonly generated: boolean
}

const KEY_TYPE_FOR_ALG: Record<SigningAlgorithm, { type: string, curve?: string }> = {
  ES256: { type: 'ec', curve: 'prime256v1' },
  ES384: { type: 'ec', curve: 'secp384r1' },
  RS256: { type: 'rsa' },
  PS256: { type: 'rsa' },
  EdDSA: { type: 'ed25519' },
}

/** Loads a private key from a PEM (PKCS#8, SEC1 or PKCS#1) or JWK file and checks that it fits the algorithm. */
export async function loadSigningKey (file: string, alg: SigningAlgorithm): Promise<SigningKey> {
  const { privateKey, kid } = readPrivateKey(file)
  return await fromPrivateKey(privateKey, alg, kid, false, file)
}

/** Reads a private key from a PEM or JWK file (with the JWK's kid), whatever its algorithm; a ConfigError naming the file otherwise. */
export function readPrivateKey (file: string): { privateKey: KeyObject, kid: string | undefined } {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError([{ where: file, message: `cannot read the signing key: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, severity: 'error' }])
  }
  try {
    if (text.trimStart().startsWith('{')) {
      const jwk = JSON.parse(text) as JWK
      return { privateKey: createPrivateKey({ key: jwk as never, format: 'jwk' }), kid: typeof jwk.kid === 'string' ? jwk.kid : undefined }
    }
    return { privateKey: createPrivateKey(text), kid: undefined }
  } catch (err) {
    throw new ConfigError([{ where: file, message: `not a private key in PEM or JWK form: ${(err as Error).message}`, severity: 'error' }])
  }
}

/** Generates a fresh key. Only the demo does this; it says so at start-up. */
export async function generateSigningKey (alg: SigningAlgorithm): Promise<SigningKey> {
  const want = KEY_TYPE_FOR_ALG[alg]
  const { privateKey } = want.type === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: want.curve as string })
    : want.type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ed25519')
  return await fromPrivateKey(privateKey, alg, undefined, true, '(generated)')
}

async function fromPrivateKey (privateKey: KeyObject, alg: SigningAlgorithm, kid: string | undefined, generated: boolean, where: string): Promise<SigningKey> {
  const want = KEY_TYPE_FOR_ALG[alg]
  const curve = privateKey.asymmetricKeyDetails?.namedCurve
  if (privateKey.asymmetricKeyType !== want.type || (want.curve !== undefined && curve !== want.curve)) {
    throw new ConfigError([{ where, message: `a ${privateKey.asymmetricKeyType ?? 'symmetric'}${curve === undefined ? '' : ` ${curve}`} key cannot sign ${alg}; use ${want.type}${want.curve === undefined ? '' : ` ${want.curve}`} or change signing.algorithm`, severity: 'error' }])
  }
  if (want.type === 'rsa' && (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new ConfigError([{ where, message: 'RSA signing keys must be at least 2048 bits', severity: 'error' }])
  }
  const pub = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK
  const resolvedKid = kid ?? await calculateJwkThumbprint(pub, 'sha256')
  const publicJwk: JWK = Object.freeze({ ...pub, kid: resolvedKid, alg, use: 'sig' })
  return Object.freeze({ alg, kid: resolvedKid, privateKey, publicJwk, generated })
}
