import type { Identity } from '../identify/identity.js'

/** Tokens kept with a session. Never logged, never forwarded unless a route asks for the access token. */
export interface SessionTokens {
  idToken: string | undefined
  accessToken: string | undefined
  refreshToken: string | undefined
  /** Epoch ms at which the access token expires. */
  expiresAt: number | undefined
}

declare module 'fastify' {
  interface Session {
    identity?: Identity
    tokens?: SessionTokens
    /** Epoch ms of sign-in. */
    createdAt?: number
  }
}
