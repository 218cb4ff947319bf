import type { FastifyError, FastifyInstance } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import type { GatewayConfig } from '../config/types.js'
import { GatehouseError } from '../errors.js'
import { BearerVerifier } from '../identify/bearer-token.js'
import { createAuditLog, type AuditSink } from '../log/audit.js'
import type { Logger } from '../log/logger.js'
import { GatewayMetrics } from '../metrics/gateway-metrics.js'
import { UpstreamIdentity } from '../pipeline/upstream-identity.js'
import { errorAnswer } from '../pipeline/error-answer.js'
import { registerProxy } from '../proxy/register-proxy.js'
import { OpenWebSockets } from '../proxy/open-websockets.js'
import { WebSocketSlots } from '../proxy/websocket-slots.js'
import { PolicyStore } from '../policy/policy-store.js'
import { CookieSigner } from '../session/cookie-signer.js'
import { toFastifySessionStore } from '../session/fastify-store.js'
import { SessionReader } from '../session/active-session.js'
import { SessionEnder } from '../session/session-ender.js'
import type { SessionStore } from '../session/session-store.js'
import type { LifetimeSettings } from '../session/lifetime.js'
import '../session/session-data.js'
import { AssertionSigner } from '../sign/assertion.js'
import { SetVerifier } from '../signals/set-verifier.js'
import { DirectoryWatch } from '../signals/directory-watch.js'
import { SsfReceiver } from '../signals/ssf-receiver.js'
import type { SigningKey } from '../sign/keys.js'
import { BackchannelLogout } from '../signin/backchannel-logout.js'
import { gatewayCookies, type GatewayCookies } from '../signin/cookies.js'
import { FrontchannelLogout } from '../signin/frontchannel-logout.js'
import { IdentityBuilder } from '../signin/identity-builder.js'
import { OidcProvider } from '../signin/oidc-provider.js'
import { AppToken } from '../signin/app-token.js'
import { GraphDelta } from '../entra/graph-delta.js'
import { SigninFlow } from '../signin/signin-flow.js'
import { TokenRefresh } from '../signin/token-refresh.js'
import { buildAdminServer } from './admin.js'
import type { CertificateReload } from '../tls/certificate-reload.js'
import type { TlsMaterial } from '../tls/tls-files.js'
import { readTlsMaterial } from './public-listener.js'
import { tlsListener } from './tls-listener.js'
import { createApp } from './create-app.js'
import { registerForwardAuth } from './forward-auth.js'
import { registerFrontchannelLogout } from './frontchannel-logout.js'
import { registerSsfEndpoint } from './ssf-endpoint.js'
import { registerGatewayRoutes } from './gateway-routes.js'
import { closeEndedWebSockets } from './close-ended-websockets.js'
import { readiness, type Readiness } from './readiness.js'
import { sendError } from './respond.js'
import { guardProxied, upstreamChallengeAnswer, type RequestSteps } from './request-steps.js'
import { DownstreamTokens } from '../signin/downstream-tokens.js'
import { routeRequest } from './route-request.js'
import { sendAnswer } from './send-answer.js'
import { policyGate } from '../policy-test/guard.js'

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
  /** What /readyz says: not ready once closing. */
  readiness (): Promise<Readiness>
  /** The Entra directory watch, when entra.directory_watch is enabled. */
  directoryWatch: DirectoryWatch | undefined
  /** The admin listener's bound address once listening; undefined when admin.listen is off. */
  adminAddress: { host: string, port: number } | undefined
  /** With tls.cert_file: the certificate in service and its reload when the files change. */
  certificates: CertificateReload | undefined
  /** The redirect listener's bound address once listening (tls.redirect_listen); undefined when off. */
  redirectAddress: { host: string, port: number } | undefined
  /** How long a shutdown waits for requests in flight. */
  gracePeriodMs: number
  cookies: GatewayCookies
  /** Starts discovery and listens; resolves with the bound address. */
  listen (): Promise<{ host: string, port: number }>
  close (): Promise<void>
}

/** How long the directory watch waits for the session store before its first poll. */
const STORE_WAIT_MS = 30_000

/** Session cookies whose signature was verified, remembered (about 200 bytes each). */
const VERIFIED_COOKIES_MAX = 10_000

/** Everything a gateway is made of, built once at start-up. */
interface GatewayParts {
  readonly config: GatewayConfig
  readonly log: Logger
  readonly store: SessionStore
  readonly signingKey: SigningKey
  readonly clock: () => number
  readonly metrics: GatewayMetrics
  readonly auditSink: AuditSink
  readonly cookies: GatewayCookies
  readonly cookieSigner: CookieSigner
  readonly lifetimes: LifetimeSettings
  readonly oidc: OidcProvider
  readonly policies: PolicyStore
  readonly backchannel: BackchannelLogout
  /** How every revocation ends sessions (IdP logouts, security events, the directory, refusals). */
  readonly ender: SessionEnder
  readonly directoryWatch: DirectoryWatch | undefined
  readonly steps: RequestSteps
}

