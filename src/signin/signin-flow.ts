import type { FastifyReply, FastifyRequest } from 'fastify'
import * as client from 'openid-client'
import { needKey, type StepUpNeed } from '../authorize/step-up.js'
import type { GatewayConfig } from '../config/types.js'
import { stringList } from '../identify/claim-values.js'
import { identityFromSession } from '../identify/from-session.js'
import type { Identity } from '../identify/identity.js'
import { GatehouseError, SigninError } from '../errors.js'
import { auditRequest, auditUser, type AuditLog } from '../log/audit.js'
import type { GatewayMetrics } from '../metrics/gateway-metrics.js'
import type { SessionStore } from '../session/session-store.js'
import { SessionTokens } from '../session/session-tokens.js'
import type { GatewayCookies } from './cookies.js'
import type { IdentityBuilder } from './identity-builder.js'
import { idTokenProblem } from './id-token-checks.js'
import type { OidcProvider } from './oidc-provider.js'
import { scopeWithConsent, type SigninConsent } from './signin-consent.js'
import { signinPrompt, type SigninPrompt } from './signin-prompt.js'
import { SIGNIN_TTL_MS, SigninStateCodec, type PendingSignin } from './signin-state.js'
import { needMet, stepUpParams } from './step-up-params.js'
import { CALLBACK_PATH, SIGNED_OUT_PATH } from '../endpoints.js'

export interface SigninFlowDeps {
  config: GatewayConfig
  oidc: OidcProvider
  store: SessionStore
  cookies: GatewayCookies
  audit: AuditLog
  identities: IdentityBuilder
  metrics: GatewayMetrics
  clock: () => number
}

/** The OIDC authorization code flow with PKCE: redirect out, callback in, sign-out. */
export class SigninFlow {
  readonly #deps: SigninFlowDeps
  readonly #codec: SigninStateCodec
  readonly #redirectUri: string

  constructor (deps: SigninFlowDeps) {
    this.#deps = deps
    this.#codec = new SigninStateCodec(deps.config.session.secret, deps.config.session.previousSecrets)
    this.#redirectUri = `${deps.config.publicUrl}${CALLBACK_PATH}`
  }

  /**
   * Sends the browser to the IdP; it comes back to `returnTo` (a same-origin path, already checked).
   * With `consent`, the IdP is also asked for a downstream API's scopes (incremental consent).
   * With `stepUp`, the signed-in user is asked for more (MFA, an acr, an authentication context, a
   * recent sign-in) and the callback updates their session instead of starting another.
   */
  async redirectToIdp (request: FastifyRequest, reply: FastifyReply, returnTo: string, wanted?: SigninPrompt, more: { consent?: SigninConsent | undefined, stepUp?: StepUpNeed | undefined } = {}): Promise<FastifyReply> {
    const { consent, stepUp } = more
    const configuration = this.#deps.oidc.configuration()
    const extra = stepUp === undefined ? {} : stepUpParams(stepUp, this.#deps.config)
    const prompt = signinPrompt(wanted ?? (extra.prompt === 'login' ? 'login' : undefined), configuration.serverMetadata().prompt_values_supported)
    const { cookies } = this.#deps
    const existing = request.cookies[cookies.signin]
    const binding = SigninStateCodec.isBinding(existing) ? existing : SigninStateCodec.newBinding()
    const { state, pending } = await this.#codec.create(binding, returnTo, Date.now(), { consentScopes: consent?.scopes, stepUp })
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.#redirectUri,
      scope: scopeWithConsent(this.#deps.config.oidc.scopes, consent),
      ...(consent?.resource === undefined ? {} : { resource: consent.resource }),
      ...(consent?.claims === undefined ? {} : { claims: consent.claims }),
      response_type: 'code',
      state,
      nonce: pending.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      ...extra,
      ...(prompt === undefined ? {} : { prompt }),
    })
    // One cookie shared by all tabs; each tab's state is self-contained.
    reply.setCookie(cookies.signin, binding, { ...cookies.attributes, maxAge: SIGNIN_TTL_MS / 1000 })
    reply.header('cache-control', 'no-store')
    return reply.redirect(url.href, 302)
  }

