const BEARER_SCHEME = /^bearer(\s|$)/i
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

/**
 * The token in `Authorization: Bearer` (RFC 6750 b64token syntax): '' when
 * that header is malformed, undefined when there is none or another scheme.
 */
export function bearerTokenOf (authorization: string | string[] | undefined): string | undefined {
  if (typeof authorization !== 'string' || !BEARER_SCHEME.test(authorization)) return undefined
  return BEARER.exec(authorization)?.[1] ?? ''
}
