// Embedded development OpenID Provider built on `oidc-provider` v9.
//
// It is meant for local development, docker-compose demos and integration
// tests: in-memory storage, keys generated at start-up, a plain HTML login
// form that checks username + password against a static user list, and
// automatic consent. Never expose it to untrusted networks. It is not part
// of the runtime image.
/// <reference path="./oidc-provider.d.ts" />
import * as http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import Provider from 'oidc-provider'
import type { Account, ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider'
import { claimsConfiguration, userClaims } from './claims-configuration.js'
import type { DevClient, DevIdp, DevIdpMiddleware, DevIdpOptions } from './dev-idp-options.js'
import { errorPage, escapeValue, idpPage, sendPage } from './idp-page.js'
import { devIdpPrompts, promptValues } from './interaction-policy.js'
import { ConsentLedger, consentRequiredOnRefresh, registerTokenExchange, resourceIndicators, TOKEN_EXCHANGE_GRANT } from './downstream-grants.js'
import { INTERACTION_PATH, interactionRoute } from './interaction-route.js'
import { logoutSource, postLogoutSuccessSource } from './logout-pages.js'
import { memoryAdapterFactory } from './memory-adapter.js'
import { generateSigningKeys, jwtSigner } from './signing-keys.js'

export type { DevClient, DevIdp, DevIdpOptions } from './dev-idp-options.js'
export { DEMO_USERS, type DevUser } from './dev-users.js'

/** Cookie names are prefixed so they never clash with an RP on the same host. */
const COOKIE_NAMES = { session: 'devidp_session', interaction: 'devidp_interaction', resume: 'devidp_resume' } as const

function clientMetadata (c: DevClient): ClientMetadata {
  return {
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
    grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE_GRANT],
    response_types: ['code'],
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    // always put auth_time in ID tokens (handy for max-age style policies)
    require_auth_time: true,
    ...(c.backchannel_logout_uri === undefined
      ? {}
      : {
          backchannel_logout_uri: c.backchannel_logout_uri,
          // oidc-provider only puts `sid` in ID tokens for such clients
          backchannel_logout_session_required: c.backchannel_logout_session_required ?? true,
        }),
  }
}

