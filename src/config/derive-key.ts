import { hkdfSync } from 'node:crypto'

/** Salt of every HKDF derivation: fixed, so the same secret gives the same keys after a restart. */
const SALT = 'gatehouse'
const KEY_BYTES = 32

/**
 * Every key the gateway derives from the session secret (and each previous
 * secret), by name. A key's bytes are fixed by its entry: changing one ends
 * every session or sign-in that depends on it, so a new use gets a new name
 * (a new `info`), never an edited one.
 */
const KEYS = {
  /** AES-256-GCM key of session contents at rest (session-cipher.ts). */
  'session-encryption': { info: 'session-encryption/v1' },
  /** JWE key of the sign-in state carried in the OAuth `state` parameter (signin-state.ts). */
  'signin-state': { info: 'signin-state/v1' },
  /**
   * HMAC key of the session cookie's signature (@fastify/cookie's Signer).
   * The raw secret, not an HKDF output: cookies were always signed with it,
   * and deriving a key now would invalidate every cookie in use. The HMAC
   * itself is a sound PRF over a high-entropy secret of at least 32 characters.
   */
  'cookie-signature': { info: undefined },
} as const satisfies Record<string, { info: string | undefined }>

export type KeyName = keyof typeof KEYS

/** The named key for one secret. */
export function deriveKey (secret: string, name: KeyName): Buffer {
  const { info } = KEYS[name]
  if (info === undefined) return Buffer.from(secret, 'utf8')
  return Buffer.from(hkdfSync('sha256', secret, SALT, info, KEY_BYTES))
}

/** The named key for the current secret first, then for each previous one (rotation). */
export function deriveKeys (secrets: readonly string[], name: KeyName): Buffer[] {
  return secrets.map(secret => deriveKey(secret, name))
}
