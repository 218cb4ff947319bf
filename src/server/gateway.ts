import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import type { GatewayConfig } from '../config/types.js'
import { GatehouseError, SigninError } from '../errors.js'
import { decide } from '../authorize/decision.js'
import { BearerVerifier } from '../identify/bearer-token.js'
import { identityOf } from '../identify/from-session.js'
import type { Identity } from '../identify/identity.js'
import { AccessLog } from '../log/access-log.js'
import { auditRequest, auditUser, createAuditLog, type AuditSink } from '../log/audit.js'
import { RequestLogger } from '../log/request-logger.js'
import type { Logger } from '../log/logger.js'
import { GatewayMetrics, UNROUTED } from '../metrics/gateway-metrics.js'
import { traceContext, type TraceContext } from '../net/trace-context.js'
import { clientAddress, peerAddress } from '../identify/client-address.js'
import { addressText } from '../net/address.js'
import { registerProxy } from '../proxy/register-proxy.js'
import { rewritePath } from '../proxy/rewrite-path.js'
import { CookieSigner } from '../session/cookie-signer.js'
import { toFastifySessionStore } from '../session/fastify-store.js'
import { SessionReader, type ActiveSession } from '../session/active-session.js'
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
import { IdentityBuilder } from '../signin/identity-builder.js'
import { identityHeaderBytes } from '../proxy/identity-headers.js'
import type { Policy } from '../policy/load-policy.js'
import { escapeHtml, PageRenderer } from './html.js'
import { accessDeniedBody, idpErrorWords } from './pages.js'
import { registerGatewayRoutes } from './gateway-routes.js'
import { loginPath, rewriteToCanonical, routeRequest, type RoutedRequest } from './route-request.js'
import { registerForwardAuth, type Allowed } from './forward-auth.js'
import { gatewayIdentityHeaders, type ForwardContext } from '../proxy/forward-headers.js'
import { PolicyStore } from '../policy/policy-store.js'
import { isNavigation, sendError } from './respond.js'
import { buildAdminServer } from './admin.js'
import { readiness } from './readiness.js'
import { clientErrorHandler } from './client-error.js'
import { refuseConnect } from './refuse-connect.js'

export interface GatewayOptions {
  config: GatewayConfig
  log: Logger
  store: SessionStore
  signingKey: SigningKey
  clock?: () => number
  /** The gateway's metrics (the session store may already count into them); a new set when not given. */
  metrics?: GatewayMetrics
  /** Where audit events go (closed with the gateway); the main log when not given. */
  auditSink?: AuditSink
}