function formatHost (host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

export async function startDevIdp (opts: DevIdpOptions): Promise<DevIdp> {
  const host = opts.host ?? '127.0.0.1'
  const grants = { authorization_code: 0, refresh_token: 0, token_exchange: 0 }
  const consents = new ConsentLedger()
  const resources = opts.resources ?? []

  // 1. Bind first so the issuer can carry the real port.
  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503
    res.end('starting')
  }
  const server = http.createServer((req, res) => { handler(req, res) })
  const sockets = new Set<Socket>()
  server.on('connection', socket => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const issuer = (opts.issuer ?? `http://${formatHost(host)}:${port}`).replace(/\/+$/, '')

  try {
    const jwks = await generateSigningKeys()
    const claims = claimsConfiguration(opts.users)
    const knownScopes = new Set(['openid', 'offline_access', ...Object.keys(claims).filter(k => claims[k] !== null)])
    const prompts = devIdpPrompts(opts.users)

    const findAccount = (_ctx: KoaContextWithOIDC, sub: string): Account | undefined => {
      const user = opts.users.find(u => u.id === sub)
      return user === undefined ? undefined : { accountId: user.id, claims: () => userClaims(user) }
    }

    const configuration: Configuration = {
      adapter: memoryAdapterFactory(15),
      clients: opts.clients.map(clientMetadata),
      claims,
      clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
      conformIdTokenClaims: false,
      cookies: {
        names: { ...COOKIE_NAMES },
        keys: opts.cookieKeys?.length === undefined || opts.cookieKeys.length === 0 ? [randomBytes(32).toString('base64url')] : opts.cookieKeys,
      },
      // oidc-provider does not announce the prompts it takes; clients read them here.
      discovery: { prompt_values_supported: promptValues(prompts) },
      findAccount,
      // oidc-provider 9 routes its outgoing requests (back-channel logout,
      // jwks_uri, ...) through an SSRF-protecting dispatcher that refuses
      // special-use addresses such as 127.0.0.1. RPs of a dev IdP live on
      // loopback, so drop that dispatcher (the 2.5 s timeout signal stays).
      fetch: async (url: string | URL, options: RequestInit & { dispatcher?: unknown }) => {
        const { dispatcher: _ssrfGuard, ...rest } = options
        return await globalThis.fetch(url, rest)
      },
      jwks,
      pkce: { required: () => true },
      responseTypes: ['code'],
      rotateRefreshToken: true,
      // Like Entra ID: a refresh token for every client allowed the grant,
      // without oidc-provider's rule that offline_access needs prompt=consent.
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      scopes: [...knownScopes],
      clientBasedCORS: (_ctx, origin, client) => client.redirectUris.some(uri => URL.parse(uri)?.origin === origin),
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: prompts },
      features: {
        devInteractions: { enabled: false },
        resourceIndicators: resources.length === 0 ? { enabled: false } : resourceIndicators(resources, opts.accessTokenTtlSeconds ?? 600),
        claimsParameter: { enabled: true },
        revocation: {
          enabled: true,
          // own policy only to keep oidc-provider from printing a notice
          allowedPolicy: (_ctx: KoaContextWithOIDC, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId,
        },
        backchannelLogout: { enabled: true },
        rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      },
      renderError: (ctx, out) => {
        ctx.type = 'html'
        ctx.body = idpPage('Error - Dev IdP', `<h1>Something went wrong</h1>
${Object.entries(out).map(([k, v]) => `<p><strong>${escapeValue(k)}</strong>: <span class="${escapeValue(k)}">${escapeValue(v)}</span></p>`).join('\n')}`)
      },
      ttl: {
        AccessToken: opts.accessTokenTtlSeconds ?? 600,
        AuthorizationCode: 60,
        IdToken: opts.idTokenTtlSeconds ?? 3600,
        RefreshToken: 24 * 60 * 60,
        Interaction: 60 * 60,
        Session: 24 * 60 * 60,
        Grant: 24 * 60 * 60,
        // Disabled features, set only to keep oidc-provider from printing notices.
        ClientCredentials: 600,
        DeviceCode: 600,
        BackchannelAuthenticationRequest: 600,
        PreAuthorizedCode: 600,
      },
    }

    const provider = new Provider(issuer, configuration)
    provider.proxy = false
    registerTokenExchange(provider, { issuer, keys: jwks.keys, resources, consents, signJwt: jwtSigner(jwks.keys), defaultTtlSeconds: opts.accessTokenTtlSeconds ?? 600, issued: () => { grants.token_exchange += 1 } })
    provider.use(consentRequiredOnRefresh())

    provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
      const type = ctx.oidc.params?.grant_type
      if (type === 'authorization_code' || type === 'refresh_token') grants[type] += 1
    })

    // Koa composes its middleware when callback() is called: one entry point for the ones tests add later.
    const added: DevIdpMiddleware[] = []
    provider.use(async (ctx, next) => {
      const dispatch = async (i: number): Promise<void> => {
        const middleware = added[i]
        if (middleware === undefined) return await next()
        await middleware(ctx, async () => { await dispatch(i + 1) })
      }
      await dispatch(0)
    })
    const oidcCallback = provider.callback()
    const interaction = interactionRoute(provider, opts.users, knownScopes, consents)
    handler = (req, res) => {
      const match = INTERACTION_PATH.exec((req.url ?? '/').split('?')[0] ?? '/')
      if (match === null) {
        void oidcCallback(req, res)
        return
      }
      interaction(req, res, decodeURIComponent(match[1] ?? ''), match[2]).catch((err: unknown) => {
        if (res.headersSent) res.destroy()
        else sendPage(res, 500, errorPage('Internal error', (err as Error).message))
      })
    }

    let closing: Promise<void> | undefined
    const close = async (): Promise<void> => {
      closing ??= new Promise<void>(resolve => {
        server.close(() => { resolve() })
        server.closeAllConnections()
        for (const socket of sockets) socket.destroy()
      })
      await closing
    }
    return { issuer, provider, close, grants, signJwt: jwtSigner(jwks.keys), use: middleware => { added.push(middleware) }, consent: (accountId, clientId, resource, scopes) => { consents.add(accountId, clientId, resource, scopes) } }
  } catch (err) {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => { resolve() }))
    throw err
  }
}
