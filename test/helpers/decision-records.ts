/** access.decision audit lines as the gateway writes them (see docs/operations.md), for replay tests. */
export interface RecordSpec {
  time?: string
  method?: string
  host?: string
  path: string
  ip?: string | null
  route: string
  rule?: string
  decision: 'allow' | 'deny' | 'signin'
  reason: string
  user?: string
  groups?: string[]
  amr?: string[]
}

export function decisionLine (r: RecordSpec): string {
  const identity = r.user === undefined ? null : { user: r.user, email: null, groups: r.groups ?? [], roles: [], amr: r.amr ?? [], acr: null, scopes: null, client_id: null, claims: {} }
  return JSON.stringify({
    level: r.decision === 'deny' ? 40 : 30,
    time: r.time ?? new Date().toISOString(),
    service: 'gatehouse',
    audit: true,
    event: 'access.decision',
    user: r.user ?? null,
    tenant: null,
    ip: r.ip === undefined ? '203.0.113.7' : r.ip,
    route: r.route,
    reqId: 'r1',
    traceId: '0af7651916cd43dd8448eb211c80319c',
    reason: r.reason,
    method: r.method ?? 'GET',
    host: r.host ?? 'app.example.com',
    path: r.path,
    decision: r.decision,
    rule: r.rule ?? 'policy.yaml:1:1',
    credential: identity === null ? null : 'session',
    websocket: false,
    identity,
    msg: 'access.decision',
  })
}
