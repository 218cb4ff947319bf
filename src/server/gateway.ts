import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import type { GatewayConfig } from '../config/types.js'
import { GatehouseError, SigninError } from '../errors.js'
import { decide } from '../authorize/decision.js'
import { identityFromSession } from '../identify/from-session.js'
import type { Identity } from '../identify/identity.js'
import { AccessLog } from '../log/access-log.js'
import { createAuditLog } from '../log/audit.js'
import { RequestLogger } from '../log/request-logger.js'
import type { Logger } from '../log/logger.js'
import { registerProxy } from '../proxy/register-proxy.js'
import { rewritePath } from '../proxy/rewrite-path.js'
import { CookieSigner } from '../session/cookie-signer.js'
import { toFastifySessionStore } from '../session/fastify-store.js'
import type { SessionStore } from '../session/session-store.js'
import { needsTouch, sessionState, touchIntervalMs, type LifetimeSettings } from '../session/lifetime.js'
import { TokenRefresh } from '../signin/token-refresh.js'
import { BackchannelLogout } from '../signin/backchannel-logout.js'
import '../session/session-data.js'
import { AssertionSigner } from '../sign/assertion.js'
import type { SigningKey } from '../sign/keys.js'
import { gatewayCookies, type GatewayCookies } from '../signin/cookies.js'
import { OidcProvider } from '../signin/oidc-provider.js'
import { safeReturnPath } from '../signin/return-to.js'
import { SigninFlow } from '../signin/signin-flow.js'
import { escapeHtml, PageRenderer } from './html.js'
import { accessDeniedBody, idpErrorWords } from './pages.js'
import { registerGatewayRoutes } from './gateway-routes.js'
import { GATEHOUSE_PREFIX, rewriteToCanonical, routeRequest } from './route-request.js'
import { PolicyStore } from '../policy/policy-store.js'
import { isNavigation, sendError } from './respond.js'

export interface GatewayOptions {
  config: GatewayConfig
  log: Logger
  store: SessionStore
  signingKey: SigningKey
  clock?: () => number
}

