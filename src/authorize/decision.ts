import { certificateIdentity } from '../identify/client-certificate.js'
import type { Identity } from '../identify/identity.js'
import { certificateOnly, CRITERIA, valueIn, type ConditionSet, type Criterion, type CriterionReason, type RequestFacts } from './criteria/index.js'
import { mergeNeeds, type StepUpNeed } from './step-up.js'

/** The criteria without their literal types, for loops over all of them. */
const ALL: readonly Criterion[] = CRITERIA

/** What a decision reads of a route: its allow and deny entries, and where it is written. */
export interface RouteRules {
  readonly where: string
  readonly allow: 'anyone' | 'authenticated' | readonly ConditionSet[]
  readonly deny: readonly ConditionSet[]
  /** reauth_after: a sign-in (auth_time) older than this must be made again. */
  readonly reauthAfterMs?: number
}

/** Why a request was allowed or denied: the stable codes of logs, the audit log and denial pages. */
export type DecisionReason =
  | 'anyone' | 'authenticated' | 'allowed'
  | 'not_signed_in' | 'network_denied' | 'denied_by_rule' | 'no_rule_allows'
  // A WebSocket handshake on a route that does not take WebSockets (decided before the rules).
  | 'websockets_disabled'
  | 'websocket_origin'
  // The sign-in is older than the route's reauth_after.
  | 'reauth_required'
  | CriterionReason

/**
 * The outcome of authorization for one request. A denial carries its kind:
 * `unauthenticated` (sign in first: redirect or 401) or `forbidden` (signed in,
 * or signing in would not help: 403), a stable reason code, words for a
 * person, and where the deciding rule is written.
 */
export type Decision =
  | { readonly allow: true, readonly identity: Identity | undefined, readonly reason: 'anyone' | 'authenticated' | 'allowed', readonly rule: string | undefined }
  | { readonly allow: false, readonly kind: 'unauthenticated' | 'forbidden', readonly reason: DecisionReason, readonly message: string, readonly rule: string | undefined }
  /** Signed in, but not the way the route asks (MFA, acr, an authentication context, a recent sign-in): a new sign-in of the same user may pass. */
  | { readonly allow: false, readonly kind: 'step_up', readonly reason: DecisionReason, readonly message: string, readonly rule: string | undefined, readonly need: StepUpNeed }

interface Failure { reason: DecisionReason, message: string, rule: string }
interface StepUpCandidate { failures: Failure[], need: StepUpNeed }

function has (entry: ConditionSet, criterion: Criterion): boolean {
  return valueIn(entry, criterion) !== undefined
}

/**
 * Decides a request on a route: deny entries first (deny wins), then allow,
 * then the age of the sign-in (reauth_after). Deny by default. An allow entry
 * that a signed-in user fails only on how they signed in makes a step-up
 * decision, when no entry allows.
 */
export function decide (route: RouteRules, facts: RequestFacts): Decision {
  const decision = decideRules(route, facts)
  const stale = staleSignin(route, facts)
  if (stale === undefined) return decision
  if (decision.allow && decision.identity !== undefined && (decision.reason === 'authenticated' || decision.rule !== undefined) && !allowedAnonymously(route, decision.rule)) {
    return { allow: false, kind: 'step_up', reason: 'reauth_required', message: `requires a sign-in within the last ${minutes(stale)}`, rule: route.where, need: { maxAgeS: stale } }
  }
  if (!decision.allow && decision.kind === 'step_up') return { ...decision, need: mergeNeeds(decision.need, { maxAgeS: stale }) }
  return decision
}

/** The route's reauth_after in seconds when the identity's sign-in is older (or of unknown age). */
function staleSignin (route: RouteRules, { identity, now }: RequestFacts): number | undefined {
  if (route.reauthAfterMs === undefined || identity === undefined || now === undefined) return undefined
  const fresh = identity.authTime !== undefined && now - identity.authTime * 1000 <= route.reauthAfterMs
  return fresh ? undefined : Math.floor(route.reauthAfterMs / 1000)
}

function allowedAnonymously (route: RouteRules, rule: string | undefined): boolean {
  return Array.isArray(route.allow) && route.allow.some(e => e.where === rule && e.anonymous === true)
}

