import type { FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayConfig } from '../config/types.js'
import { GatehouseError } from '../errors.js'
import { refusal } from '../pipeline/answer.js'
import { authorizeRequest, type AuthorizeDeps, type Verdict } from '../pipeline/authorize-request.js'
import { signinChallenge, bearerChallenge, stepUpChallenge } from '../pipeline/challenges.js'
import { downstreamToken, type DownstreamStep } from '../pipeline/downstream-token.js'
import { forwardPlan, upstreamTarget } from '../pipeline/forward-plan.js'
import type { RoutedRequest } from '../pipeline/routed-request.js'
import type { UpstreamIdentity } from '../pipeline/upstream-identity.js'
import type { OpenWebSockets } from '../proxy/open-websockets.js'
import type { WebSocketSlots } from '../proxy/websocket-slots.js'
import { safeReturnPath } from '../signin/return-to.js'
import type { DownstreamTokens } from '../signin/downstream-tokens.js'
import type { SigninFlow } from '../signin/signin-flow.js'
import { sendAnswer } from './send-answer.js'
import { describeNeed, needKey } from '../authorize/step-up.js'
import { auditRequest, auditUser } from '../log/audit.js'
import { upstreamChallenge } from '../pipeline/upstream-challenge.js'
import type { UpstreamAnswer } from '../proxy/register-proxy.js'
import { SIGNIN_TTL_MS } from '../signin/signin-state.js'

/** What the steps of a proxied or forward-auth request use, made once per gateway. */
export interface RequestSteps {
  readonly config: GatewayConfig
  readonly authorize: AuthorizeDeps
  readonly upstreamIdentity: UpstreamIdentity
  readonly signin: SigninFlow
  /** Tokens for other APIs, for routes with downstream_token. */
  readonly downstream: DownstreamTokens
  readonly webSockets: WebSocketSlots
  /** The WebSockets open by session, closed when their session ends. */
  readonly openWebSockets: OpenWebSockets
  /** The session cookie's name. */
  readonly sessionCookie: string
}

/**
 * Authorizes a routed request and keeps what was learned on the request
 * (the decision's label, for metrics). A refusal is answered here; the allowed decision,
 * 'unauthenticated' or a step-up is for the caller to act on.
 */
export async function authorizeOrAnswer (request: FastifyRequest, reply: FastifyReply, routed: RoutedRequest, returnTo: () => string, steps: RequestSteps): Promise<Exclude<Verdict, { kind: 'refused' }> | undefined> {
  const verdict = await authorizeRequest(request, routed, request.cookies[steps.sessionCookie], returnTo, steps.authorize)
  if (verdict.kind === 'refused') {
    request.decision = 'deny'
    await sendAnswer(request, reply, verdict.answer, steps.signin)
    return undefined
  }
  // A step-up asks for a sign-in as 'unauthenticated' does (a redirect or a 401).
  request.decision = verdict.kind === 'step_up' ? 'unauthenticated' : verdict.kind
  return verdict
}

/**
 * The proxy's guard: authorize, ask an unauthenticated caller to sign in,
 * hold a WebSocket slot for an upgrade, and plan what goes upstream. True:
 * forward. False: answered already.
 */
export async function guardProxied (request: FastifyRequest, reply: FastifyReply, steps: RequestSteps): Promise<boolean> {
  const routed = request.routed
  if (routed === null) throw new GatehouseError('GH_INTERNAL', 'unrouted request reached the proxy')
  const { config } = steps
  const returnTo = (): string => safeReturnPath(request.url, config.publicUrl)
  const outcome = await authorizeOrAnswer(request, reply, routed, returnTo, steps)
  if (outcome === undefined) return false
  if (outcome.kind === 'step_up') {
    await sendAnswer(request, reply, stepUpChallenge(request, outcome.need, returnTo(), config.publicUrl), steps.signin)
    return false
  }
  if (outcome.kind === 'unauthenticated') {
    const { credentials } = routed.route
    await sendAnswer(request, reply, credentials.session ? signinChallenge(request, returnTo(), config.publicUrl, credentials.bearer) : bearerChallenge(undefined), steps.signin)
    return false
  }
  const downstream = await downstreamOrAnswer(request, reply, routed, outcome.caller, returnTo(), steps)
  if (downstream === undefined) return false
  // Node marks a request that takes the connection over (a WebSocket handshake) with `upgrade`.
  if ((request.raw as { upgrade?: boolean }).upgrade === true) {
    if (!holdWebSocketSlot(request, reply, steps)) return false
    // A WebSocket opened with a session lives as long as the session.
    const { caller } = outcome
    if (caller.kind === 'session' && caller.session !== undefined && caller.identity !== undefined) steps.openWebSockets.add(caller.session.id, request.raw.socket)
  }
  const target = upstreamTarget(routed)
  // Read before the rewrite below: a step-up asked by the upstream comes back to the path the client asked for.
  const back = routed.route.stepUpFromUpstream ? returnTo() : ''
  if (target !== undefined) request.raw.url = target
  request.forward = forwardPlan({
    routed,
    who: await steps.upstreamIdentity.context(request.log, routed, outcome.decision, outcome.caller),
    caller: outcome.caller,
    peerAddress: request.socket.remoteAddress,
    requestId: String(request.id),
    trace: request.trace,
    publicParts: config.publicParts,
    defaultTimeoutMs: config.upstream.timeoutMs,
    downstream: downstream.kind === 'token' ? downstream.value : undefined,
    returnTo: back,
  })
  return true
}

