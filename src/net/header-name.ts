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

/**
 * Every header the gateway sets on a request to the upstream, lower case, in
 * the order forward-auth lists them: the identity headers, the client
 * certificate's, the signed assertion and the access token. Policies read
 * them to keep routes from using these names for anything else.
 */
export const GATEWAY_HEADERS = {
  user: 'x-gatehouse-user',
  email: 'x-gatehouse-email',
  name: 'x-gatehouse-name',
  groups: 'x-gatehouse-groups',
  roles: 'x-gatehouse-roles',
  kind: 'x-gatehouse-kind',
  tenant: 'x-gatehouse-tenant',
  client: 'x-gatehouse-client',
  certSubject: 'x-gatehouse-client-cert-subject',
  certIssuer: 'x-gatehouse-client-cert-issuer',
  certSan: 'x-gatehouse-client-cert-san',
  certThumbprint: 'x-gatehouse-client-cert-thumbprint',
  assertion: 'x-gatehouse-assertion',
  accessToken: 'x-gatehouse-access-token',
} as const
