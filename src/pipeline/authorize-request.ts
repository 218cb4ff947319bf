import { decide, type Decision } from '../authorize/decision.js'
import { describeNeed, needKey, type StepUpNeed } from '../authorize/step-up.js'
import { decisionRecord, shouldRecord, type RecordedDecision } from './decision-record.js'
import type { DecisionLogging, GatewayConfig } from '../config/types.js'
import type { Identity } from '../identify/identity.js'
import { auditRequest, auditUser, type AuditLog } from '../log/audit.js'
import type { Answer } from './answer.js'
import { identifyCaller, type Caller, type CallerDeps } from './caller.js'
import { SIGNIN_TTL_MS } from '../signin/signin-state.js'
import { bearerChallenge, bearerStepUpChallenge } from './challenges.js'
import { accessDenied, websocketOriginDenied, websocketsDisabled } from './denial.js'
import type { PipelineRequest } from './request.js'
import type { RoutedRequest } from './routed-request.js'
import { certificateOriginRefused, websocketOriginRefused } from './websocket-origin.js'

export type Allowed = Extract<Decision, { allow: true }>

/** What the gateway does with a routed request (proxied, or described to forward-auth). */
export type Verdict =
  | { readonly kind: 'allow', readonly decision: Allowed, readonly caller: Caller }
  /** Signing in may help: the caller decides how to ask (redirect, 401, forward-auth's 401). */
  | { readonly kind: 'unauthenticated', readonly caller: Caller }
  /** The signed-in user must sign in again for more (step-up): the caller decides how to ask. */
  | { readonly kind: 'step_up', readonly caller: Caller, readonly need: StepUpNeed }
  /** Refused (denied by the rules, a bad bearer token, WebSockets off): answer this. */
  | { readonly kind: 'refused', readonly answer: Answer }

export interface AuthorizeDeps extends CallerDeps {
  readonly audit: AuditLog
  /** pages.denial_detail is `detailed`. */
  readonly detailedDenials: boolean
  /** log.decisions: which decisions become access.decision audit records. */
  readonly decisions: DecisionLogging
  /** public_url's origin: WebSocket handshakes that rely on the session cookie must come from it (or a route's websocket_origins). */
  readonly publicOrigin: string
  /** The provider settings a bearer step-up challenge names (acr values for MFA, Entra authentication contexts). */
  readonly provider: Pick<GatewayConfig, 'oidc' | 'entra'>
}

/**
 * The step proxied and forward-auth requests share: WebSocket upgrades on a
 * route that refuses them, the caller (only where the route's decision can
 * depend on it), a WebSocket handshake's origin when the session cookie
 * authenticates it (websocket-origin.ts), and the decision. Every refusal is audited here, with the
 * rule that decided.
 */