/**
 * Assembles the gateway: the Fastify instance, the routing step, the
 * gateway's own endpoints, forward-auth and the proxy, each handed the
 * pipeline's steps (src/pipeline/) it runs.
 */
export async function buildGateway (opts: GatewayOptions): Promise<Gateway> {
  const parts = gatewayParts(opts)
  const tls = parts.config.tls === undefined ? undefined : readTlsMaterial(parts.config.tls)
  const app = createApp(parts.config, parts.log, parts.metrics, tls)
  await registerEndpoints(app, parts)
  return gatewayHandle(app, parts, tls)
}

function gatewayParts (opts: GatewayOptions): GatewayParts {
  const { config, log, store, signingKey } = opts
  const clock = opts.clock ?? Date.now
  const metrics = opts.metrics ?? new GatewayMetrics()
  const auditSink = opts.auditSink ?? createAuditLog(log)
  const audit = auditSink.audit
  const cookies = gatewayCookies(config)
  const oidc = new OidcProvider(config.oidc, log, config.entra)
  const lifetimes: LifetimeSettings = { idleMs: config.session.idleTimeoutMs, maxMs: config.session.maxLifetimeMs }
  const identities = new IdentityBuilder(config, store, log)
  const signin = new SigninFlow({ config, oidc, store, cookies, audit, metrics, identities, clock })
  const ender = new SessionEnder({ store, audit, metrics })
  const refresh = new TokenRefresh({ config, oidc, store, audit, ender, metrics, identities, clock })
  // The first secret signs new cookies; previous ones still verify during a rotation.
  const cookieSigner = new CookieSigner([config.session.secret, ...config.session.previousSecrets], VERIFIED_COOKIES_MAX)
  const policies = new PolicyStore(config.policies, {
    defaultUpstream: config.upstream.url === undefined ? undefined : { url: config.upstream.url, timeoutMs: config.upstream.timeoutMs },
    bearerConfigured: config.bearer !== undefined,
    provider: config.oidc.provider,
  }, log, audit, policyGate(config.policy.tests))
  metrics.readFrom({ sessionCache: () => store.cacheStats, policy: () => policies.status })
  const openWebSockets = new OpenWebSockets()
  closeEndedWebSockets(store, openWebSockets, log)
  const steps: RequestSteps = {
    config,
    signin,
    downstream: new DownstreamTokens({ config, oidc, store, clock }),
    sessionCookie: cookies.session,
    webSockets: new WebSocketSlots(config.limits.maxWebSockets),
    openWebSockets,
    upstreamIdentity: new UpstreamIdentity({ signer: new AssertionSigner(signingKey, config.publicUrl, config.signing.assertionTtlMs), forwardGroups: config.upstream.forwardGroups, clock }),
    authorize: {
      audit,
      detailedDenials: config.pages.denialDetail === 'detailed',
      decisions: config.log.decisions,
      publicOrigin: config.publicUrl,
      provider: { oidc: config.oidc, entra: config.entra },
      bearer: config.bearer === undefined ? undefined : new BearerVerifier(config.bearer, identities.mapper, () => oidc.keys()),
      live: { sessions: new SessionReader(cookieSigner, { store, lifetimes, clock }), store, refresh, identities, lifetimes, audit, clock },
    },
  }
  const backchannel = new BackchannelLogout({ config, oidc, store, audit, ender })
  const directoryWatch = directoryWatchOf({ config, oidc, store, ender, policies, lifetimes, clock, metrics, log })
  return { config, log, store, signingKey, clock, metrics, auditSink, cookies, cookieSigner, lifetimes, oidc, policies, backchannel, ender, directoryWatch, steps }
}

/** The Entra directory watch, reading Graph with the gateway's own token for Graph (client credentials). */
function directoryWatchOf (parts: Pick<GatewayParts, 'config' | 'oidc' | 'store' | 'ender' | 'policies' | 'lifetimes' | 'clock' | 'metrics' | 'log'>): DirectoryWatch | undefined {
  const entra = parts.config.entra
  if (entra?.directoryWatch === undefined) return undefined
  const token = new AppToken(parts.oidc, `${new URL(entra.graphUrl).origin}/.default`)
  return new DirectoryWatch({
    entra,
    watch: entra.directoryWatch,
    graph: new GraphDelta(entra, async () => await token.get()),
    store: parts.store,
    ender: parts.ender,
    mentionedGroups: () => parts.policies.current.mentionedGroups,
    lifetimes: parts.lifetimes,
    clock: parts.clock,
    metrics: parts.metrics,
    log: parts.log,
  })
}

