/**
 * Who a request comes from, as the rest of the gateway sees it: plain data,
 * independent of how it was established (session cookie or bearer token).
 * Built only by buildIdentity (build-identity.ts).
 */
export interface Identity {
  /** Stable key: the IdP's `sub` (one issuer per gateway); for Entra ID `tid/oid`. */
  readonly id: string
  /** `application` for an app-only (client credentials) bearer token, `certificate` for a caller known only by its verified client certificate; absent for people. */
  readonly kind?: 'application' | 'certificate'
  /** Entra tenant id (`tid`). */
  readonly tenant?: string
  /** Delegated scopes of a bearer token (`scp` or `scope`). */
  readonly scopes?: readonly string[]
  /** The client the token was issued to (`azp`, `appid` or `client_id`) for bearer tokens. */
  readonly clientId?: string
  readonly issuer: string
  readonly subject: string
  readonly name: string | undefined
  readonly email: string | undefined
  readonly groups: readonly string[]
  readonly roles: readonly string[]
  /** Authentication methods (`amr`) and context (`acr`), for MFA conditions. */
  readonly amr: readonly string[]
  readonly acr: string | undefined
  /** When the user signed in (`auth_time`, epoch seconds), for reauth_after. */
  readonly authTime?: number
  /** The IdP's session id (`sid`), for logout. */
  readonly sid: string | undefined
  /** Further claims that policies may test. */
  readonly claims: Readonly<Record<string, unknown>>
  /** The verified client certificate the request came with (tls.client_ca_file), told to the upstream. */
  readonly certificate?: ClientCertificate
}

/**
 * A client certificate that verified against tls.client_ca_file during the
 * TLS handshake, as policies and the upstream see it. Unverified
 * certificates (an optional one that did not verify, a self-signed one)
 * never become one of these.
 */
export interface ClientCertificate {
  /** The subject's attributes in certificate order, one line: `O=Example, CN=billing-batch`. */
  readonly subject: string
  readonly subjectCn: string | undefined
  readonly issuer: string
  readonly issuerCn: string | undefined
  /** Subject alternative names by kind. */
  readonly dns: readonly string[]
  readonly uris: readonly string[]
  readonly emails: readonly string[]
  /** base64url SHA-256 of the DER certificate: the `x5t#S256` of RFC 8705. */
  readonly thumbprint: string
  readonly serial: string
}

/** Which claims carry groups and app roles (oidc.groups_claim, oidc.roles_claim). */
export interface ClaimNames {
  groupsClaim: string
  rolesClaim: string
}
