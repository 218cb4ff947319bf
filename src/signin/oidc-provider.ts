import * as client from 'openid-client'
import { GatehouseError } from '../errors.js'
import type { GatewayConfig } from '../config/types.js'
import type { Logger } from '../log/logger.js'

const FIRST_RETRY_MS = 500
/**
 * Entra ID is discovered under its global authority name, so that
 * openid-client applies its Entra rules: the `{tenantid}` issuer of
 * multi-tenant apps is checked against each ID token's own `tid`, and the
 * tenant-id issuer of an app named by domain is accepted. With another
 * authority host (a national cloud, a local stand-in) the discovery request
 * itself goes to that host; every later request goes where the discovered
 * metadata says.
 */
const ENTRA_GLOBAL_AUTHORITY = 'https://login.microsoftonline.com'

function toAuthorityHost (authorityHost: string): client.CustomFetch {
  return async (url, options) => {
    const target = url.startsWith(`${ENTRA_GLOBAL_AUTHORITY}/`) ? `${authorityHost}${url.slice(ENTRA_GLOBAL_AUTHORITY.length)}` : url
    return await fetch(target, options as RequestInit)
  }
}
const MAX_RETRY_MS = 30_000

/**
 * The OpenID Provider's metadata, loaded by discovery at start-up and retried
 * with exponential back-off while the IdP cannot be reached. Until it has
 * loaded, `configuration()` throws GH_IDP_NOT_READY (503) and readiness is false.
 */
export class OidcProvider {
  readonly #config: GatewayConfig['oidc']
  readonly #entra: GatewayConfig['entra']
  readonly #log: Logger
  #configuration: client.Configuration | undefined
  #stopped = false
  #timer: NodeJS.Timeout | undefined
  #ready: Promise<void>
  #resolveReady!: () => void

  constructor (config: GatewayConfig['oidc'], log: Logger, entra?: GatewayConfig['entra']) {
    this.#config = config
    this.#entra = entra
    this.#log = log.child({ module: 'oidc' })
    this.#ready = new Promise(resolve => { this.#resolveReady = resolve })
  }

  get isReady (): boolean {
    return this.#configuration !== undefined
  }

  /** Resolves once discovery has succeeded. */
  whenReady (): Promise<void> {
    return this.#ready
  }

  /** Starts discovery in the background; never rejects. */
  start (): void {
    void this.#attempt(0)
  }

  stop (): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
  }

  /** The issuer (for Entra multi-tenant apps a `{tenantid}` template) and key set URL, for bearer tokens. */
  keys (): { issuer: string, jwksUri: string | undefined } {
    const metadata = this.configuration().serverMetadata()
    return { issuer: metadata.issuer, jwksUri: metadata.jwks_uri }
  }

  configuration (): client.Configuration {
    if (this.#configuration === undefined) throw new GatehouseError('GH_IDP_NOT_READY', 'OpenID Provider metadata not loaded yet')
    return this.#configuration
  }

  async #attempt (n: number): Promise<void> {
    if (this.#stopped) return
    const c = this.#config
    try {
      const auth = c.tokenAuthMethod === 'client_secret_post' ? client.ClientSecretPost(c.clientSecret) : client.ClientSecretBasic(c.clientSecret)
      const configuration = await client.discovery(
        this.#entra === undefined ? new URL(c.issuer) : new URL(`${ENTRA_GLOBAL_AUTHORITY}/${this.#entra.tenant}/v2.0`),
        c.clientId,
        undefined,
        auth,
        {
          timeout: Math.ceil(c.discoveryTimeoutMs / 1000),
          ...(c.allowInsecureHttp ? { execute: [client.allowInsecureRequests] } : {}),
          ...(this.#entra !== undefined && this.#entra.authorityHost !== ENTRA_GLOBAL_AUTHORITY ? { [client.customFetch]: toAuthorityHost(this.#entra.authorityHost) } : {}),
        },
      )
      if (this.#stopped) return
      // ID tokens are checked against the IdP's published keys also when they come from the token endpoint.
      // OpenID Connect lets TLS stand in for that check there (Core 3.1.3.7); a token endpoint reached over
      // plain http (allow_insecure_http), through a proxy that can alter it, or misconfigured to another
      // host would otherwise mint any identity it likes.
      client.enableNonRepudiationChecks(configuration)
      this.#configuration = configuration
      this.#log.info({ issuer: configuration.serverMetadata().issuer }, 'OpenID Provider metadata loaded')
      this.#resolveReady()
    } catch (err) {
      const delay = Math.min(FIRST_RETRY_MS * 2 ** n, MAX_RETRY_MS)
      this.#log.warn({ issuer: c.issuer, err: { message: (err as Error).message, code: (err as { code?: string }).code }, retryInMs: delay }, 'OpenID Provider discovery failed; retrying')
      if (!this.#stopped) this.#timer = setTimeout(() => { void this.#attempt(n + 1) }, delay)
    }
  }
}
