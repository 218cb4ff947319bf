import type { Identity } from '../identify/identity.js'

/**
 * The outcome of authorization for one request. A denial carries its kind:
 * `unauthenticated` (sign in first: redirect or 401) or `forbidden` (signed in
 * but not allowed: 403), and a reason code naming what decided.
 */
export type Decision =
  | { readonly allow: true, readonly identity: Identity | undefined, readonly reason: string }
  | { readonly allow: false, readonly kind: 'unauthenticated' | 'forbidden', readonly reason: string }

/** Until per-route policies exist, every proxied request needs a signed-in user. */
export function requireAuthenticated (identity: Identity | undefined): Decision {
  if (identity === undefined) return { allow: false, kind: 'unauthenticated', reason: 'not_signed_in' }
  return { allow: true, identity, reason: 'authenticated' }
}