function minutes (seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`
}

function decideRules (route: RouteRules, facts: RequestFacts): Decision {
  const { identity } = facts

  for (const entry of route.deny) {
    if (denyMatches(entry, facts)) {
      const networkOnly = entry.ip !== undefined && ALL.every(c => !has(entry, c) || c.field === 'ip')
      return {
        allow: false,
        kind: 'forbidden',
        reason: networkOnly ? 'network_denied' : 'denied_by_rule',
        message: networkOnly ? 'not available from your network' : 'refused by a deny rule of this route',
        rule: entry.where,
      }
    }
  }

  if (route.allow === 'anyone') return { allow: true, identity, reason: 'anyone', rule: undefined }
  if (route.allow === 'authenticated') {
    return identity === undefined
      ? { allow: false, kind: 'unauthenticated', reason: 'not_signed_in', message: 'requires signing in', rule: undefined }
      : { allow: true, identity, reason: 'authenticated', rule: undefined }
  }

  let signingInMayHelp = false
  let stepUp: StepUpCandidate | undefined
  const failures: Failure[] = []
  for (const entry of route.allow) {
    // Conditions on the network are checked first: they decide with or without a user.
    const network = firstFailing(entry, facts, false)
    if (network !== undefined) {
      failures.push(network)
      continue
    }
    if (entry.anonymous === true) return { allow: true, identity, reason: 'allowed', rule: entry.where }
    // The certificate passed above; no sign-in is asked for. Who signed in, if anyone, is still who is asking.
    if (certificateOnly(entry) && facts.clientCertificate !== undefined) {
      return { allow: true, identity: identity ?? certificateIdentity(facts.clientCertificate), reason: 'allowed', rule: entry.where }
    }
    if (identity === undefined) {
      signingInMayHelp = true
      continue
    }
    const failing = userFailures(entry, facts)
    const first = failing[0]
    if (first === undefined) return { allow: true, identity, reason: 'allowed', rule: entry.where }
    failures.push(first.failure)
    if (stepUp === undefined && failing.every(f => f.need !== undefined)) {
      stepUp = { failures: failing.map(f => f.failure), need: failing.reduce<StepUpNeed>((need, f) => mergeNeeds(need, f.need ?? {}), {}) }
    }
  }
  if (signingInMayHelp) return { allow: false, kind: 'unauthenticated', reason: 'not_signed_in', message: 'requires signing in', rule: undefined }
  const firstStepUp = stepUp?.failures[0]
  if (stepUp !== undefined && firstStepUp !== undefined) {
    return { allow: false, kind: 'step_up', reason: firstStepUp.reason, message: stepUp.failures.map(f => f.message).join(' and '), rule: firstStepUp.rule, need: stepUp.need }
  }
  const first = failures[0]
  if (first === undefined) return { allow: false, kind: 'forbidden', reason: 'no_rule_allows', message: 'no rule of this route allows the request', rule: route.where }
  // The reason code and rule are the first entry's; the words name every way in.
  const message = [...new Set(failures.map(f => f.message))].join(', or ')
  return { allow: false, kind: 'forbidden', reason: first.reason, message, rule: first.rule }
}

/** The first condition of the entry that does not hold, among user or non-user conditions. */
function firstFailing (entry: ConditionSet, facts: RequestFacts, userConditions: boolean): Failure | undefined {
  for (const criterion of ALL) {
    const value = valueIn(entry, criterion)
    if (criterion.needsUser !== userConditions || value === undefined) continue
    if (!criterion.test(value, facts)) return { reason: criterion.reason as CriterionReason, message: criterion.describe(value), rule: entry.where }
  }
  return undefined
}

/** Every user condition of the entry that does not hold, with what a step-up would need for it (undefined: a step-up cannot help). */
function userFailures (entry: ConditionSet, facts: RequestFacts): Array<{ failure: Failure, need: StepUpNeed | undefined }> {
  const failing: Array<{ failure: Failure, need: StepUpNeed | undefined }> = []
  for (const criterion of ALL) {
    const value = valueIn(entry, criterion)
    if (!criterion.needsUser || value === undefined || criterion.test(value, facts)) continue
    failing.push({ failure: { reason: criterion.reason as CriterionReason, message: criterion.describe(value), rule: entry.where }, need: criterion.stepUp?.(value) })
  }
  return failing
}

/**
 * A deny entry matches when all its conditions hold. User conditions cannot
 * hold without a user, nor certificate conditions without a verified
 * certificate; an unknown client address matches any ip condition (fail closed).
 */
function denyMatches (entry: ConditionSet, facts: RequestFacts): boolean {
  for (const criterion of ALL) {
    const value = valueIn(entry, criterion)
    if (value === undefined) continue
    if (criterion.needsUser && facts.identity === undefined) return false
    if (criterion.field === 'ip' && facts.clientIp === undefined) continue
    if (!criterion.test(value, facts)) return false
  }
  return true
}

/** Whether any decision on this route can depend on the user. */
export function routeNeedsIdentity (route: Pick<RouteRules, 'allow' | 'deny'>): boolean {
  const usesUser = (entry: ConditionSet): boolean => (entry.anonymous !== true && !certificateOnly(entry)) || ALL.some(c => c.needsUser && has(entry, c))
  if (route.deny.some(e => ALL.some(c => c.needsUser && has(e, c)))) return true
  if (route.allow === 'anyone') return false
  if (route.allow === 'authenticated') return true
  return route.allow.some(usesUser)
}
