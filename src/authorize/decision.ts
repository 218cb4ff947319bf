import { certificateIdentity } from '../identify/client-certificate.js'
import type { Identity } from '../identify/identity.js'
import { certificateOnly, CRITERIA, valueIn, type ConditionSet, type Criterion, type CriterionReason, type RequestFacts } from './criteria/index.js'

/** The criteria without their literal types, for loops over all of them. */
const ALL: readonly Criterion[] = CRITERIA

/** What a decision reads of a route: its allow and deny entries, and where it is written. */
export interface RouteRules {
  readonly where: string
  readonly allow: 'anyone' | 'authenticated' | readonly ConditionSet[]
  readonly deny: readonly ConditionSet[]
}

/** Why a request was allowed or denied: the stable codes of logs, the audit log and denial pages. */
export type DecisionReason =
  | 'anyone' | 'authenticated' | 'allowed'
  | 'not_signed_in' | 'network_denied' | 'denied_by_rule' | 'no_rule_allows'
  // A WebSocket handshake on a route that does not take WebSockets (decided before the rules).
  | 'websockets_disabled'
  | 'websocket_origin'
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

interface Failure { reason: DecisionReason, message: string, rule: string }

function has (entry: ConditionSet, criterion: Criterion): boolean {
  return valueIn(entry, criterion) !== undefined
}

/** Decides a request on a route: deny entries first (deny wins), then allow. Deny by default. */
export function decide (route: RouteRules, facts: RequestFacts): Decision {
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
    const failing = firstFailing(entry, facts, true)
    if (failing === undefined) return { allow: true, identity, reason: 'allowed', rule: entry.where }
    failures.push(failing)
  }
  if (signingInMayHelp) return { allow: false, kind: 'unauthenticated', reason: 'not_signed_in', message: 'requires signing in', rule: undefined }
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
