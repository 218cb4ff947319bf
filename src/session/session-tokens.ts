import { createHash } from 'node:crypto'

/** Tokens kept with a session. Never logged; forwarded only on routes with pass_access_token. */
export interface TokenSet {
  idToken: string | undefined
  accessToken: string | undefined
  refreshToken: string | undefined
  /** Epoch ms at which the access token expires. */
  expiresAt: number | undefined
  /** Access tokens for other APIs (routes' downstream_token), by the route option's key; absent when none is held. */
  downstream?: Readonly<Record<string, DownstreamToken>>
}

/** An access token for another API, kept until shortly before it expires. */
export interface DownstreamToken {
  readonly accessToken: string
  /** Epoch ms at which it expires. */
  readonly expiresAt: number
}

/**
 * A session's tokens as the gateway holds them: frozen, replaced (never
 * changed) on refresh. On the gateway's own endpoints, @fastify/session
 * hashes the whole session twice per request to see whether it changed; the
 * tokens (1-2 KB) would be most of that work. Serialized with JSON.stringify (which that hash uses), they are a
 * digest of their content, computed once per tokens object: a different
 * token set still reads as a change, the same one does not. The session store
 * persists them in full through `plain()`.
 */
export class SessionTokens implements TokenSet {
  readonly idToken: string | undefined
  readonly accessToken: string | undefined
  readonly refreshToken: string | undefined
  readonly expiresAt: number | undefined
  readonly downstream: Readonly<Record<string, DownstreamToken>> | undefined
  #digest: string | undefined

  constructor (tokens: TokenSet) {
    this.idToken = tokens.idToken
    this.accessToken = tokens.accessToken
    this.refreshToken = tokens.refreshToken
    this.expiresAt = tokens.expiresAt
    this.downstream = tokens.downstream === undefined ? undefined : Object.freeze({ ...tokens.downstream })
    Object.freeze(this)
  }

  /** The tokens themselves, as stored. */
  plain (): TokenSet {
    const plain: TokenSet = { idToken: this.idToken, accessToken: this.accessToken, refreshToken: this.refreshToken, expiresAt: this.expiresAt }
    if (this.downstream !== undefined) plain.downstream = this.downstream
    return plain
  }

  toJSON (): string {
    this.#digest ??= `sha256:${createHash('sha256').update(JSON.stringify(this.plain())).digest('base64url')}`
    return this.#digest
  }
}
