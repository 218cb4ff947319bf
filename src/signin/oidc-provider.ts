import * as client from 'openid-client'
import { GatehouseError } from '../errors.js'
import type { GatewayConfig } from '../config/types.js'
import type { Logger } from '../log/logger.js'

const FIRST_RETRY_MS = 500
const MAX_RETRY_MS = 30_000

/**
 * The OpenID Provider's metadata, loaded by discovery at start-up and retried
 * with exponential back-off while the IdP cannot be reached. Until it has
 * loaded, `configuration()` throws GH_IDP_NOT_READY (503) and readiness is false.
 */
export class OidcProvider {
  readonly #config: GatewayConfig['oidc']
  readonly #log: Logger
  #configuration: client.Configuration | undefined
  #stopped = false
  #timer: NodeJS.Timeout | undefined
  #ready: Promise<void>
  #resolveReady!: () => void

  constructor (config: GatewayConfig['oidc'], log: Logger) {
    this.#config = config
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
        new URL(c.issuer),
        c.clientId,
        undefined,
        auth,
        { timeout: Math.ceil(c.discoveryTimeoutMs / 1000), ...(c.allowInsecureHttp ? { execute: [client.allowInsecureRequests] } : {}) },
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