  /**
   * Handles /.gatehouse/callback: validates state and tokens, creates a fresh
   * session, lands on the first URL asked for. Every outcome is counted, and
   * every failure audited (with its error code when it is not a sign-in error
   * as such, e.g. the session store not answering).
   */
  async callback (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { metrics, audit } = this.#deps
    try {
      const answered = await this.#callback(request, reply)
      metrics.signin()
      return answered
    } catch (err) {
      const code = err instanceof GatehouseError ? err.code : 'GH_INTERNAL'
      metrics.signinFailure(code)
      if (!(err instanceof SigninError)) audit('signin.failure', { ...auditRequest(request), reason: code, detail: err instanceof GatehouseError ? err.detail : undefined })
      throw err
    }
  }

  async #callback (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { config, store, audit, cookies } = this.#deps
    const currentUrl = new URL(`${config.publicUrl}${request.url}`)
    const params = currentUrl.searchParams
    const state = params.get('state')
    const at = auditRequest(request)
    // The reason is the stable error code; the detail says what exactly (never a code, state or token).
    const fail = (code: SigninError['code'], detail: string): void => { audit('signin.failure', { ...at, reason: code, detail }) }

    if (params.has('error')) {
      // The IdP refused (user cancelled, consent required, not assigned to the app...).
      let returnTo = '/'
      let ours = false
      if (state !== null) {
        try {
          returnTo = (await this.#codec.open(state, request.cookies[cookies.signin])).returnTo
          ours = true
        } catch { /* keep "/" */ }
      }
      const raw = params.get('error') ?? 'unknown'
      const idpError = /^[A-Za-z0-9_.-]{1,64}$/.test(raw) ? raw : 'invalid_error_code'
      fail('GH_SIGNIN_IDP_ERROR', `idp: ${idpError}`)
      // The IdP's words are shown only for a sign-in this browser started: anyone can write a link with ?error_description=...
      const description = ours ? params.get('error_description')?.slice(0, 300) ?? undefined : undefined
      throw new SigninError('GH_SIGNIN_IDP_ERROR', ours ? idpError : 'unknown', description, returnTo)
    }
    if (state === null || !params.has('code')) {
      fail('GH_SIGNIN_STATE_INVALID', 'callback without code or state')
      throw new SigninError('GH_SIGNIN_STATE_INVALID', 'callback without code or state', undefined, '/')
    }

    let pending
    try {
      pending = await this.#codec.open(state, request.cookies[cookies.signin])
    } catch (err) {
      fail('GH_SIGNIN_STATE_INVALID', (err as GatehouseError).detail ?? 'bad state')
      throw new SigninError('GH_SIGNIN_STATE_INVALID', (err as GatehouseError).detail, undefined, '/', err)
    }
    if (!await store.backend.claimOnce(`signin:${pending.id}`, pending.expiresAt - Date.now())) {
      fail('GH_SIGNIN_STATE_REPLAYED', 'callback replayed')
      throw new SigninError('GH_SIGNIN_STATE_REPLAYED', 'callback replayed', undefined, pending.returnTo)
    }

    const configuration = this.#deps.oidc.configuration()
    // What the browser brought is refused with 400, apart from a bad or missing answer of the token endpoint (502).
    const issProblem = callbackIssuerProblem(params, configuration.serverMetadata())
    if (issProblem !== undefined) {
      fail('GH_SIGNIN_CALLBACK_REFUSED', issProblem)
      throw new SigninError('GH_SIGNIN_CALLBACK_REFUSED', issProblem, undefined, pending.returnTo)
    }
    let tokens
    try {
      tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      })
    } catch (err) {
      const detail = describeOidcError(err)
      // invalid_grant: the token endpoint answered properly that the code the browser brought is not good (spent, another client's, another sign-in's).
      const code = err instanceof client.ResponseBodyError && err.error === 'invalid_grant' ? 'GH_SIGNIN_CALLBACK_REFUSED' : 'GH_SIGNIN_FAILED'
      fail(code, detail)
      throw new SigninError(code, detail, undefined, pending.returnTo, err)
    }
    const claims = tokens.claims()
    if (claims === undefined) {
      fail('GH_SIGNIN_FAILED', 'no ID token')
      throw new SigninError('GH_SIGNIN_FAILED', 'token response without ID token', undefined, pending.returnTo)
    }
    const problem = idTokenProblem(claims, config.oidc.clientId, Date.now())
    if (problem !== undefined) {
      fail('GH_SIGNIN_FAILED', problem)
      throw new SigninError('GH_SIGNIN_FAILED', problem, undefined, pending.returnTo)
    }
    let built
    try {
      built = await this.#deps.identities.fromClaims(claims, tokens.access_token, { fresh: false })
    } catch (err) {
      if (!(err instanceof GatehouseError) || (err.code !== 'GH_TENANT_REFUSED' && err.code !== 'GH_GROUPS_UNAVAILABLE')) throw err
      fail(err.code, err.detail ?? err.code)
      throw new SigninError(err.code, err.detail, undefined, pending.returnTo, err)
    }
    const { identity } = built
    const current = identityFromSession(request)
    if (pending.stepUp !== undefined && current !== undefined) {
      await this.#completeStepUp(request, reply, pending, pending.stepUp, current, identity, tokens, claims)
      reply.header('cache-control', 'no-store')
      return reply.redirect(`${config.publicUrl}${pending.returnTo}`, 303)
    }

    // A new session id at every sign-in: no fixation.
    await request.session.regenerate()
    const now = this.#deps.clock()
    request.session.identity = identity
    if (built.groupsFromGraph) request.session.groupsFromGraph = true
    request.session.createdAt = now
    request.session.lastSeenAt = now
    if (pending.consentScopes !== undefined) request.session.consented = pending.consentScopes
    request.session.tokens = new SessionTokens({
      idToken: tokens.id_token,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: typeof tokens.expires_in === 'number' ? now + tokens.expires_in * 1000 : undefined,
    })
    audit('signin.success', { ...auditUser(identity), ...at, email: identity.email })
    reply.header('cache-control', 'no-store')
    return reply.redirect(`${config.publicUrl}${pending.returnTo}`, 303)
  }

  /**
   * The end of a step-up: the same user (same iss and sub) signed in again.
   * The session keeps its start and gets a new id (its privileges changed:
   * an id seen before the step-up must not carry the stronger sign-in), the
   * new sign-in's identity (amr, acr, acrs, auth_time) and tokens, and a note
   * of what was asked, so that a request still short of it is refused rather
   * than sent back to the IdP. Another user ends the session.
   */
  async #completeStepUp (request: FastifyRequest, reply: FastifyReply, pending: PendingSignin, need: StepUpNeed, current: Identity, identity: Identity, tokens: client.TokenEndpointResponse, claims: Readonly<Record<string, unknown>>): Promise<void> {
    const { config, audit, cookies } = this.#deps
    const at = auditRequest(request)
    if (current.issuer !== identity.issuer || current.subject !== identity.subject) {
      audit('session.step_up', { ...auditUser(current), ...at, outcome: 'refused', reason: 'other_user', signed_in_as: identity.id })
      await request.session.destroy()
      reply.clearCookie(cookies.session, cookies.attributes)
      throw new SigninError('GH_STEP_UP_USER_CHANGED', 'the step-up sign-in was made by another user: the session ended', undefined, pending.returnTo)
    }
    const now = this.#deps.clock()
    const { createdAt, groupsFromGraph } = request.session
    await request.session.regenerate()
    request.session.identity = identity
    if (groupsFromGraph === true) request.session.groupsFromGraph = true
    request.session.createdAt = createdAt ?? now
    request.session.lastSeenAt = now
    request.session.stepUpTried = { key: needKey(need), at: now }
    request.session.tokens = new SessionTokens({
      idToken: tokens.id_token,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: typeof tokens.expires_in === 'number' ? now + tokens.expires_in * 1000 : undefined,
    })
    const met = needMet(need, { amr: identity.amr, acr: identity.acr, acrs: stringList(claims.acrs), authTime: identity.authTime }, now, config)
    audit('session.step_up', { ...auditUser(identity), ...at, outcome: met ? 'completed' : 'refused', ...(met ? {} : { reason: 'not_provided' }), amr: identity.amr, acr: identity.acr })
  }

  /** Ends the gateway session and, when the IdP supports it, the IdP session. Returns where to send the browser. */
  async logout (request: FastifyRequest, reply: FastifyReply): Promise<string> {
    const { config, audit, cookies } = this.#deps
    const session = request.session
    const identity = session?.identity
    const idToken = session?.tokens?.idToken
    // Destroying also when nobody is signed in leaves request.session null, so the session plugin adds no
    // clearing cookie of its own (without Secure, which a browser refuses for a __Host- cookie).
    if (session !== null && session !== undefined && typeof session.destroy === 'function') await session.destroy()
    // With the __Host- prefix a browser only accepts the clearing cookie with the same attributes.
    reply.clearCookie(cookies.session, cookies.attributes)
    audit('signout', { ...auditUser(identity), ...auditRequest(request) })
    const signedOut = `${config.publicUrl}${SIGNED_OUT_PATH}`
    if (!this.#deps.oidc.isReady) return signedOut
    const configuration = this.#deps.oidc.configuration()
    if (configuration.serverMetadata().end_session_endpoint === undefined) return signedOut
    const params: Record<string, string> = { post_logout_redirect_uri: signedOut, client_id: config.oidc.clientId }
    if (idToken !== undefined) params.id_token_hint = idToken
    return client.buildEndSessionUrl(configuration, params).href
  }

  /** The IdP's origin, for the sign-out form's CSP (the POST redirects there). */
  idpOrigins (): string[] {
    if (!this.#deps.oidc.isReady) return []
    const endSession = this.#deps.oidc.configuration().serverMetadata().end_session_endpoint
    return endSession === undefined ? [] : [new URL(endSession).origin]
  }
}

/**
 * RFC 9207: the callback's `iss` must be the issuer the sign-in was sent to,
 * and present when the provider says it sends one (a mix-up attack sends the
 * browser back with another provider's answer). openid-client checks the same
 * again; checked here first so that the refusal is the browser's (400), not
 * the provider's (502).
 */
function callbackIssuerProblem (params: URLSearchParams, metadata: { issuer: string, authorization_response_iss_parameter_supported?: boolean }): string | undefined {
  const iss = params.get('iss')
  if (iss === null) return metadata.authorization_response_iss_parameter_supported === true ? 'authorization response: "iss" (issuer) missing' : undefined
  return iss === metadata.issuer ? undefined : 'authorization response: unexpected "iss" (issuer)'
}

function describeOidcError (err: unknown): string {
  if (err instanceof client.ResponseBodyError) return `token endpoint: ${err.error}${err.error_description === undefined ? '' : ` (${err.error_description})`}`
  if (err instanceof client.AuthorizationResponseError) return `authorization response: ${err.error}`
  const e = err as { code?: string, message?: string, cause?: { message?: unknown } }
  // openid-client's own message is generic ("invalid response encountered"); the cause says which check failed.
  const cause = typeof e.cause?.message === 'string' && e.cause.message !== e.message ? ` (${e.cause.message})` : ''
  return `${e.code ?? 'error'}: ${e.message ?? String(err)}${cause}`
}
