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

function holdWebSocketSlot (request: FastifyRequest, reply: FastifyReply, steps: RequestSteps): boolean {
  const slots = steps.webSockets
  if (slots.take(request.raw.socket, open => { request.log.debug({ event: 'websocket.closed', open }, 'WebSocket closed') })) return true
  request.log.warn({ event: 'websocket.refused', open: slots.open, limit: slots.max }, 'WebSocket refused: limits.max_websockets reached')
  void sendAnswer(request, reply, refusal(new GatehouseError('GH_TOO_MANY_WEBSOCKETS', `${slots.open} open`), { headers: { 'retry-after': '5' } }), steps.signin)
  return false
}
