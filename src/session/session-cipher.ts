import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { deriveKeys } from '../config/derive-key.js'

interface Key { id: string, key: Buffer }

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * Session contents at rest: AES-256-GCM (node:crypto), a fresh IV per write,
 * the session id as additional data so a blob cannot be moved to another id.
 * Keys are derived from the session secret and the previous secrets; new
 * writes use the current one, older ones still decrypt until removed. A blob
 * names its key by a short id, so rotation needs no trial decryption.
 */
export class SessionCipher {
  readonly #current: Key
  readonly #keys: ReadonlyMap<string, Buffer>

  constructor (secret: string, previous: readonly string[] = []) {
    const keys = deriveKeys([secret, ...previous], 'session-encryption').map(keyWithId)
    this.#current = keys[0] as Key
    this.#keys = new Map(keys.map(k => [k.id, k.key]))
  }

  encrypt (sessionId: string, plaintext: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, iv)
    cipher.setAAD(Buffer.from(sessionId))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return `${VERSION}.${this.#current.id}.${iv.toString('base64url')}.${body.toString('base64url')}`
  }

  /** The plaintext, or undefined when the blob is not ours (unknown key, tampered, another session's). */
  decrypt (sessionId: string, blob: string): string | undefined {
    const [version, keyId, ivText, bodyText] = blob.split('.')
    if (version !== VERSION || keyId === undefined || ivText === undefined || bodyText === undefined) return undefined
    const key = this.#keys.get(keyId)
    if (key === undefined) return undefined
    try {
      const iv = Buffer.from(ivText, 'base64url')
      const body = Buffer.from(bodyText, 'base64url')
      if (iv.length !== IV_BYTES || body.length < TAG_BYTES) return undefined
      const decipher = createDecipheriv('aes-256-gcm', key, iv)
      decipher.setAAD(Buffer.from(sessionId))
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES))
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8')
    } catch {
      return undefined
    }
  }
}

function keyWithId (key: Buffer): Key {
  return { id: createHash('sha256').update(key).digest('base64url').slice(0, 8), key }
}