/**
 * The token for another API the route asks for (downstream_token), or
 * nothing when it asks for none; undefined when the request was answered
 * instead (consent needed, or no token to be had).
 */
export async function downstreamOrAnswer (request: FastifyRequest, reply: FastifyReply, routed: RoutedRequest, caller: Parameters<typeof downstreamToken>[2], returnTo: string, steps: RequestSteps): Promise<Exclude<DownstreamStep, { kind: 'answer' }> | undefined> {
  const step = await downstreamToken(request, routed.route, caller, returnTo, steps.config.publicUrl, steps.downstream, steps.authorize.live.clock())
  if (step.kind !== 'answer') return step
  request.decision = 'deny'
  await sendAnswer(request, reply, step.answer, steps.signin)
  return undefined
}

/**
 * An upstream's 401 on a route with step_up_from_upstream, for a signed-in
 * session: when its WWW-Authenticate asks for a stronger sign-in (a claims
 * challenge or RFC 9470), the gateway's step-up answer (a browser goes to
 * the IdP, anything else gets 401 GH_STEP_UP_REQUIRED with a login_url).
 * Undefined, and the upstream's 401 goes to the client as it is, when it asks
 * for nothing the gateway can do, when its values are not well-formed (a
 * warning), or when the session has just come back from a step-up for the
 * same thing (no loop).
 */
export async function upstreamChallengeAnswer (request: FastifyRequest, header: string | readonly string[], steps: RequestSteps): Promise<UpstreamAnswer | undefined> {
  const forward = request.forward
  const facts = forward?.upstreamStepUp
  if (forward === null || facts === undefined) return undefined
  const challenge = upstreamChallenge(header)
  if (challenge.kind === 'none') return undefined
  const where = { route: facts.route, upstream: facts.upstreamName }
  if (challenge.kind === 'invalid') {
    request.log.warn({ event: 'upstream.challenge_invalid', ...where, problem: challenge.problem }, 'the upstream asked for a step-up the gateway cannot read; its 401 is passed on')
    return undefined
  }
  const { need } = challenge
  const now = steps.authorize.live.clock()
  const { tried } = facts
  if (tried !== undefined && tried.key === needKey(need) && now - tried.at <= SIGNIN_TTL_MS) {
    request.log.info({ event: 'upstream.challenge_repeated', ...where }, 'the upstream asks again for the step-up just made; its 401 is passed on')
    return undefined
  }
  steps.authorize.audit('session.step_up', { ...auditUser(forward.identity), ...auditRequest(request), ...where, outcome: 'requested', reason: challenge.error, required: describeNeed(need), source: `upstream:${facts.upstreamName}` })
  const answer = stepUpChallenge(request, need, facts.returnTo, steps.config.publicUrl)
  return async reply => await sendAnswer(request, reply, answer, steps.signin)
}

function holdWebSocketSlot (request: FastifyRequest, reply: FastifyReply, steps: RequestSteps): boolean {
  const slots = steps.webSockets
  if (slots.take(request.raw.socket, open => { request.log.debug({ event: 'websocket.closed', open }, 'WebSocket closed') })) return true
  request.log.warn({ event: 'websocket.refused', open: slots.open, limit: slots.max }, 'WebSocket refused: limits.max_websockets reached')
  void sendAnswer(request, reply, refusal(new GatehouseError('GH_TOO_MANY_WEBSOCKETS', `${slots.open} open`), { headers: { 'retry-after': '5' } }), steps.signin)
  return false
}
