import { Signer, type UnsignResult } from '@fastify/cookie'
import { LRUCache } from 'lru-cache'
import { deriveKeys } from '../config/derive-key.js'

/**
 * The session cookie's signer (@fastify/cookie's HMAC), remembering results
 * so that a returning cookie costs a map lookup instead of an HMAC: a verified
 * cookie value -> its session id, and a session id -> its signed value. Both
 * are pure functions of the secrets, which are fixed for the process's life,
 * so a remembered answer is always the answer the HMAC would give. Only valid
 * cookies are remembered: a forged one is checked (and refused) every time
 * and cannot push real ones out. Whether the session still exists is not
 * decided here but by the session store, on every request.
 */
export class CookieSigner {
  readonly #signer: Signer
  readonly #verified: LRUCache<string, UnsignResult>
  readonly #signed: LRUCache<string, string>

  /** `secrets`: the current session secret first, then the previous ones (they still verify). */
  constructor (secrets: readonly string[], max: number) {
    this.#signer = new Signer(deriveKeys(secrets, 'cookie-signature'), 'sha256')
    this.#verified = new LRUCache({ max })
    this.#signed = new LRUCache({ max })
  }

  sign (value: string): string {
    let signed = this.#signed.get(value)
    if (signed === undefined) {
      signed = this.#signer.sign(value)
      this.#signed.set(value, signed)
    }
    return signed
  }

  unsign (signedValue: string): UnsignResult {
    const known = this.#verified.get(signedValue)
    if (known !== undefined) return known
    const result = this.#signer.unsign(signedValue)
    if (result.valid) this.#verified.set(signedValue, Object.freeze(result))
    return result
  }
}