export interface Gateway {
  app: FastifyInstance
  oidc: OidcProvider
  policies: PolicyStore
  store: SessionStore
  /** How long a shutdown waits for requests in flight. */
  gracePeriodMs: number
  cookies: GatewayCookies
  /** Starts discovery and listens; resolves with the bound address. */
  listen (): Promise<{ host: string, port: number }>
  close (): Promise<void>
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/
const GATEWAY_BODY_LIMIT = 64 * 1024
/** Session cookies whose signature was verified, remembered (about 200 bytes each). */
const VERIFIED_COOKIES_MAX = 10_000

/**
 * Assembles the gateway: session loading (identify), the per-request guard
 * (authorize, sign), the proxy, and the gateway's own endpoints.
 */
export async function buildGateway (opts: GatewayOptions): Promise<Gateway> {
  const { config, log, store, signingKey } = opts
  const cookies = gatewayCookies(config)
  const audit = createAuditLog(log)
  const oidc = new OidcProvider(config.oidc, log)
  const clock = opts.clock ?? Date.now
  const lifetimes: LifetimeSettings = { idleMs: config.session.idleTimeoutMs, maxMs: config.session.maxLifetimeMs }
  const signin = new SigninFlow({ config, oidc, store, cookies, audit, clock })
  const refresh = new TokenRefresh({ config, oidc, store, audit, clock })
  const backchannel = new BackchannelLogout({ config, oidc, store, audit })
  const signer = new AssertionSigner(signingKey, config.publicUrl, config.signing.assertionTtlMs)
  const policies = new PolicyStore(config.policies, {
    defaultUpstream: config.upstream.url === undefined ? undefined : { url: config.upstream.url, timeoutMs: config.upstream.timeoutMs },
  }, log, audit)

  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id']
      return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID()
    },
    logController: new AccessLog({ requestIdLogLabel: 'reqId' }),
    childLoggerFactory: (logger, bindings, options) => new RequestLogger(logger as Logger, bindings, options) as unknown as FastifyBaseLogger,
    bodyLimit: GATEWAY_BODY_LIMIT,
    trustProxy: false,
    return503OnClosing: true,
    rewriteUrl: rewriteToCanonical,
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, maxParamLength: 500 },
  })

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
    // Behind a TLS-terminating load balancer the socket is plain http, but the
    // browser speaks https to the public URL: the cookie plugins must see that.
    if (config.secureCookies) Object.defineProperty(request, 'protocol', { value: 'https' })
  })

  app.decorate('pages', new PageRenderer(config.branding))
  app.decorateRequest('routed', null)
  await app.register(fastifyCookie)
  // Between cookie parsing and session loading: a route that never needs the user never reads the session store.
  app.addHook('onRequest', routeRequest({ policies, trustedProxies: config.trustedProxies, sessionCookie: cookies.session }))
  await app.register(fastifySession, {
    // The first secret signs new cookies; previous ones still verify during a rotation.
    secret: new CookieSigner([config.session.secret, ...config.session.previousSecrets], VERIFIED_COOKIES_MAX),
    cookieName: cookies.session,
    cookie: { ...cookies.attributes, maxAge: config.session.maxLifetimeMs },
    saveUninitialized: false,
    rolling: false,
    store: toFastifySessionStore(store, lifetimes, clock),
  })

  app.setErrorHandler((error: FastifyError, request, reply) => handleError(error, request, reply))
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new GatehouseError('GH_NOT_FOUND', request.url)))

  // The gateway's own endpoints, in a scope of their own (their form parser never sees proxied bodies).
  await app.register(async (scope) => { registerGatewayRoutes(scope, { config, signin, oidc, store, signingKey, policies, backchannel, lifetimes, clock }) })

  await registerProxy(app, {
    config,
    gatewayCookies: cookies.all,
    guard: async (request, reply) => {
      const routed = request.routed
      if (routed === null) throw new GatehouseError('GH_INTERNAL', 'unrouted request reached the proxy')
      const { route, policy, canonical, clientIp } = routed
      if (request.headers.upgrade !== undefined && !route.websockets) {
        sendError(request, reply, new GatehouseError('GH_FORBIDDEN', 'websockets disabled'), { json: { route: route.name, reason: 'websockets_disabled' } })
        return false
      }
      const identity = route.needsIdentity ? await liveIdentity(request) : undefined
      const decision = decide(route, { identity, clientIp })
      if (!decision.allow) {
        if (decision.kind === 'unauthenticated') {
          await challenge(request, reply, signin, config.publicUrl)
        } else {
          audit('access.denied', { user: identity?.id, ip: clientIp?.toString(), reqId: request.id, route: route.name, reason: decision.reason, rule: decision.rule })
          const detailed = config.pages.denialDetail === 'detailed'
          sendError(request, reply, new GatehouseError('GH_FORBIDDEN', `${route.name}: ${decision.reason}`), {
            title: 'Access denied',
            bodyHtml: accessDeniedBody({ identity, route: route.name, reason: decision.message, requestId: String(request.id), returnTo: safeReturnPath(request.url, config.publicUrl), detailed }),
            ...(detailed ? { hint: `Route "${route.name}" ${decision.message}.`, json: { route: route.name, reason: decision.reason } } : {}),
          })
        }
        return false
      }
      if (route.rewrite !== undefined) {
        const path = rewritePath(canonical.path, route.rewrite.from, route.rewrite.to)
        request.raw.url = canonical.query === '' ? path : `${path}?${canonical.query}`
      }
      request.forward = {
        identity: decision.identity,
        assertion: decision.identity === undefined ? undefined : await signer.assertion(decision.identity, route.audience, clock()),
        clientIp: clientIp?.toString() ?? request.socket.remoteAddress ?? '',
        publicUrl: config.publicUrl,
        requestId: String(request.id),
        upstream: route.upstream.url,
        headerNames: route.headers,
        reserved: policy.reservedHeaders,
        accessToken: route.passAccessToken && decision.identity !== undefined ? request.session.tokens?.accessToken : undefined,
        timeoutMs: route.timeoutMs ?? config.upstream.timeoutMs,
      }
      return true
    },
  })

  return {
    app,
    oidc,
    policies,
    store,
    gracePeriodMs: config.shutdown.gracePeriodMs,
    cookies,
    async listen () {
      oidc.start()
      await app.listen({ host: config.listen.host, port: config.listen.port })
      const address = app.server.address()
      if (address === null || typeof address === 'string') throw new GatehouseError('GH_INTERNAL', 'server has no TCP address')
      return { host: address.address, port: address.port }
    },
    async close () {
      oidc.stop()
      policies.close()
      // Keep-alive connections would hold the close open until they time out:
      // each one is closed as soon as its last request has been answered.
      const idle = setInterval(() => { app.server.closeIdleConnections() }, 50)
      idle.unref()
      try {
        await app.close()
      } finally {
        clearInterval(idle)
      }
      await store.close()
    },
  }

  /**
   * The signed-in user, after the session's lifetimes are checked (an idle
   * or too old session ends here), its tokens refreshed when due, and its
   * last-seen time written back when the touch interval has passed.
   */
  async function liveIdentity (request: FastifyRequest): Promise<Identity | undefined> {
    if (identityFromSession(request) === undefined) return undefined
    const now = clock()
    const state = sessionState(request.session, now, lifetimes)
    if (state !== 'active') {
      audit('session.expired', { user: request.session.identity?.id, ip: request.ip, reqId: request.id, reason: state === 'idle' ? 'idle_timeout' : 'max_lifetime' })
      await endSession(request)
      return undefined
    }
    const tokens = request.session.tokens
    if (refresh.isDue(request) && await refresh.refresh(request) === 'ended') {
      await endSession(request)
      return undefined
    }
    // Of the requests in flight together, one writes the last-seen time back; a request that took
    // new tokens always does, so that its write (with them) comes after any of the others.
    const tookNewTokens = request.session.tokens !== tokens
    if (needsTouch(request.session, now, lifetimes) && (store.claimTouch(request.session.sessionId, now, touchIntervalMs(lifetimes)) || tookNewTokens)) request.session.lastSeenAt = now
    return identityFromSession(request)
  }

  async function endSession (request: FastifyRequest): Promise<void> {
    await request.session.destroy()
  }

  function handleError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    if (error instanceof SigninError) {
      request.log.warn({ err: { code: error.code, detail: error.detail } }, 'sign-in failed')
      const retry = `${GATEHOUSE_PREFIX}/login?return=${encodeURIComponent(error.returnTo)}`
      return sendError(request, reply, error, {
        hint: error.code === 'GH_SIGNIN_IDP_ERROR' ? `${idpErrorWords(error.detail, error.idpDescription)}${error.idpDescription === undefined ? '' : ` The identity provider said: "${error.idpDescription}".`} (${error.detail ?? 'error'})` : undefined,
        actionsHtml: `<a class="button" href="${escapeHtml(retry)}">Try again</a>`,
        json: { login_url: `${config.publicUrl}${retry}`, ...(error.code === 'GH_SIGNIN_IDP_ERROR' ? { idp_error: error.detail } : {}) },
      })
    }
    if (error instanceof GatehouseError) {
      const level = error.statusCode >= 500 ? 'error' : 'warn'
      request.log[level]({ err: { code: error.code, detail: error.detail } }, 'request refused')
      return sendError(request, reply, error)
    }
    const status = error.statusCode
    if (typeof status === 'number' && status >= 400 && status < 500) {
      request.log.info({ err: { code: error.code, message: error.message } }, 'bad request')
      return sendError(request, reply, new GatehouseError('GH_BAD_REQUEST', error.message), { status })
    }
    request.log.error({ err: error }, 'unexpected error')
    return sendError(request, reply, new GatehouseError('GH_INTERNAL', error.message))
  }
}

/** Not signed in: a browser navigation goes to the IdP; anything else gets 401 JSON with the sign-in URL. */
async function challenge (request: FastifyRequest, reply: FastifyReply, signin: SigninFlow, publicUrl: string): Promise<void> {
  const returnTo = safeReturnPath(request.url, publicUrl)
  if (isNavigation(request) && (request.method === 'GET' || request.method === 'HEAD')) {
    await signin.redirectToIdp(request, reply, returnTo)
    return
  }
  const loginUrl = `${publicUrl}${GATEHOUSE_PREFIX}/login?return=${encodeURIComponent(returnTo)}`
  sendError(request, reply, new GatehouseError('GH_UNAUTHENTICATED'), {
    headers: { 'www-authenticate': `Session realm="gatehouse", login_url="${loginUrl}"` },
    json: { login_url: loginUrl },
  })
}
