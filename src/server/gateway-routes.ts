import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GatehouseError } from '../errors.js'
import { auditRequest } from '../log/audit.js'
import type { OidcProvider } from '../signin/oidc-provider.js'
import { stepUpFromQuery } from '../signin/step-up-params.js'
import { safeReturnPath } from '../signin/return-to.js'
import { consentFromQuery } from '../signin/signin-consent.js'
import type { Policy } from '../policy/load-policy.js'
import type { SigninFlow } from '../signin/signin-flow.js'
import type { SigningKey } from '../sign/keys.js'
import type { SessionStore } from '../session/session-store.js'
import type { BackchannelLogout } from '../signin/backchannel-logout.js'
import { identityFromSession } from '../identify/from-session.js'
import { escapeHtml } from './html.js'
import { isNavigation, pagesOf, sendError, setPageHeaders } from './respond.js'
import { meBody } from './pages.js'
import type { GatewayConfig } from '../config/types.js'
import { decide } from '../authorize/decision.js'
import { clientAddress } from '../identify/client-address.js'
import { sessionState, storeTtlMs, type LifetimeSettings } from '../session/lifetime.js'
import { BACKCHANNEL_LOGOUT_PATH, CALLBACK_PATH, GATEHOUSE_PREFIX, HEALTHZ_PATH, JWKS_PATH, LOGIN_PATH, LOGOUT_PATH, ME_PATH, READYZ_PATH, SIGNED_OUT_PATH, loginUrl } from '../endpoints.js'
import type { PolicyStore } from '../policy/policy-store.js'
import { readiness } from './readiness.js'

export interface GatewayRoutesDeps {
  config: GatewayConfig
  lifetimes: LifetimeSettings
  clock: () => number
  signin: SigninFlow
  oidc: OidcProvider
  store: SessionStore
  signingKey: SigningKey
  policies: PolicyStore
  backchannel: BackchannelLogout
}

