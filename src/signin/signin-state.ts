import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { EncryptJWT, jwtDecrypt } from 'jose'
import * as client from 'openid-client'
import type { StepUpNeed } from '../authorize/step-up.js'
import { deriveKey } from '../config/derive-key.js'
import { GatehouseError } from '../errors.js'

/** How long a sign-in may take, from redirect to callback. */
export const SIGNIN_TTL_MS = 10 * 60 * 1000

/** What the gateway needs back at the callback. */
export interface PendingSignin {
  /** Unique per attempt: the callback accepts it once. */
  id: string
  nonce: string
  codeVerifier: string
  /** Same-origin path (+ query) to land on afterwards. */
  returnTo: string
  /** Scopes of a downstream API this sign-in asks for besides oidc.scopes (incremental consent). */
  consentScopes?: string[]
  /** A step-up of the signed-in user's session: what was asked of the IdP. */
  stepUp?: StepUpNeed
}

/**
 * Sign-in state travels in the OAuth `state` parameter itself, encrypted and
 * authenticated (JWE, dir + A256GCM) with a key derived from the session
 * secret, so starting a sign-in writes nothing server-side and any number of
 * tabs can sign in at once. The state is bound to the browser through one
 * random value in a short-lived cookie shared by every tab: a state from
 * another browser (login CSRF) does not match it.
 */
export class SigninStateCodec {
  readonly #key: Uint8Array
  readonly #previous: readonly Uint8Array[]

  constructor (sessionSecret: string, previousSecrets: readonly string[] = []) {
    this.#key = stateKey(sessionSecret)
    this.#previous = previousSecrets.map(stateKey)
  }

  /** A new browser-binding value, for the sign-in cookie. */
  static newBinding (): string {
    return randomBytes(32).toString('base64url')
  }

  static isBinding (value: unknown): value is string {
    return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value)
  }

  async create (binding: string, returnTo: string, now = Date.now(), more: { consentScopes?: readonly string[] | undefined, stepUp?: StepUpNeed | undefined } = {}): Promise<{ state: string, pending: PendingSignin }> {
    const { consentScopes, stepUp } = more
    const pending: PendingSignin = {
      id: randomBytes(16).toString('base64url'),
      nonce: client.randomNonce(),
      codeVerifier: client.randomPKCECodeVerifier(),
      returnTo,
      ...(consentScopes === undefined ? {} : { consentScopes: [...consentScopes] }),
      ...(stepUp === undefined ? {} : { stepUp }),
    }
    const state = await new EncryptJWT({ n: pending.nonce, v: pending.codeVerifier, r: pending.returnTo, b: bindingHash(binding), ...(consentScopes === undefined ? {} : { c: [...consentScopes] }), ...(stepUp === undefined ? {} : { s: stepUp }) })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setJti(pending.id)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor((now + SIGNIN_TTL_MS) / 1000))
      .encrypt(this.#key)
    return { state, pending }
  }

  /** Opens a state from the callback; throws GH_SIGNIN_STATE_INVALID unless it is ours, unexpired and bound to this browser. */
  async open (state: string, binding: string | undefined, now = Date.now()): Promise<PendingSignin & { expiresAt: number }> {
    let payload: Record<string, unknown> | undefined
    let failure: unknown
    for (const key of [this.#key, ...this.#previous]) {
      try {
        ({ payload } = await jwtDecrypt(state, key, { currentDate: new Date(now), keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] }))
        break
      } catch (err) {
        failure ??= err
        if ((err as { code?: string }).code === 'ERR_JWT_EXPIRED') break
      }
    }
    if (payload === undefined) {
      const expired = (failure as { code?: string } | undefined)?.code === 'ERR_JWT_EXPIRED'
      throw new GatehouseError('GH_SIGNIN_STATE_INVALID', expired ? 'sign-in state expired' : 'sign-in state cannot be decrypted', { cause: failure })
    }
    if (binding === undefined) throw new GatehouseError('GH_SIGNIN_STATE_INVALID', 'no sign-in cookie in this browser')
    const expected = Buffer.from(bindingHash(binding))
    const actual = Buffer.from(String(payload.b))
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
      throw new GatehouseError('GH_SIGNIN_STATE_INVALID', 'sign-in state belongs to another browser')
    }
    return {
      id: String(payload.jti),
      nonce: String(payload.n),
      codeVerifier: String(payload.v),
      returnTo: String(payload.r),
      ...(Array.isArray(payload.c) ? { consentScopes: payload.c.map(String) } : {}),
      // Written by this gateway and authenticated with the state: its shape is ours.
      ...(payload.s !== null && typeof payload.s === 'object' ? { stepUp: payload.s as StepUpNeed } : {}),
      expiresAt: Number(payload.exp) * 1000,
    }
  }
}

function stateKey (secret: string): Uint8Array {
  return new Uint8Array(deriveKey(secret, 'signin-state'))
}

function bindingHash (binding: string): string {
  return createHash('sha256').update(binding).digest('base64url')
}
