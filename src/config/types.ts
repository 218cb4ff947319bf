import type { Cidr } from '../net/address.js'

/** The validated, frozen gateway configuration. Built once at start-up by loadConfig(). */
export interface GatewayConfig {
  readonly listen: { readonly host: string; readonly port: number }
  /** Origin people and the IdP use, without a trailing slash, e.g. `https://app.example.com`. */
  readonly publicUrl: string
  /** True when publicUrl is https: cookies get `Secure` and the `__Host-` prefix. */
  readonly secureCookies: boolean
  readonly policies: string | undefined
  /** Proxies whose X-Forwarded-For is read; empty: the socket peer is the client. */
  readonly trustedProxies: readonly Cidr[]
  readonly oidc: {
    readonly issuer: string
    readonly clientId: string
    readonly clientSecret: string
    readonly tokenAuthMethod: 'client_secret_basic' | 'client_secret_post'
    readonly scopes: readonly string[]
    readonly allowInsecureHttp: boolean
    readonly discoveryTimeoutMs: number
    readonly groupsClaim: string
    readonly rolesClaim: string
  }
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
  readonly log: { readonly level: string }
}