/** The gateway's own endpoints under /.gatehouse/. Nothing under this prefix is ever proxied. */
export function registerGatewayRoutes (app: FastifyInstance, deps: GatewayRoutesDeps): void {
  const { config, signin, oidc, store, signingKey, policies, backchannel, lifetimes, clock } = deps
  const publicUrl = config.publicUrl

  // Browser forms post url-encoded bodies; the gateway's own forms carry nothing it reads.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => { done(null, body) })

  app.get(HEALTHZ_PATH, async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    return { status: 'ok' }
  })

  app.get(READYZ_PATH, async (_request, reply) => {
    const { ready, body } = await readiness(store, oidc, policies)
    reply.header('cache-control', 'no-store').code(ready ? 200 : 503)
    return body
  })

  app.get(JWKS_PATH, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return { keys: [signingKey.publicJwk] }
  })

  app.get(LOGIN_PATH, async (request, reply) => {
    const query = request.query as Record<string, unknown>
    // "Sign in as someone else" asks the IdP to offer an account choice.
    const prompt = query.prompt === 'select_account' || query.prompt === 'login' ? query.prompt : undefined
    // Incremental consent for a downstream API (the login_url of GH_DOWNSTREAM_CONSENT_REQUIRED): only what some route asks for.
    const consent = consentFromQuery(query, downstreamConsent(policies.current))
    // A step-up's login_url names what to ask for (mfa, acr, auth_context, max_age); the session is kept.
    const stepUp = prompt === undefined ? stepUpFromQuery(request.query as Record<string, string | string[] | undefined>) : undefined
    return await signin.redirectToIdp(request, reply, safeReturnPath(query.return, publicUrl), prompt, { consent, stepUp })
  })

  // Who am I: the identity, the session's times, and the routes this user may open (HTML or JSON).
  app.get(ME_PATH, async (request, reply) => {
    const identity = identityFromSession(request)
    const now = clock()
    if (identity === undefined || sessionState(request.session, now, lifetimes) !== 'active') {
      if (isNavigation(request)) return await signin.redirectToIdp(request, reply, ME_PATH)
      return sendError(request, reply, new GatehouseError('GH_UNAUTHENTICATED'), { json: { login_url: loginUrl(publicUrl, ME_PATH) } })
    }
    const clientIp = clientAddress(request.socket.remoteAddress, request.headers['x-forwarded-for'], config.trustedProxies)
    const routes = policies.current.routes
      .filter(route => decide(route, { identity, clientIp }).allow)
      .map(route => ({ name: route.name, match: `${route.methods === undefined ? '' : `${[...route.methods].join(',')} `}${route.hosts === undefined ? '' : `//${route.hosts.map(h => h.text).join('|')}`}${route.path.text}` }))
    const createdAt = request.session.createdAt
    const expiresAt = (createdAt ?? now) + lifetimes.maxMs
    setPageHeaders(reply, signin.idpOrigins())
    if (!isNavigation(request)) {
      return {
        user: identity.id, name: identity.name, email: identity.email, groups: identity.groups, roles: identity.roles, amr: identity.amr,
        session: { signed_in_at: createdAt === undefined ? undefined : new Date(createdAt).toISOString(), idle_expires_at: new Date(now + storeTtlMs(request.session, now, lifetimes)).toISOString(), expires_at: new Date(expiresAt).toISOString() },
        routes,
      }
    }
    return reply.type('text/html; charset=utf-8').send(pagesOf(request).render({ title: 'Who am I', body: meBody({ identity, createdAt, expiresAt, routes, idleMinutes: Math.round(lifetimes.idleMs / 60_000) }) }))
  })

  app.get(CALLBACK_PATH, async (request, reply) => await signin.callback(request, reply))

  app.get(LOGOUT_PATH, async (request, reply) => {
    setPageHeaders(reply, signin.idpOrigins())
    const who = identityFromSession(request)
    const body = `<h1>Sign out?</h1>
<p>${who === undefined ? 'You are not signed in to this gateway.' : `You are signed in as <strong>${escapeHtml(who.email ?? who.name ?? who.id)}</strong>.`}</p>
<form method="post" action="${LOGOUT_PATH}">
<div class="actions"><button type="submit">Sign out</button><a class="button secondary" href="/">Cancel</a></div>
</form>`
    return reply.type('text/html; charset=utf-8').send(pagesOf(request).render({ title: 'Sign out', body }))
  })

  app.post(LOGOUT_PATH, async (request, reply) => {
    assertSameOrigin(request, publicUrl)
    const next = await signin.logout(request, reply)
    reply.header('cache-control', 'no-store')
    return reply.redirect(next, 303)
  })

  // OpenID Connect Back-Channel Logout: the IdP posts logout_token here (no cookie, no browser).
  app.post(BACKCHANNEL_LOGOUT_PATH, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const body = typeof request.body === 'string' ? new URLSearchParams(request.body) : new URLSearchParams()
    const result = await backchannel.handle(body.get('logout_token') ?? undefined, auditRequest(request))
    if (result.ok) return reply.code(200).send({ sessions_ended: result.sessions })
    request.log.warn({ reason: result.error }, 'back-channel logout refused')
    return reply.code(400).send({ error: 'invalid_request', error_description: result.error })
  })

  app.get(SIGNED_OUT_PATH, async (_request, reply) => {
    setPageHeaders(reply)
    const body = `<h1>You are signed out</h1>
<p>Your session on this gateway has ended.</p>
<div class="actions"><a class="button" href="${LOGIN_PATH}">Sign in again</a></div>`
    return reply.type('text/html; charset=utf-8').send(pagesOf(_request).render({ title: 'Signed out', body }))
  })

  // The prefix is reserved: unknown gateway paths are 404 here, never proxied.
  app.all(`${GATEHOUSE_PREFIX}/*`, async (request, reply) => sendError(request, reply, new GatehouseError('GH_NOT_FOUND', request.url)))
  app.all(GATEHOUSE_PREFIX, async (request, reply) => sendError(request, reply, new GatehouseError('GH_NOT_FOUND', request.url)))
}

/** The scopes and resources the routes' downstream tokens ask for, once per (frozen) policy. */
function downstreamConsent (policy: Policy): { scopes: ReadonlySet<string>, resources: ReadonlySet<string> } {
  let known = consentOf.get(policy)
  if (known === undefined) {
    const options = policy.routes.flatMap(r => r.downstreamToken === undefined ? [] : [r.downstreamToken])
    known = { scopes: new Set(options.flatMap(o => o.scopes)), resources: new Set(options.flatMap(o => o.resource === undefined ? [] : [o.resource])) }
    consentOf.set(policy, known)
  }
  return known
}
const consentOf = new WeakMap<Policy, { scopes: ReadonlySet<string>, resources: ReadonlySet<string> }>()

/**
 * State-changing gateway endpoints refuse cross-site requests: browsers send
 * Sec-Fetch-Site and Origin on POST, and either one naming another site is refused.
 */
function assertSameOrigin (request: FastifyRequest, publicUrl: string): void {
  const site = request.headers['sec-fetch-site']
  if (typeof site === 'string') {
    // Browsers that send Fetch Metadata say it directly (and send Origin: null under some referrer policies).
    if (site !== 'same-origin' && site !== 'none') throw new GatehouseError('GH_CROSS_SITE', `sec-fetch-site: ${site}`)
    return
  }
  const origin = request.headers.origin
  if (typeof origin === 'string' && origin !== publicUrl) {
    throw new GatehouseError('GH_CROSS_SITE', `origin: ${origin}`)
  }
}
