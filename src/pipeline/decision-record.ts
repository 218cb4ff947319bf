import type { DecisionLogging } from '../config/types.js'
import type { ClientCertificate, Identity } from '../identify/identity.js'
import type { Policy } from '../policy/load-policy.js'
import type { Route } from '../policy/types.js'

/** How a decision ended, in the words of decision records and policy tests. */
export type RecordedDecision = 'allow' | 'deny' | 'signin' | 'step_up'

/** What a decision record is made from: the request as the gateway decided it. */
export interface DecisionFacts {
  readonly policy: Policy
  readonly route: Route
  readonly method: string
  readonly host: string
  /** The canonical path (never the query: it is not decided on, and may carry secrets). */
  readonly path: string
  readonly decision: RecordedDecision
  readonly reason: string
  readonly rule: string | undefined
  /** The identity the decision looked at; undefined when it looked at none. */
  readonly identity: Identity | undefined
  readonly credential: 'session' | 'bearer' | undefined
  readonly websocket: boolean
  /** The verified client certificate the request came with, if any. */
  readonly certificate?: ClientCertificate | undefined
}

/** What client_certificate conditions can test of a certificate, in a decision record. */
export interface RecordedCertificate {
  readonly subject: string
  readonly issuer: string
  readonly san_dns: readonly string[]
  readonly san_uri: readonly string[]
  readonly san_email: readonly string[]
}

/**
 * The identity attributes of a decision record: what some kind of policy
 * condition can test, and of the further claims only those a condition of
 * the live policy names. Never tokens, cookies or other claims.
 */
export interface RecordedIdentity {
  readonly user: string
  readonly email: string | null
  readonly groups: readonly string[]
  readonly roles: readonly string[]
  readonly amr: readonly string[]
  readonly acr: string | null
  readonly scopes: readonly string[] | null
  readonly client_id: string | null
  readonly claims: Readonly<Record<string, unknown>>
}

/** The fields of an `access.decision` audit event (besides those every audit event has). */
export interface DecisionRecord {
  readonly user: string | undefined
  readonly route: string
  readonly reason: string
  readonly method: string
  readonly host: string
  readonly path: string
  readonly decision: RecordedDecision
  /** file:line:col of the deciding allow or deny entry, or of the route. */
  readonly rule: string
  readonly credential: 'session' | 'bearer' | null
  readonly websocket: boolean
  readonly identity: RecordedIdentity | null
  /** Present only when the request came with a verified client certificate. */
  readonly certificate?: RecordedCertificate
}

const claimsByPolicy = new WeakMap<Policy, readonly string[]>()

/** The claim names any condition of the policy tests, once per policy. */
function testedClaims (policy: Policy): readonly string[] {
  let names = claimsByPolicy.get(policy)
  if (names === undefined) {
    const found = new Set<string>()
    for (const route of policy.routes) {
      for (const entry of [...(Array.isArray(route.allow) ? route.allow : []), ...route.deny]) for (const test of entry.claims ?? []) found.add(test.claim)
    }
    names = [...found]
    claimsByPolicy.set(policy, names)
  }
  return names
}

export function decisionRecord (facts: DecisionFacts): DecisionRecord {
  const { identity } = facts
  let recorded: RecordedIdentity | null = null
  if (identity !== undefined) {
    const claims: Record<string, unknown> = {}
    for (const name of testedClaims(facts.policy)) if (Object.hasOwn(identity.claims, name)) claims[name] = identity.claims[name]
    recorded = {
      user: identity.id,
      email: identity.email ?? null,
      groups: identity.groups,
      roles: identity.roles,
      amr: identity.amr,
      acr: identity.acr ?? null,
      scopes: identity.scopes ?? null,
      client_id: identity.clientId ?? null,
      claims,
    }
  }
  return {
    user: identity?.id,
    route: facts.route.name,
    reason: facts.reason,
    method: facts.method,
    host: facts.host,
    path: facts.path,
    decision: facts.decision,
    rule: facts.rule ?? facts.route.where,
    credential: identity === undefined ? null : facts.credential ?? null,
    websocket: facts.websocket,
    identity: recorded,
    ...(facts.certificate === undefined ? {} : { certificate: { subject: facts.certificate.subject, issuer: facts.certificate.issuer, san_dns: facts.certificate.dns, san_uri: facts.certificate.uris, san_email: facts.certificate.emails } }),
  }
}

/** Whether log.decisions asks for this decision: every denial unless off, the rest for `all` or by sampling. */
export function shouldRecord (setting: DecisionLogging, decision: RecordedDecision, random: () => number = Math.random): boolean {
  if (decision === 'deny') return true
  if (setting.kind === 'all') return true
  return setting.kind === 'sample' && random() < setting.fraction
}
