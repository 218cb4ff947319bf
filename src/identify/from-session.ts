import type { FastifyRequest } from 'fastify'
import type { Identity } from './identity.js'

/**
 * The identity a session holds; a session without one is a visitor who is
 * not signed in. (Any session shape: this folder does not depend on the session store.)
 */
export function identityOf (session: { readonly identity?: Identity } | undefined | null): Identity | undefined {
  const identity = session?.identity
  if (identity === undefined || typeof identity !== 'object' || typeof identity.id !== 'string') return undefined
  return identity
}

/**
 * The identity carried by the request's session cookie, if any, on the
 * gateway's own endpoints, where @fastify/session loaded the session (and
 * checked its cookie signature).
 */
export function identityFromSession (request: FastifyRequest): Identity | undefined {
  return identityOf(request.session as FastifyRequest['session'] | undefined | null)
}
