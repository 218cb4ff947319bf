import type { FastifyRequest } from 'fastify'
import type { Identity } from './identity.js'

/**
 * The identity carried by the request's session cookie, if any. The session
 * itself was loaded (and its cookie signature checked) by @fastify/session;
 * a session without an identity is a visitor who is not signed in.
 */
export function identityFromSession (request: FastifyRequest): Identity | undefined {
  const session = request.session as FastifyRequest['session'] | undefined | null
  const identity = session?.identity
  if (identity === undefined || typeof identity !== 'object' || typeof identity.id !== 'string') return undefined
  return identity
}