/** Routing, then the gateway's own endpoints, forward-auth, and the proxy for everything else. */
async function registerEndpoints (app: FastifyInstance, parts: GatewayParts): Promise<void> {
  const { config, steps, cookies, store, lifetimes, clock, oidc, policies, signingKey, backchannel } = parts
  await app.register(fastifyCookie)
  // Routing comes first: the route decides whether the session is read at all (authorize).
  app.addHook('onRequest', routeRequest({ policies, trustedProxies: config.trustedProxies }))
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const { answer, log } = errorAnswer(error, config.publicUrl, config.limits.maxBodySize)
    request.log[log.level](log.fields, log.msg)
    return await sendAnswer(request, reply, answer, steps.signin)
  })
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new GatehouseError('GH_NOT_FOUND', request.url)))

  // The gateway's own endpoints, in a scope of their own (their form parser never sees proxied bodies).
  // Sessions are created and ended here, by the session plugin; proxied and forward-auth requests
  // read them through the pipeline (liveSession), which neither copies nor hashes them.
  await app.register(async (scope) => {
    await scope.register(fastifySession, {
      secret: parts.cookieSigner,
      cookieName: cookies.session,
      cookie: { ...cookies.attributes, maxAge: config.session.maxLifetimeMs },
      saveUninitialized: false,
      rolling: false,
      store: toFastifySessionStore(store, lifetimes, clock),
    })
    registerGatewayRoutes(scope, { config, signin: steps.signin, oidc, store, signingKey, policies, backchannel, lifetimes, clock })
  })
  await app.register(async (scope) => { registerFrontchannelLogout(scope, new FrontchannelLogout({ oidc, ender: parts.ender })) })
  await app.register(async (scope) => { registerSsfEndpoint(scope, ssfReceiver(parts)) })
  // Forward-auth: the same decision for a proxy in front, in a scope that never reads bodies.
  await app.register(async (scope) => { registerForwardAuth(scope, steps) })
  await registerProxy(app, {
    config,
    gatewayCookies: cookies.all,
    guard: async (request, reply) => await guardProxied(request, reply, steps),
    upstreamChallenge: async (request, header) => await upstreamChallengeAnswer(request, header, steps),
    refuse: (request, reply, error, headers) => { sendError(request, reply, error, headers === undefined ? {} : { headers }) },
    onUpstreamResponse: (request, seconds) => { parts.metrics.upstream(request.routeLabel, seconds) },
  })
}

/** The Shared Signals receiver: the configured transmitters, ending sessions the one way. */
function ssfReceiver (parts: GatewayParts): SsfReceiver {
  const { config, oidc, store, ender, log } = parts
  return new SsfReceiver({
    verifier: new SetVerifier(config.ssf.transmitters),
    backend: store.backend,
    ender,
    idpIssuer: () => oidc.isReady ? oidc.keys().issuer : config.oidc.issuer,
    log,
  })
}

/** Listening and closing: the public listener, the admin listener, and what the gateway holds open. */
function gatewayHandle (app: FastifyInstance, parts: GatewayParts, tls: TlsMaterial | undefined): Gateway {
  const { config, oidc, policies, store, metrics } = parts
  let closing = false
  let adminAddress: { host: string, port: number } | undefined
  const https = tlsListener(app, config, tls, parts.log)
  const admin = config.admin.listen === undefined
    ? undefined
    : buildAdminServer({
      log: parts.log,
      scrape: async () => await metrics.scrape(),
      readiness: async () => await ready(),
    })
  // While shutting down the gateway is not ready, so that load balancers stop sending it requests.
  const ready = async (): Promise<Readiness> => closing ? { ready: false, body: { status: 'not_ready', checks: { shutdown: 'in_progress' } } } : await readiness(store, oidc, policies)
  return {
    app,
    oidc,
    policies,
    store,
    metrics,
    readiness: ready,
    directoryWatch: parts.directoryWatch,
    get adminAddress () { return adminAddress },
    certificates: https.certificates,
    get redirectAddress () { return https.redirectAddress },
    gracePeriodMs: config.shutdown.gracePeriodMs,
    cookies: parts.cookies,
    async listen () {
      oidc.start()
      const watch = parts.directoryWatch
      // The first poll needs the IdP's token endpoint and the session store (a round without them only fails and waits an interval).
      if (watch !== undefined) void Promise.all([oidc.whenReady(), store.backend.connected(STORE_WAIT_MS).catch(() => undefined)]).then(() => { watch.start() })
      await app.listen({ host: config.listen.host, port: config.listen.port })
      await https.listen()
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
      // No new poll starts; one under way finishes before the session store closes.
      const watchStopped = parts.directoryWatch?.stop()
      policies.close()
      // Keep-alive connections would hold the close open until they time out:
      // each one is closed as soon as its last request has been answered.
      const idle = setInterval(() => { app.server.closeIdleConnections() }, 50)
      https.closeSessions()
      idle.unref()
      try {
        await app.close()
      } finally {
        clearInterval(idle)
      }
      await https.close()
      // The admin listener stays up until the requests in flight are done: readyz says 503, metrics still count.
      await admin?.close()
      await watchStopped
      await store.close()
      parts.auditSink.close()
    },
  }
}

function boundAddress (server: FastifyInstance): { host: string, port: number } {
  const address = server.server.address()
  if (address === null || typeof address === 'string') throw new GatehouseError('GH_INTERNAL', 'server has no TCP address')
  return { host: address.address, port: address.port }
}
