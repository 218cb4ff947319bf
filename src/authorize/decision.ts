import type { Identity } from '../identify/identity.js'
import type { Route } from '../policy/types.js'
import { CRITERIA, type RequestFacts } from './criteria/index.js'
import type { ConditionSet } from '../policy/types.js'

/**
 * The outcome of authorization for one request. A denial carries its kind:
 * `unauthenticated` (sign in first: redirect or 401) or `forbidden` (signed in,
 * or signing in would not help: 403), a stable reason code, words for a
 * person, and where the deciding rule is written.
 */
export type Decision =
  | { readonly allow: true, readonly identity: Identity | undefined, readonly reason: string, readonly rule: string | undefined }
  | { readonly allow: false, readonly kind: 'unauthenticated' | 'forbidden', readonly reason: string, readonly message: string, readonly rule: string | undefined }

interface Failure { reason: string, message: string, rule: string }

/** Decides a request on a route: deny entries first (deny wins), then allow. Deny by default. */
export function decide (route: Route, facts: RequestFacts): Decision {
  const { identity } = facts

  for (const entry of route.deny) {
    if (denyMatches(entry, facts)) {
      const networkOnly = entry.ip !== undefined && CRITERIA.every(c => !c.has(entry) || !c.needsUser)
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
  for (const criterion of CRITERIA) {
    if (criterion.needsUser !== userConditions || !criterion.has(entry)) continue
    if (!criterion.test(entry, facts)) return { reason: criterion.reason, message: criterion.describe(entry), rule: entry.where }
  }
  return undefined
}

/**
 * A deny entry matches when all its conditions hold. User conditions cannot
 * hold without a user; an unknown client address matches any ip condition
 * (fail closed).
 */
function denyMatches (entry: ConditionSet, facts: RequestFacts): boolean {
  for (const criterion of CRITERIA) {
    if (!criterion.has(entry)) continue
    if (criterion.needsUser && facts.identity === undefined) return false
    if (!criterion.needsUser && facts.clientIp === undefined) continue
    if (!criterion.test(entry, facts)) return false
  }
  return true
}

/** Whether any decision on this route can depend on the user. */
export function routeNeedsIdentity (route: Pick<Route, 'allow' | 'deny'>): boolean {
  const usesUser = (entry: ConditionSet): boolean => entry.anonymous !== true || CRITERIA.some(c => c.needsUser && c.has(entry))
  if (route.deny.some(e => CRITERIA.some(c => c.needsUser && c.has(e)))) return true
  if (route.allow === 'anyone') return false
  if (route.allow === 'authenticated') return true
  return route.allow.some(usesUser)
}
