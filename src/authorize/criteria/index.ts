import { acr } from './acr.js'
import { authContext } from './auth-context.js'
import { claims } from './claims.js'
import { clientCertificate } from './client-certificate.js'
import { clientIds } from './client-ids.js'
import type { Criterion } from './criterion.js'
import { emailDomains, emails } from './emails.js'
import { allGroups, groups } from './groups.js'
import { ip } from './ip.js'
import { mfa } from './mfa.js'
import { roles } from './roles.js'
import { scopes } from './scopes.js'
import { users } from './users.js'

export type { CompileContext, Criterion, RequestFacts } from './criterion.js'
export type { ClaimTest } from './claims.js'

/**
 * Every condition kind, in the order a failing one is reported (network
 * and client certificate first: they need no sign-in). The policy schema, the policy loader, the
 * ConditionSet type and the reason codes are made from this list: a new
 * condition is its own file plus one line here.
 */
export const CRITERIA = [ip, clientCertificate, users, emails, emailDomains, groups, allGroups, roles, scopes, clientIds, claims, mfa, acr, authContext] as const

type AnyCriterion = (typeof CRITERIA)[number]
type ValueOf<C> = C extends Criterion<string, string, never, infer V> ? V : never
type RawOf<C> = C extends { compile: (raw: infer R, ...rest: never[]) => unknown } ? R : never

/** One entry of `allow` or `deny`, compiled: conditions that must all hold. */
export type ConditionSet = {
  /** file:line:col of the entry, for explanations. */
  readonly where: string
  /** No sign-in needed for this entry (allow only): only its network conditions apply. */
  readonly anonymous?: true
  /** The ip ranges as written, for explanations. */
  readonly ipText?: readonly string[]
} & { readonly [C in AnyCriterion as C['field']]?: ValueOf<C> }

/**
 * An allow entry that lets a caller in by its verified client certificate
 * alone: it has a client_certificate condition and no condition on a
 * signed-in user. The caller need not sign in; the identity is the
 * certificate's unless someone is signed in.
 */
export function certificateOnly (set: ConditionSet): boolean {
  return set.clientCertificate !== undefined && CRITERIA.every(c => !c.needsUser || valueIn(set, c) === undefined)
}

/** An allow or deny entry as written in a policy file. */
export type RawConditionSet = { anonymous?: true } & { [C in AnyCriterion as C['key']]?: RawOf<C> }

/** The reason code of a condition that failed. */
export type CriterionReason = AnyCriterion['reason']

/** The compiled value of a criterion in an entry, if the entry has it. */
export function valueIn (set: ConditionSet, c: Criterion): unknown {
  return (set as Readonly<Record<string, unknown>>)[c.field]
}
