import { MemoryBackend } from '../../src/session/memory-backend.js'
import { createLogger } from '../../src/log/logger.js'
import { loadConfig } from '../../src/config/load.js'
import { loadPolicy, type Policy } from '../../src/policy/load-policy.js'
import type { AuditFields, AuditLog } from '../../src/log/audit.js'
import { SessionReader } from '../../src/session/active-session.js'
import { CookieSigner } from '../../src/session/cookie-signer.js'
import { SessionCipher } from '../../src/session/session-cipher.js'
import { SessionEnder } from '../../src/session/session-ender.js'
import { SessionStore } from '../../src/session/session-store.js'
import { IdentityBuilder } from '../../src/signin/identity-builder.js'
import { OidcProvider } from '../../src/signin/oidc-provider.js'
import { TokenRefresh } from '../../src/signin/token-refresh.js'
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.js'
import type { AuthorizeDeps } from '../../src/pipeline/authorize-request.js'
import type { PipelineRequest } from '../../src/pipeline/request.js'
import type { RoutedRequest } from '../../src/pipeline/routed-request.js'
import { canonicalizeTarget } from '../../src/policy/canonical-path.js'
import { parseAddress } from '../../src/net/address.js'
import type { Identity } from '../../src/identify/identity.js'
import { policyDir } from './policy-files.js'

interface Teardown { teardown (fn: () => unknown): void }

export const log = createLogger({ level: 'silent' })

export const config = loadConfig({
  env: {
    GATEHOUSE_PUBLIC_URL: 'https://app.example.com',
    GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com',
    GATEHOUSE_OIDC_CLIENT_ID: 'client',
    GATEHOUSE_OIDC_CLIENT_SECRET: 'shh',
    GATEHOUSE_SESSION_SECRET: 'x'.repeat(40),
    GATEHOUSE_SIGNING_KEY_FILE: '/keys/k.pem',
    GATEHOUSE_UPSTREAM_URL: 'http://127.0.0.1:3000',
    GATEHOUSE_REDIS_URL: 'redis://127.0.0.1:6379',
  },
}).config

/** Routes of every kind the steps treat differently, each named for what it tests. */
export const POLICY = `routes:
  - name: public
    match: { path: /public/** }
    allow: anyone
  - name: app
    match: { path: /app/** }
    allow: authenticated
    websockets: false
  - name: admin
    match: { path: /admin/** }
    allow:
      - { groups: [admins] }
  - name: api
    match: { path: /api/** }
    credentials: [bearer]
    allow:
      - { scopes: [read] }
  - name: chat
    match: { path: /chat/** }
    websocket_origins: [https://Chat.Example.com/, "http://localhost:8080"]
    allow: authenticated
  - name: rewritten
    match: { path: /old/** }
    rewrite_prefix: /new
    pass_access_token: true
    step_up_from_upstream: true
    allow: authenticated
`

export function testPolicy (t: Teardown): Policy {
  const { file } = policyDir(t, POLICY)
  return loadPolicy(file, { defaultUpstream: { url: 'http://127.0.0.1:3000', timeoutMs: 5000 } }).policy
}

export function routed (policy: Policy, target: string, clientIp = '203.0.113.7'): RoutedRequest {
  const canonical = canonicalizeTarget(target)
  if (!canonical.ok) throw new Error(`bad target ${target}`)
  const found = policy.table.lookup('app.example.com', 'GET', canonical.value.matchPath)
  if (found.kind !== 'route') throw new Error(`no route for ${target}`)
  return { policy, route: found.route, method: 'GET', host: 'app.example.com', canonical: canonical.value, clientIp: parseAddress(clientIp) }
}

export function request (url: string, headers: Record<string, string | string[]> = {}, method = 'GET'): PipelineRequest {
  return { log, method, url, headers, id: 'req-1', clientIp: '203.0.113.7', trace: { traceId: 'a'.repeat(32) } }
}

export const alice: Identity = Object.freeze({ id: 'alice', issuer: 'https://idp.example.com', subject: 'alice', name: 'Alice', email: 'alice@example.com', groups: ['staff', 'admins'], roles: [], amr: ['pwd'], acr: undefined, sid: undefined, claims: {} })
export const bob: Identity = Object.freeze({ ...alice, id: 'bob', subject: 'bob', groups: ['staff'] })

/** The steps' dependencies over an in-memory session store, with a clock the test moves and the audit events it sees. */
export function steps (now: () => number): { deps: AuthorizeDeps, store: SessionStore, signer: CookieSigner, audited: Array<{ event: string, fields: AuditFields }> } {
  const store = new SessionStore({ backend: new MemoryBackend(), cipher: new SessionCipher('s'.repeat(32)), cacheTtlMs: 10_000, cacheMax: 100, log })
  const signer = new CookieSigner(['k'.repeat(32)], 10)
  const lifetimes = { idleMs: 3_600_000, maxMs: 43_200_000 }
  const audited: Array<{ event: string, fields: AuditFields }> = []
  const audit: AuditLog = (event, fields) => { audited.push({ event, fields }) }
  const oidc = new OidcProvider(config.oidc, log)
  const identities = new IdentityBuilder(config, store, log)
  const refresh = new TokenRefresh({ config, oidc, store, audit, ender: new SessionEnder({ store, audit }), metrics: new GatewayMetrics(), identities, clock: now })
  const deps: AuthorizeDeps = {
    audit,
    detailedDenials: true,
    decisions: { kind: 'denied' },
    publicOrigin: 'https://app.example.com',
    provider: { oidc: config.oidc, entra: config.entra },
    bearer: undefined,
    live: { sessions: new SessionReader(signer, { store, lifetimes, clock: now }), store, refresh, identities, lifetimes, audit, clock: now },
  }
  return { deps, store, signer, audited }
}