export async function authorizeRequest (request: PipelineRequest, routed: RoutedRequest, sessionCookie: string | undefined, returnTo: () => string, deps: AuthorizeDeps): Promise<Verdict> {
  const { route, clientIp } = routed
  if (request.headers.upgrade !== undefined && !route.websockets) {
    deps.audit('access.denied', { ...auditRequest(request), route: route.name, reason: 'websockets_disabled' })
    recordDecision(request, routed, { decision: 'deny', reason: 'websockets_disabled', rule: undefined }, undefined, undefined, deps)
    return { kind: 'refused', answer: websocketsDisabled(route) }
  }
  const caller = await identifyCaller(request, route, sessionCookie, deps)
  if (caller.kind === 'invalid_token') {
    request.log.info({ event: 'bearer.refused', route: route.name, err: { code: caller.error.code, detail: caller.error.detail } }, 'bearer token refused')
    deps.audit('access.denied', { ...auditRequest(request), route: route.name, reason: 'invalid_token', detail: caller.error.detail, credential: 'bearer' })
    return { kind: 'refused', answer: bearerChallenge(caller.error) }
  }
  if (websocketOriginRefused(request, route, caller, deps.publicOrigin)) {
    const origin = typeof request.headers.origin === 'string' ? request.headers.origin : undefined
    deps.audit('access.denied', { ...auditUser(caller.kind === 'session' ? caller.identity : undefined), ...auditRequest(request), route: route.name, reason: 'websocket_origin', origin })
    // No decision record: it does not keep the origin, so a replay would decide the handshake differently.
    return { kind: 'refused', answer: websocketOriginDenied(route) }
  }
  const identity = caller.kind === 'anonymous' ? undefined : caller.identity
  const now = deps.live.clock()
  const clientCertificate = routed.clientCertificate
  const decision = decide(route, { identity, clientIp, clientCertificate, now })
  recordDecision(request, routed, { decision: decision.allow ? 'allow' : decision.kind === 'forbidden' ? 'deny' : decision.kind === 'step_up' ? 'step_up' : 'signin', reason: decision.reason, rule: decision.rule }, identity, caller.kind === 'bearer' ? 'bearer' : 'session', deps)
  if (decision.allow && decision.identity?.kind === 'certificate' && certificateOriginRefused(request, route, deps.publicOrigin)) {
    const origin = typeof request.headers.origin === 'string' ? request.headers.origin : undefined
    deps.audit('access.denied', { ...auditUser(decision.identity), ...auditRequest(request), route: route.name, reason: 'websocket_origin', origin, certificate: decision.identity.subject })
    return { kind: 'refused', answer: websocketOriginDenied(route) }
  }
  if (decision.allow) return { kind: 'allow', decision, caller }
  if (decision.kind === 'unauthenticated') return { kind: 'unauthenticated', caller }
  const bearer = caller.kind === 'bearer'
  const certificate = clientCertificate === undefined ? {} : { certificate: clientCertificate.subject }
  if (decision.kind === 'step_up') {
    const { need } = decision
    if (bearer) {
      deps.audit('access.denied', { ...auditUser(identity), ...auditRequest(request), route: route.name, reason: decision.reason, rule: decision.rule, credential: 'bearer', ...certificate })
      return { kind: 'refused', answer: bearerStepUpChallenge(need, deps.provider) }
    }
    const tried = caller.kind === 'session' ? caller.session?.record.stepUpTried : undefined
    if (tried === undefined || tried.key !== needKey(need) || now - tried.at > SIGNIN_TTL_MS) {
      deps.audit('session.step_up', { ...auditUser(identity), ...auditRequest(request), route: route.name, reason: decision.reason, rule: decision.rule, outcome: 'requested', required: describeNeed(need) })
      return { kind: 'step_up', caller, need }
    }
    // The IdP came back without it a moment ago: say what is missing, never a second trip (no loop).
    const missing = { ...decision, kind: 'forbidden' as const, message: `needs a sign-in with ${describeNeed(need)}; yours used: ${methodWords(identity?.amr ?? [])}` }
    deps.audit('access.denied', { ...auditUser(identity), ...auditRequest(request), route: route.name, reason: decision.reason, rule: decision.rule, step_up: 'not_provided', ...certificate })
    return { kind: 'refused', answer: accessDenied({ route, decision: missing, identity, bearer, detailed: deps.detailedDenials, returnTo: returnTo() }) }
  }
  deps.audit('access.denied', { ...auditUser(identity), ...auditRequest(request), route: route.name, reason: decision.reason, rule: decision.rule, ...(bearer ? { credential: 'bearer' } : {}), ...certificate })
  return { kind: 'refused', answer: accessDenied({ route, decision, identity, bearer, detailed: deps.detailedDenials, returnTo: returnTo() }) }
}

/** RFC 8176 authentication methods, in words: "password", "password and multi-factor authentication". */
const METHOD_WORDS: Readonly<Record<string, string>> = {
  pwd: 'password', mfa: 'multi-factor authentication', otp: 'one-time code', sms: 'text message', hwk: 'security key', swk: 'software key', fido: 'security key', face: 'face recognition', fpt: 'fingerprint', pin: 'PIN', rsa: 'certificate', wia: 'Windows sign-in', kba: 'security questions', tel: 'phone call',
}

function methodWords (amr: readonly string[]): string {
  if (amr.length === 0) return 'a method the identity provider did not name'
  return amr.map(m => METHOD_WORDS[m] ?? m).join(' and ')
}

/** The decision record (log.decisions): what the decision used, for `gatehouse replay`. */
function recordDecision (request: PipelineRequest, routed: RoutedRequest, outcome: { decision: RecordedDecision, reason: string, rule: string | undefined }, identity: Identity | undefined, credential: 'session' | 'bearer' | undefined, deps: AuthorizeDeps): void {
  if (!shouldRecord(deps.decisions, outcome.decision)) return
  const { policy, route, method, host, canonical } = routed
  deps.audit('access.decision', { ...auditRequest(request), ...decisionRecord({ policy, route, method, host, path: canonical.path, ...outcome, identity, credential, websocket: request.headers.upgrade !== undefined, certificate: routed.clientCertificate }) })
}