export interface Gateway {
  app: FastifyInstance
  oidc: OidcProvider
  policies: PolicyStore
  store: SessionStore
  metrics: GatewayMetrics
  /** The admin listener's bound address once listening; undefined when admin.listen is off. */
  adminAddress: { host: string, port: number } | undefined
  /** How long a shutdown waits for requests in flight. */
  gracePeriodMs: number
  cookies: GatewayCookies
  /** Starts discovery and listens; resolves with the bound address. */
  listen (): Promise<{ host: string, port: number }>
  close (): Promise<void>
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/
/** Identity headers and assertion above this many bytes draw a warning: many servers refuse 8 KiB header lines or 16 KiB of headers. */
const IDENTITY_HEADER_WARN_BYTES = 6 * 1024
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i
/** Session cookies whose signature was verified, remembered (about 200 bytes each). */
const VERIFIED_COOKIES_MAX = 10_000
/** A request's trace context, kept on Node's request object (cheaper than a WeakMap entry per request). */
const TRACE = Symbol('gatehouse.trace')

/**
 * Assembles the gateway: session loading (identify), the per-request guard
 * (authorize, sign), the proxy, and the gateway's own endpoints.
 */
export async function buildGateway (opts: GatewayOptions): Promise<Gateway> {
  const { config, log, store, signingKey } = opts
  const cookies = gatewayCookies(config)
  const auditSink = opts.auditSink ?? createAuditLog(log)
  const audit = auditSink.audit
  const metrics = opts.metrics ?? new GatewayMetrics()
  const oidc = new OidcProvider(config.oidc, log, config.entra)
  const clock = opts.clock ?? Date.now
  const lifetimes: LifetimeSettings = { idleMs: config.session.idleTimeoutMs, maxMs: config.session.maxLifetimeMs }
  const identities = new IdentityBuilder(config, store, log)
  const signin = new SigninFlow({ config, oidc, store, cookies, audit, metrics, identities, clock })
  const refresh = new TokenRefresh({ config, oidc, store, audit, metrics, identities, clock })
  const bearer = config.bearer === undefined ? undefined : new BearerVerifier(config.bearer, identities.mapper, () => oidc.keys())
  /** Identities cut down to the groups the live policy names (upstream.forward_groups: mentioned), per policy. */
  const forwarded = new WeakMap<Policy, WeakMap<Identity, Identity>>()
  /** Identities whose header size was checked: once each, not per request. */
  const sizeChecked = new WeakSet<Identity>()
  const backchannel = new BackchannelLogout({ config, oidc, store, audit })
  const signer = new AssertionSigner(signingKey, config.publicUrl, config.signing.assertionTtlMs)
  // The first secret signs new cookies; previous ones still verify during a rotation.
  const cookieSigner = new CookieSigner([config.session.secret, ...config.session.previousSecrets], VERIFIED_COOKIES_MAX)
  const sessions = new SessionReader(cookieSigner, { store, lifetimes, clock })
  /** WebSockets open through this gateway (limits.max_websockets). */
  let openWebSockets = 0
  const policies = new PolicyStore(config.policies, {
    defaultUpstream: config.upstream.url === undefined ? undefined : { url: config.upstream.url, timeoutMs: config.upstream.timeoutMs },
    bearerConfigured: config.bearer !== undefined,
  }, log, audit)
  metrics.readFrom({ sessionCache: () => store.cacheStats, policy: () => policies.status })
  let closing = false
  const admin = config.admin.listen === undefined
    ? undefined
    : buildAdminServer({
      log,
      metrics,
      // While shutting down the gateway is not ready, so that load balancers stop sending it requests.
      readiness: async () => closing ? { ready: false, body: { status: 'not_ready', checks: { shutdown: 'in_progress' } } } : await readiness(store, oidc, policies),
    })
  let adminAddress: { host: string, port: number } | undefined

  // The trace context is read once, where the request's logger is made, so that every line of the request carries its trace id.
  const traceOf = (raw: IncomingMessage): TraceContext => {
    const traced = raw as IncomingMessage & { [TRACE]?: TraceContext }
    let trace = traced[TRACE]
    if (trace === undefined) {
      trace = traceContext(raw.headers.traceparent, raw.headers.tracestate)
      traced[TRACE] = trace
    }
    return trace
  }

  const { limits } = config
  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Node's own limits on what a client sends, before any of the gateway's code runs.
    http: {
      maxHeaderSize: limits.maxHeaderSize,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the two timeouts every 30 s by default: often enough for the configured values to hold.
      connectionsCheckingInterval: Math.min(5000, Math.max(50, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
    },
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    clientErrorHandler: clientErrorHandler(log),
    genReqId: (req) => {
      const incoming = req.headers['x-request-id']
      return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID()
    },
    logController: new AccessLog({ requestIdLogLabel: 'reqId' }),
    // The trace id is bound where the request's logger is made; that logger becomes a pino child only when it first writes.
    childLoggerFactory (logger, bindings, childOptions, raw) {
      (bindings as Record<string, unknown>).traceId = traceOf(raw as IncomingMessage).traceId
      return new RequestLogger(logger as Logger, bindings, childOptions) as unknown as FastifyBaseLogger
    },
    bodyLimit: limits.maxBodySize,
    trustProxy: false,
    return503OnClosing: true,
    rewriteUrl: rewriteToCanonical,
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, maxParamLength: 500 },
  })

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    // Behind a TLS-terminating load balancer the socket is plain http, but the
    // browser speaks https to the public URL: the cookie plugins must see that.
    if (config.secureCookies) Object.defineProperty(request, 'protocol', { value: 'https' })
    done()
  })

  refuseConnect(app.server, log)
  app.decorate('pages', new PageRenderer(config.branding))
  app.decorateRequest('routed', null)
  app.decorateRequest('routeLabel', UNROUTED)
  app.decorateRequest('decision', 'none')
  app.decorateRequest('trace', { getter (this: FastifyRequest) { return traceOf(this.raw) } })
  app.decorateRequest('clientIp', {
    getter (this: FastifyRequest) {
      const address = this.routed?.clientIp ?? clientAddress(peerAddress(this.socket), this.headers['x-forwarded-for'], config.trustedProxies)
      return address === undefined ? undefined : addressText(address)
    },
  })
  // Every answered request is counted by route, decision and status (a few map lookups, no allocation).
  app.addHook('onResponse', (request, reply, done) => {
    metrics.request(request.routeLabel, request.decision, reply.statusCode)
    done()
  })
  app.decorateRequest('forwardAuth', null)
  app.decorateRequest('activeSession', null)
  app.decorateRequest('bearerToken', null)
  await app.register(fastifyCookie)
  // Routing comes first: the route decides whether the session is read at all (authorize).
  app.addHook('onRequest', routeRequest({ policies, trustedProxies: config.trustedProxies }))

  app.setErrorHandler((error: FastifyError, request, reply) => handleError(error, request, reply))
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new GatehouseError('GH_NOT_FOUND', request.url)))

  // The gateway's own endpoints, in a scope of their own (their form parser never sees proxied bodies).
  // Sessions are created and ended here, by the session plugin; proxied and forward-auth requests
  // read them through the SessionReader (liveIdentity), which neither copies nor hashes them.
  await app.register(async (scope) => {
    await scope.register(fastifySession, {
      secret: cookieSigner,
      cookieName: cookies.session,
      cookie: { ...cookies.attributes, maxAge: config.session.maxLifetimeMs },
      saveUninitialized: false,
      rolling: false,
      store: toFastifySessionStore(store, lifetimes, clock),
    })
    registerGatewayRoutes(scope, { config, signin, oidc, store, signingKey, policies, backchannel, lifetimes, clock })
  })
  // Forward-auth: the same decision for a proxy in front, in a scope that never reads bodies.
  await app.register(async (scope) => {
    registerForwardAuth(scope, {
      publicUrl: config.publicUrl,
      authorize,
      identityHeaders: async (request, routed, decision) => gatewayIdentityHeaders(await identityContext(request, routed, decision)),
    })
  })

  await registerProxy(app, {
    config,
    gatewayCookies: cookies.all,
    onUpstreamResponse: (request, seconds) => { metrics.upstream(request.routeLabel, seconds) },
    guard: async (request, reply) => {
      const routed = request.routed
      if (routed === null) throw new GatehouseError('GH_INTERNAL', 'unrouted request reached the proxy')
      const { route, canonical, clientIp } = routed
      const decision = await authorize(request, reply, routed, () => safeReturnPath(request.url, config.publicUrl))
      if (decision === undefined) return false
      if (decision === 'unauthenticated') {
        if (route.credentials.session) await challenge(request, reply, signin, config.publicUrl, route.credentials.bearer)
        else bearerChallenge(request, reply, undefined)
        return false
      }
      // Node marks a request that takes the connection over (a WebSocket handshake) with `upgrade`.
      if ((request.raw as { upgrade?: boolean }).upgrade === true && !holdWebSocketSlot(request, reply)) return false
      if (route.rewrite !== undefined) {
        const path = rewritePath(canonical.path, route.rewrite.from, route.rewrite.to)
        request.raw.url = canonical.query === '' ? path : `${path}?${canonical.query}`
      }
      const who = await identityContext(request, routed, decision)
      // Written out field by field: a spread here made V8 build the object the slow way on every request.
      request.forward = {
        identity: who.identity,
        assertion: who.assertion,
        headerNames: who.headerNames,
        accessToken: who.accessToken,
        dropAuthorization: request.bearerToken !== null && !route.passAccessToken,
        clientIp: clientIp === undefined ? request.socket.remoteAddress ?? '' : addressText(clientIp),
        publicUrl: config.publicUrl,
        requestId: String(request.id),
        trace: request.trace,
        upstream: route.upstream.url,
        reserved: routed.policy.reservedHeaders,
        timeoutMs: route.timeoutMs ?? config.upstream.timeoutMs,
        sentAt: 0,
      }
      return true
    },
  })

  return {
    app,
    oidc,
    policies,
    store,
    metrics,
    get adminAddress () { return adminAddress },
    gracePeriodMs: config.shutdown.gracePeriodMs,
    cookies,
    async listen () {
      oidc.start()
      await app.listen({ host: config.listen.host, port: config.listen.port })
      if (admin !== undefined && config.admin.listen !== undefined) {
        const { host, port } = config.admin.listen
        try {
          await admin.listen({ host, port })
        } catch (err) {
          (err as Error).message = `admin listener (admin.listen ${host.includes(':') ? `[${host}]` : host}:${port}): ${(err as Error).message}`
          throw err
        }
        adminAddress = boundAddress(admin)
      }
      return boundAddress(app)
    },
    async close () {
      closing = true
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
      // The admin listener stays up until the requests in flight are done: readyz says 503, metrics still count.
      await admin?.close()
      await store.close()
      auditSink.close()
    },
  }

  /**
   * The signed-in user, after the session's lifetimes are checked (an idle
   * or too old session ends here), its tokens refreshed when due, and its
   * last-seen time written back when the touch interval has passed.
   */
  async function liveIdentity (request: FastifyRequest): Promise<Identity | undefined> {
    const session = await sessions.read(request.cookies[cookies.session])
    if (session === undefined || identityOf(session.record) === undefined) return undefined
    request.activeSession = session
    const now = clock()
    const state = sessionState(session.record, now, lifetimes)
    if (state !== 'active') {
      audit('session.expired', { ...auditUser(session.record.identity), ...auditRequest(request), route: request.routed?.route.name, reason: state === 'idle' ? 'idle_timeout' : 'max_lifetime' })
      await session.end()
      return undefined
    }
    const tokens = session.record.tokens
    // 'ended': the refresh has already removed the session from the store (or found it gone).
    if (refresh.isDue(session) && await refresh.refresh(request, session) === 'ended') return undefined
    let changed = false
    if (session.record.groupsStale === true) {
      // A refresh could not read the groups from Graph: read them now, or refuse (never the old or no groups).
      const current = identityOf(session.record)
      if (current === undefined) return undefined
      session.update({ identity: await identities.withFreshGroups(current, session.record.tokens?.accessToken), groupsStale: undefined })
      changed = true
    }
    // Of the requests in flight together, one writes the last-seen time back; a request that took
    // new tokens always does, so that its write (with them) comes after any of the others.
    const tookNewTokens = session.record.tokens !== tokens
    if (needsTouch(session.record, now, lifetimes) && (store.claimTouch(session.id, now, touchIntervalMs(lifetimes)) || tookNewTokens)) {
      session.update({ lastSeenAt: now })
      changed = true
    }
    // A session that ended since it was read (signed out, revoked) is not written back, nor used.
    if (changed && await saveQuietly(request, session) === 'ended') return undefined
    return identityOf(session.record)
  }

  /**
   * Writes back what a request changed in passing (last seen, groups read again). The request
   * goes on if the store does not answer: the session is valid as it is, a missed last-seen time
   * is written a touch interval later, and stale groups are read again on the next request.
   */
  async function saveQuietly (request: FastifyRequest, session: ActiveSession): Promise<'saved' | 'ended' | 'failed'> {
    try {
      return await session.save() ? 'saved' : 'ended'
    } catch (err) {
      request.log.warn({ err: { message: (err as Error).message } }, 'could not write the session back (session store unavailable?); the request goes on')
      return 'failed'
    }
  }

  /** The identity of a valid bearer token, or undefined after answering 401 (never a redirect). */
  async function verifyBearer (request: FastifyRequest, reply: FastifyReply, token: string, route: string): Promise<Identity | undefined> {
    try {
      if (bearer === undefined) throw new GatehouseError('GH_INVALID_TOKEN', 'bearer tokens are not configured (bearer.audiences)')
      return await bearer.verify(token, clock())
    } catch (err) {
      if (!(err instanceof GatehouseError) || err.code !== 'GH_INVALID_TOKEN') throw err
      request.log.info({ route, err: { code: err.code, detail: err.detail } }, 'bearer token refused')
      audit('access.denied', { ...auditRequest(request), route, reason: 'invalid_token', detail: err.detail, credential: 'bearer' })
      bearerChallenge(request, reply, err)
      return undefined
    }
  }

  function forwardedIdentity (policy: Policy, identity: Identity): Identity {
    if (config.upstream.forwardGroups === 'all') return identity
    let byIdentity = forwarded.get(policy)
    if (byIdentity === undefined) forwarded.set(policy, byIdentity = new WeakMap())
    let cut = byIdentity.get(identity)
    if (cut === undefined) {
      cut = Object.freeze({ ...identity, groups: identity.groups.filter(g => policy.mentionedGroups.has(g)) })
      byIdentity.set(identity, cut)
    }
    return cut
  }

  /**
   * The step proxied and forward-auth requests share: WebSocket upgrades on a
   * route that refuses them, the caller (only when the route's decision can
   * depend on it: a bearer token where the route takes one, else the
   * session), and the decision. A forbidden request, or a bad bearer token, is
   * answered here (audit event, access-denied page or 401); the allowed
   * decision, or 'unauthenticated', is for the caller to act on.
   */
  async function authorize (request: FastifyRequest, reply: FastifyReply, routed: RoutedRequest, returnTo: () => string): Promise<Allowed | 'unauthenticated' | undefined> {
    const { route, clientIp } = routed
    if (request.headers.upgrade !== undefined && !route.websockets) {
      request.decision = 'deny'
      audit('access.denied', { ...auditRequest(request), route: route.name, reason: 'websockets_disabled' })
      sendError(request, reply, new GatehouseError('GH_FORBIDDEN', 'websockets disabled'), { json: { route: route.name, reason: 'websockets_disabled' } })
      return undefined
    }
    let identity: Identity | undefined
    let bearerToken: string | undefined
    if (route.needsIdentity) {
      bearerToken = route.credentials.bearer ? bearerTokenOf(request) : undefined
      if (bearerToken !== undefined) {
        identity = await verifyBearer(request, reply, bearerToken, route.name)
        if (identity === undefined) return undefined
        request.bearerToken = bearerToken
      } else if (route.credentials.session) {
        identity = await liveIdentity(request)
      }
    }
    const decision = decide(route, { identity, clientIp })
    if (decision.allow) {
      request.decision = 'allow'
      return decision
    }
    if (decision.kind === 'unauthenticated') {
      request.decision = 'unauthenticated'
      return 'unauthenticated'
    }
    request.decision = 'deny'
    audit('access.denied', { ...auditUser(identity), ...auditRequest(request), route: route.name, reason: decision.reason, rule: decision.rule, ...(bearerToken === undefined ? {} : { credential: 'bearer' }) })
    const detailed = config.pages.denialDetail === 'detailed'
    if (bearerToken !== undefined && Array.isArray(route.allow) && route.allow.some(e => e.scopes !== undefined)) reply.header('www-authenticate', 'Bearer realm="gatehouse", error="insufficient_scope"')
    sendError(request, reply, new GatehouseError('GH_FORBIDDEN', `${route.name}: ${decision.reason}`), {
      title: 'Access denied',
      bodyHtml: accessDeniedBody({ identity, route: route.name, reason: decision.message, requestId: String(request.id), returnTo: returnTo(), detailed }),
      ...(detailed ? { hint: `Route "${route.name}" ${decision.message}.`, json: { route: route.name, reason: decision.reason } } : {}),
    })
    return undefined
  }

  /**
   * Who the upstream is told is asking, for an allowed request: identity
   * (with only the groups policies name, under forward_groups: mentioned),
   * assertion, the route's header names, and the access token if passed.
   */
  async function identityContext (request: FastifyRequest, routed: RoutedRequest, decision: Allowed): Promise<Pick<ForwardContext, 'identity' | 'assertion' | 'headerNames' | 'accessToken'>> {
    const { route, policy } = routed
    const who = decision.identity === undefined ? undefined : forwardedIdentity(policy, decision.identity)
    const assertion = who === undefined ? undefined : await signer.assertion(who, route.audience, clock())
    if (who !== undefined && !sizeChecked.has(who)) {
      sizeChecked.add(who)
      const bytes = identityHeaderBytes(who, assertion)
      if (bytes > IDENTITY_HEADER_WARN_BYTES) request.log.warn({ user: who.id, groups: who.groups.length, bytes }, 'identity headers are large and may exceed upstream header limits; consider upstream.forward_groups: mentioned')
    }
    return {
      identity: who,
      assertion,
      headerNames: route.headers,
      accessToken: route.passAccessToken && who !== undefined ? request.bearerToken ?? request.activeSession?.record.tokens?.accessToken : undefined,
    }
  }

  /**
   * Counts an allowed WebSocket upgrade against limits.max_websockets until
   * its connection closes; beyond the limit the upgrade is refused with 503.
   */
  function holdWebSocketSlot (request: FastifyRequest, reply: FastifyReply): boolean {
    if (openWebSockets >= limits.maxWebSockets) {
      request.log.warn({ open: openWebSockets, limit: limits.maxWebSockets }, 'WebSocket refused: limits.max_websockets reached')
      sendError(request, reply, new GatehouseError('GH_TOO_MANY_WEBSOCKETS', `${openWebSockets} open`), { headers: { 'retry-after': '5' } })
      return false
    }
    openWebSockets++
    request.raw.socket.once('close', () => {
      openWebSockets--
      request.log.debug({ open: openWebSockets }, 'WebSocket closed')
    })
    return true
  }

  function handleError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    if (error instanceof SigninError) {
      request.log.warn({ err: { code: error.code, detail: error.detail } }, 'sign-in failed')
      const retry = loginPath(error.returnTo)
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
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      request.log.info({ err: { code: error.code }, limit: limits.maxBodySize }, 'request body over limits.max_body_size')
      return sendError(request, reply, new GatehouseError('GH_BODY_TOO_LARGE', error.message))
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

function boundAddress (server: FastifyInstance): { host: string, port: number } {
  const address = server.server.address()
  if (address === null || typeof address === 'string') throw new GatehouseError('GH_INTERNAL', 'server has no TCP address')
  return { host: address.address, port: address.port }
}

/** Not signed in: a browser navigation goes to the IdP; anything else gets 401 JSON with the sign-in URL. */
async function challenge (request: FastifyRequest, reply: FastifyReply, signin: SigninFlow, publicUrl: string, bearerToo: boolean): Promise<void> {
  const returnTo = safeReturnPath(request.url, publicUrl)
  if (isNavigation(request) && (request.method === 'GET' || request.method === 'HEAD')) {
    await signin.redirectToIdp(request, reply, returnTo)
    return
  }
  const loginUrl = `${publicUrl}${loginPath(returnTo)}`
  const session = `Session realm="gatehouse", login_url="${loginUrl}"`
  sendError(request, reply, new GatehouseError('GH_UNAUTHENTICATED'), {
    headers: { 'www-authenticate': bearerToo ? ['Bearer realm="gatehouse"', session] : session },
    json: { login_url: loginUrl },
  })
}

/** The token in `Authorization: Bearer`, '' when that header is malformed, undefined when there is none (or another scheme). */
function bearerTokenOf (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined || !/^bearer(\s|$)/i.test(header)) return undefined
  return BEARER.exec(header)?.[1] ?? ''
}

/** 401 for an API caller (RFC 6750): no token, or one that is not valid. */
function bearerChallenge (request: FastifyRequest, reply: FastifyReply, err: GatehouseError | undefined): void {
  const challenge = err === undefined ? 'Bearer realm="gatehouse"' : 'Bearer realm="gatehouse", error="invalid_token", error_description="The access token is not valid"'
  sendError(request, reply, err ?? new GatehouseError('GH_UNAUTHENTICATED', 'a bearer token is required'), { headers: { 'www-authenticate': challenge }, json: {} })
}
