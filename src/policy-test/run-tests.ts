import { explain, type Explanation } from '../policy/explain.js'
import type { Policy } from '../policy/load-policy.js'
import type { ExpectedDecision, PolicyTestCase } from './test-files.js'

/** What happened to a case, in the words of test files. */
export interface Actual {
  readonly decision: ExpectedDecision
  readonly route: string | undefined
  readonly reason: string | undefined
  readonly upstream: string | undefined
  /** file:line:col of the deciding entry (or of the route when no entry decided). */
  readonly rule: string | undefined
}

export interface CaseResult {
  readonly case: PolicyTestCase
  readonly ok: boolean
  readonly actual: Actual
  /** The expected fields that did not hold, e.g. ["decision", "reason"]. */
  readonly mismatches: readonly string[]
}

/** A route or an allow/deny entry that no case reached. */
export interface Uncovered {
  readonly kind: 'route' | 'allow' | 'deny'
  readonly route: string
  readonly where: string
}

export interface TestRun {
  readonly results: readonly CaseResult[]
  readonly passed: number
  readonly failed: number
  readonly uncovered: readonly Uncovered[]
}

const DECISION_OF: Record<Explanation['outcome'], ExpectedDecision> = {
  allow: 'allow',
  forbidden: 'deny',
  unauthenticated: 'signin',
  step_up: 'step_up',
  no_route: 'not_found',
  bad_path: 'bad_request',
  method_not_allowed: 'method_not_allowed',
}

/** The decision of one case, made by explain: the gateway's own canonicalization, routing and decision. */
export function actualOf (e: Explanation): Actual {
  return {
    decision: DECISION_OF[e.outcome],
    route: e.route?.name,
    reason: e.decision?.reason ?? (e.outcome === 'no_route' ? 'no_route' : undefined),
    upstream: e.route?.upstream.name,
    rule: e.decision?.rule ?? e.route?.where,
  }
}

/** Runs every case against the policy and lists what no case reached. */
export function runPolicyTests (policy: Policy, cases: readonly PolicyTestCase[]): TestRun {
  const reachedRoutes = new Set<string>()
  const reachedRules = new Set<string>()
  const results = cases.map(c => {
    const explanation = explain(policy, { method: c.method, url: c.url, clientIp: c.clientIp, identity: c.identity, credential: c.credential, clientCertificate: c.clientCertificate, upgrade: c.upgrade, origin: c.origin, publicOrigin: c.publicOrigin })
    const actual = actualOf(explanation)
    if (explanation.route !== undefined) reachedRoutes.add(explanation.route.where)
    if (explanation.decision?.rule !== undefined) reachedRules.add(explanation.decision.rule)
    const { expect } = c
    const mismatches: string[] = []
    if (expect.decision !== actual.decision) mismatches.push('decision')
    if (expect.route !== undefined && expect.route !== actual.route) mismatches.push('route')
    if (expect.reason !== undefined && expect.reason !== actual.reason) mismatches.push('reason')
    if (expect.upstream !== undefined && expect.upstream !== actual.upstream) mismatches.push('upstream')
    if (expect.rule !== undefined && !ruleMatches(expect.rule, actual.rule)) mismatches.push('rule')
    return { case: c, ok: mismatches.length === 0, actual, mismatches }
  })
  const uncovered: Uncovered[] = []
  for (const route of policy.routes) {
    if (!reachedRoutes.has(route.where)) uncovered.push({ kind: 'route', route: route.name, where: route.where })
    for (const entry of Array.isArray(route.allow) ? route.allow : []) if (!reachedRules.has(entry.where)) uncovered.push({ kind: 'allow', route: route.name, where: entry.where })
    for (const entry of route.deny) if (!reachedRules.has(entry.where)) uncovered.push({ kind: 'deny', route: route.name, where: entry.where })
  }
  const passed = results.filter(r => r.ok).length
  return { results, passed, failed: results.length - passed, uncovered }
}

/** `file:line` matches `file:line:col`; a bare file name matches its path's end. */
function ruleMatches (expected: string, actual: string | undefined): boolean {
  if (actual === undefined) return false
  return actual === expected || actual.startsWith(`${expected}:`) || actual.endsWith(`/${expected}`) || actual.includes(`/${expected}:`)
}
