import type { RecordedCertificate, RecordedIdentity } from '../pipeline/decision-record.js'
import { describedCertificate } from '../identify/client-certificate.js'
import { optionalString, stringList } from '../identify/claim-values.js'
import type { ClientCertificate, Identity } from '../identify/identity.js'
import { boundedMemo } from '../bounded-memo.js'
import { parseAddress } from '../net/address.js'
import { explain } from '../policy/explain.js'
import type { Policy } from '../policy/load-policy.js'
import { actualOf } from '../policy-test/run-tests.js'
import { fileLine } from '../policy-test/text-report.js'
import type { ReplayRecord } from './read-records.js'

/** Examples kept per (old -> new) change, and users kept by name: the summary's size does not grow with the input. */
export const EXAMPLES_PER_CHANGE = 3
export const MAX_LISTED_USERS = 100
/** Newly denied users counted one by one up to this many; beyond, the count says "more than". */
export const MAX_TRACKED_USERS = 10_000

export interface ReplaySummary {
  records: number
  changed: number
  /** "allow -> deny" -> count */
  changes: Map<string, number>
  /** route (as recorded) -> records and changed */
  routes: Map<string, { records: number, changed: number }>
  /** file:line of the rule that now decides a changed record -> count */
  rules: Map<string, number>
  examples: Map<string, string[]>
  /** Users allowed before and denied now (up to MAX_TRACKED_USERS), and whether there were more. */
  newlyDenied: Set<string>
  newlyDeniedOverflow: boolean
}

export function emptySummary (): ReplaySummary {
  return { records: 0, changed: 0, changes: new Map(), routes: new Map(), rules: new Map(), examples: new Map(), newlyDenied: new Set(), newlyDeniedOverflow: false }
}

/** A recorded certificate's names, as client_certificate conditions test them. */
function certificateOf (r: RecordedCertificate): ClientCertificate {
  return describedCertificate({ subject: r.subject, issuer: optionalString(r.issuer), dns: stringList(r.san_dns), uris: stringList(r.san_uri), emails: stringList(r.san_email) }, 'replay')
}

/** Audit logs name the same client addresses again and again: each is parsed once (parsing was a sixth of a replay's time). */
const addressOf = boundedMemo(parseAddress, 10_000, 64)

function identityOf (r: RecordedIdentity): Identity {
  const scopes = r.scopes === null || r.scopes === undefined ? undefined : stringList(r.scopes)
  const clientId = optionalString(r.client_id)
  return {
    id: r.user,
    ...(scopes === undefined ? {} : { scopes }),
    ...(clientId === undefined ? {} : { clientId }),
    issuer: 'replay',
    subject: r.user,
    name: undefined,
    email: optionalString(r.email),
    groups: stringList(r.groups),
    roles: stringList(r.roles),
    amr: stringList(r.amr),
    acr: optionalString(r.acr),
    sid: undefined,
    claims: typeof r.claims === 'object' && r.claims !== null ? r.claims : {},
  }
}

const bump = (map: Map<string, number>, key: string): void => { map.set(key, (map.get(key) ?? 0) + 1) }

/**
 * Decides one record again under `policy`, with the code `gatehouse explain`
 * and `gatehouse test` use (the gateway's canonical path, routing and
 * decision), and adds it to the summary.
 */
export function replayRecord (policy: Policy, record: ReplayRecord, summary: ReplaySummary): void {
  summary.records++
  const explanation = explain(policy, {
    method: record.method,
    url: record.host === '' ? record.path : `http://${record.host}${record.path}`,
    clientIp: record.ip === null ? undefined : addressOf(record.ip),
    identity: record.identity === null ? undefined : identityOf(record.identity),
    credential: record.credential ?? 'session',
    upgrade: record.websocket,
    ...(record.certificate === null ? {} : { clientCertificate: certificateOf(record.certificate) }),
  })
  const now = actualOf(explanation)
  const routeName = record.route ?? '(none)'
  const route = summary.routes.get(routeName) ?? { records: 0, changed: 0 }
  summary.routes.set(routeName, route)
  route.records++
  if (now.decision === record.decision) return
  route.changed++
  summary.changed++
  const change = `${record.decision} -> ${now.decision}`
  bump(summary.changes, change)
  bump(summary.rules, now.rule === undefined ? `(${now.reason ?? now.decision})` : fileLine(now.rule))
  const examples = summary.examples.get(change) ?? []
  summary.examples.set(change, examples)
  if (examples.length < EXAMPLES_PER_CHANGE) {
    const who = record.identity === null ? 'anonymous' : `user ${record.identity.user}`
    examples.push(`${record.method} ${record.host === '' ? '' : `//${record.host}`}${record.path} ${who} from ${record.ip ?? 'unknown'}: ${explanation.because}`)
  }
  if (record.decision === 'allow' && now.decision === 'deny' && record.identity !== null) {
    if (summary.newlyDenied.size < MAX_TRACKED_USERS) summary.newlyDenied.add(record.identity.user)
    else if (!summary.newlyDenied.has(record.identity.user)) summary.newlyDeniedOverflow = true
  }
}
