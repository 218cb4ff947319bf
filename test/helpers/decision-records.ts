import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { createGzip } from 'node:zlib'

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

/**
 * A gzip audit log of `count` decision records for replay under
 * `replayPolicy`: every tenth allowed bob to read reports under an older
 * policy, so a tenth of the records change (allow -> deny); the rest do not.
 */
export async function writeDecisionLog (file: string, count: number): Promise<{ lineBytes: number }> {
  const gzip = createGzip({ level: 1 })
  const done = once(gzip.pipe(createWriteStream(file)), 'finish')
  const templates = Array.from({ length: 10 }, (_, i) => i === 0
    ? decisionLine({ path: '/reports/q1', route: 'reports', decision: 'allow', reason: 'allowed', user: 'bob', groups: ['staff'] })
    : decisionLine({ path: `/app/page/${i}`, route: 'rest', decision: 'allow', reason: 'authenticated', user: `user${i}`, groups: ['staff'], ip: `203.0.113.${i}` }))
  let chunk: string[] = []
  for (let i = 0; i < count; i++) {
    chunk.push(templates[i % 10] as string)
    if (chunk.length === 10_000 || i === count - 1) {
      if (!gzip.write(`${chunk.join('\n')}\n`)) await once(gzip, 'drain')
      chunk = []
    }
  }
  gzip.end()
  await done
  return { lineBytes: (templates[1] ?? '').length + 1 }
}

/** The policy the records of writeDecisionLog are replayed against: only finance may read reports. */
export const replayPolicy = 'upstreams: { app: { url: http://127.0.0.1:3000 } }\nroutes:\n  - name: reports\n    match: { path: /reports/** }\n    upstream: app\n    allow:\n      - groups: [finance]\n  - name: rest\n    match: { path: /** }\n    upstream: app\n    allow: authenticated\n'
