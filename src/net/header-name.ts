/**
 * Upstreams read header names loosely: CGI, PHP, WSGI and many frameworks
 * turn every character that is not a letter or digit into `_` and ignore
 * case, so `X-Gatehouse-User`, `X_Gatehouse_User` and `x.gatehouse.user` are
 * one variable there. Names are compared here after lower-casing and
 * removing every character that is not a letter or digit.
 */
export function foldHeaderName (name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/gu, '')
}

/** The folded form of `x-gatehouse-`: every header whose folded name starts so belongs to the gateway. */
export const FOLDED_IDENTITY_PREFIX = 'xgatehouse'
