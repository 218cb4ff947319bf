import type { Cidr } from '../net/address.js'

/** The validated, frozen gateway configuration. Built once at start-up by loadConfig(). */
export interface GatewayConfig {
  readonly listen: { readonly host: string; readonly port: number }
  /** Worker processes that serve the listener: a number, or `auto` (one per CPU the process may use). */
  readonly workers: number | 'auto'
  /** Origin people and the IdP use, without a trailing slash, e.g. `https://app.example.com`. */
  readonly publicUrl: string
  /** The public URL's parts, parsed once: what X-Forwarded-Proto and X-Forwarded-Host tell the upstream. */
  readonly publicParts: { readonly protocol: 'http' | 'https'; readonly host: string }
  /** True when publicUrl is https: cookies get `Secure` and the `__Host-` prefix. */
  readonly secureCookies: boolean
  readonly policies: string | undefined
  /** HTTPS on the public listener (tls.cert_file and tls.key_file); undefined: plain HTTP. */
  readonly tls: TlsSettings | undefined
  /** The Strict-Transport-Security header on every answer (public_url https only); undefined: none. */
  readonly strictTransportSecurity: string | undefined
  /** Proxies whose X-Forwarded-For is read; empty: the socket peer is the client. */
  readonly trustedProxies: readonly Cidr[]
  readonly oidc: {
    readonly provider: 'generic' | 'entra'
    /** For Entra: derived from entra.tenant, e.g. https://login.microsoftonline.com/organizations/v2.0. */
    readonly issuer: string
    readonly clientId: string
    readonly clientSecret: string
    readonly tokenAuthMethod: 'client_secret_basic' | 'client_secret_post'
    readonly scopes: readonly string[]
    readonly allowInsecureHttp: boolean
    readonly discoveryTimeoutMs: number
    readonly groupsClaim: string
    readonly rolesClaim: string
    /** acr_values asking for a multi-factor sign-in (step-up of mfa conditions). */
    readonly mfaAcrValues: readonly string[]
    /** prompt=login besides max_age for reauth_after. */
    readonly reauthPromptLogin: boolean
  }
  /** Set when oidc.provider is entra. */
  readonly entra: EntraSettings | undefined
  /** Set when bearer.audiences is not empty: routes with `credentials: [bearer]` accept access tokens. */
  readonly bearer: BearerSettings | undefined
  /** Shared Signals transmitters allowed to push security events; empty: the endpoint refuses everything. */
  readonly ssf: { readonly transmitters: readonly SsfTransmitter[] }
  readonly session: {
    readonly secret: string
    readonly previousSecrets: readonly string[]
    /** The cookie's full name, `__Host-` prefixed when secureCookies. */
    readonly cookieName: string
    readonly idleTimeoutMs: number
    readonly maxLifetimeMs: number
    readonly refreshSkewMs: number
    readonly cacheTtlMs: number
  }
  readonly redis: {
    readonly url: string | undefined
    readonly keyPrefix: string
    readonly commandTimeoutMs: number
  }
  readonly signing: {
    readonly keyFile: string | undefined
    readonly algorithm: 'ES256' | 'ES384' | 'RS256' | 'PS256' | 'EdDSA'
    readonly assertionTtlMs: number
  }
  readonly upstream: {
    /** The default upstream (`default` in policies); required without policy files. */
    readonly url: string | undefined
    readonly timeoutMs: number
    readonly connectTimeoutMs: number
    readonly forwardGroups: 'all' | 'mentioned'
  }
  readonly limits: {
    /** Bytes of request line and headers (node's maxHeaderSize). */
    readonly maxHeaderSize: number
    /** Bytes of a body the gateway parses itself. */
    readonly maxBodySize: number
    readonly headersTimeoutMs: number
    readonly requestTimeoutMs: number
    readonly keepAliveTimeoutMs: number
    readonly maxWebSockets: number
  }
  readonly branding: {
    readonly productName: string
    readonly logoUrl: string | undefined
    readonly accentColor: string
    readonly supportContact: string | undefined
  }
  readonly pages: { readonly denialDetail: 'detailed' | 'terse' }
  readonly shutdown: { readonly gracePeriodMs: number }
  /** The admin listener (metrics, health); undefined when `admin.listen` is `off`. */
  readonly admin: { readonly listen: { readonly host: string; readonly port: number } | undefined }
  readonly log: {
    readonly level: string
    /** Where audit events go: `stdout`, `stderr`, a file path, or undefined (the main log's stream). */
    readonly audit: string | undefined
    /** Which decisions become access.decision audit records. */
    readonly decisions: DecisionLogging
  }
  readonly policy: {
    /** Test file or folder the policy must pass before it goes live. */
    readonly tests: string | undefined
  }
}

/** `log.decisions`: denials only, every decision, or every denial and a fraction of the rest. */
export type DecisionLogging =
  | { readonly kind: 'denied' }
  | { readonly kind: 'all' }
  | { readonly kind: 'sample', readonly fraction: number }

export interface EntraSettings {
  /** As configured: a tenant id, a domain, organizations or common. */
  readonly tenant: string
  /** organizations / common: the issuer is a template checked against each token's tid. */
  readonly multiTenant: boolean
  /** Lower-case tenant ids accepted; empty for a single tenant named by domain (its issuer decides). */
  readonly allowedTenants: readonly string[]
  readonly authorityHost: string
  readonly graphUrl: string
  readonly graphTimeoutMs: number
  readonly groupsCacheTtlMs: number
  /** Lower-case group object id -> name. */
  readonly groupNames: Readonly<Record<string, string>>
  readonly onlyNamedGroups: boolean
  readonly mfaAuthContexts: readonly string[]
  /** entra.directory_watch when enabled: the tenant id it reads and the time between polls. */
  readonly directoryWatch: { readonly tenant: string, readonly intervalMs: number } | undefined
}

export interface BearerSettings {
  readonly audiences: readonly string[]
  /** Accepted issuers; `{tenantid}` is replaced by the token's tid (which must be an allowed tenant). Empty: the OIDC issuer. */
  readonly issuers: readonly string[]
  readonly jwksUrl: string | undefined
  readonly clockToleranceMs: number
}

/** A Shared Signals transmitter: who signs its events, for which audience, and the bearer secret it pushes with. */
export interface SsfTransmitter {
  readonly issuer: string
  readonly jwksUrl: string
  readonly audience: string
  readonly bearerSecret: string
}

/** tls.*: the files the public listener serves HTTPS with, and what it asks of clients. */
export interface TlsSettings {
  readonly certFile: string
  readonly keyFile: string
  /** CA certificates client certificates are verified against; undefined: none asked for. */
  readonly clientCaFile: string | undefined
  /** With clientCaFile: `optional` (checked when sent) or `required` (refused at the handshake without one). */
  readonly clientCertificates: 'optional' | 'required'
  /** The plain-HTTP listener that only redirects to public_url; undefined when `off`. */
  readonly redirectListen: { readonly host: string; readonly port: number } | undefined
}
