import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { DEMO_USERS } from '../src/devidp/provider.js'
import { loadConfig } from '../src/config/load.js'
import { createAuditLog } from '../src/log/audit.js'
import { createLogger } from '../src/log/logger.js'
import type { Problem } from '../src/errors.js'
import { LogCapture } from './helpers/log-capture.js'
import { problemsOf } from './helpers/problems.js'
import { policyDir } from './helpers/policy-files.js'
import { sessionIdOf, startStack, type Stack } from './helpers/stack.js'

type Line = Record<string, unknown>

/** The fields every audit line has, whatever the event. */
const SCHEMA = ['time', 'level', 'audit', 'event', 'user', 'tenant', 'ip', 'route', 'reqId', 'traceId', 'reason']

function readAudit (file: string): Line[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Line)
}

/** Resolves with the first audit line that matches, already written or to come (the file is watched, not polled). */
async function waitForAudit (file: string, match: (l: Line) => boolean): Promise<Line> {
  const dir = join(file, '..')
  return await new Promise(resolve => {
    const check = (): boolean => {
      const found = readAudit(file).find(match)
      if (found === undefined) return false
      watcher.close()
      resolve(found)
      return true
    }
    const watcher = watch(dir, () => { check() })
    check()
  })
}

async function cli (stack: Stack, args: string[], env: Record<string, string>): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, ['dist/cli.js', ...args], { env: { PATH: process.env.PATH ?? '', ...stack.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const status = await new Promise<number | null>(resolve => child.once('exit', resolve))
  return { status, stdout, stderr }
}

const POLICY = `routes:
  - name: admin
    match: { path: /admin/** }
    allow:
      - groups: [admins]
  - name: everything-else
    match: { path: /** }
    allow: authenticated
`

t.test('the audit log goes to its own file: every event, one schema, no secrets', async t => {
  const auditDir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'))
  t.teardown(() => rmSync(auditDir, { recursive: true, force: true }))
  const auditFile = join(auditDir, 'audit.jsonl')
  const { dir, file: policyFile } = policyDir(t, POLICY)
  const users = DEMO_USERS.map(u => u.id === 'alice' ? { ...u, extraClaims: { tid: 'contoso-tenant-1' } } : u)
  const stack = await startStack(t, {
    users,
    backchannel: true,
    env: { GATEHOUSE_POLICIES: dir, GATEHOUSE_LOG_AUDIT: auditFile, GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1/32' },
  })
  t.equal(statSync(auditFile).mode & 0o777, 0o640, 'the audit file is not world-readable')

  const loaded = await waitForAudit(auditFile, l => l.event === 'config.loaded')
  t.match(loaded, { user: null, reqId: null, reason: 'start', public_url: stack.url, sessions: 'redis', policy_hash: stack.gateway.policies.status.hash, admin_listen: 'off' })

  // Sign-ins through the real IdP.
  const alice = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const aliceCookie = stack.sessionCookie(alice.browser) ?? ''
  const callback = new URL(alice.page.history.find(h => h.url.includes('/.gatehouse/callback'))?.url ?? 'http://x/')
  const aliceTokens = (await stack.gateway.store.get(sessionIdOf(aliceCookie), { fresh: true }))?.tokens
  t.ok(aliceTokens?.accessToken !== undefined && aliceTokens.refreshToken !== undefined && aliceTokens.idToken !== undefined, 'the session holds tokens (to look for them below)')
  const bob = await stack.signIn('bob', '/.gatehouse/login?return=/.gatehouse/healthz')
  const bobCookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(bob.browser) ?? ''}`
  const signin = await waitForAudit(auditFile, l => l.event === 'signin.success' && l.user === 'alice')
  t.match(signin, { level: 30, user: 'alice', tenant: 'contoso-tenant-1', email: 'alice@example.test', ip: '127.0.0.1', route: null, reason: null, reqId: /\S/, traceId: /^[0-9a-f]{32}$/ })
  t.match(await waitForAudit(auditFile, l => l.event === 'signin.success' && l.user === 'bob'), { tenant: null })

  // A forged callback.
  const forged = await fetch(`${stack.url}/.gatehouse/callback?code=forged-code-value&state=forged-state-value`, { headers: { 'x-request-id': 'forged-callback-1' } })
  t.equal(forged.status, 400)
  t.match(await waitForAudit(auditFile, l => l.event === 'signin.failure'), { level: 40, user: null, reqId: 'forged-callback-1', ip: '127.0.0.1', reason: 'GH_SIGNIN_STATE_INVALID', detail: /sign-in state/ })

  // A denial, from behind a trusted proxy: the audit line names the client, not the proxy.
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  const denied = await fetch(`${stack.url}/admin/settings`, { headers: { cookie: bobCookie, accept: 'application/json', 'x-forwarded-for': '203.0.113.9', traceparent } })
  t.equal(denied.status, 403)
  t.match(await waitForAudit(auditFile, l => l.event === 'access.denied'), {
    level: 40, user: 'bob', ip: '203.0.113.9', route: 'admin', reason: 'group_required', reqId: denied.headers.get('x-request-id'), traceId: '0af7651916cd43dd8448eb211c80319c', rule: /policy\.yaml:\d+:\d+/,
  })

  // Sign-out.
  const out = await alice.browser.request(`${stack.url}/.gatehouse/logout`, { method: 'POST', followRedirects: false })
  t.equal(out.status, 303)
  t.match(await waitForAudit(auditFile, l => l.event === 'signout'), { user: 'alice', tenant: 'contoso-tenant-1', ip: '127.0.0.1', reqId: /\S/ })

  // Revocation from the command line (same config, so the same audit file).
  const revoke = await cli(stack, ['sessions', 'revoke', '--user', 'bob'], { GATEHOUSE_LOG_AUDIT: auditFile })
  t.equal(revoke.status, 0, revoke.stderr)
  t.equal(revoke.stdout, 'revoked 1 session(s)\n', 'stdout stays the command\'s output')
  t.match(await waitForAudit(auditFile, l => l.event === 'session.revoked'), { user: 'bob', source: 'cli', reason: 'operator', selector: 'user', sessions: 1, operator: /\S/, reqId: null })

  // Back-channel logout: alice signs in again, then signs out at the IdP itself.
  const again = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const confirm = await again.browser.get(`${stack.idp.issuer}/session/end`)
  await again.browser.submitForm(confirm, {}, { button: 'logout' })
  t.match(await waitForAudit(auditFile, l => l.event === 'session.revoked' && l.source === 'backchannel'), { user: 'alice', reason: 'idp_logout', selector: 'idp_session', sessions: 1, sid: /\S/, ip: '127.0.0.1' })

  // Policy reloads, good and bad.
  const reloaded = async (): Promise<boolean> => await new Promise(resolve => { const off = stack.gateway.policies.onReload(ok => { off(); resolve(ok) }) })
  let next = reloaded()
  writeFileSync(policyFile, POLICY.replace('[admins]', '[admins, staff]'))
  t.equal(await next, true)
  t.match(await waitForAudit(auditFile, l => l.event === 'policy.reloaded'), { reason: 'file changed', hash: stack.gateway.policies.status.hash, changed: true, routes: 2, user: null })
  next = reloaded()
  writeFileSync(policyFile, 'routes:\n  - name: x\n    match: { path: /** }\n    allow: evryone\n')
  t.equal(await next, false)
  t.match(await waitForAudit(auditFile, l => l.event === 'policy.reload_failed'), { level: 40, reason: 'file changed', errors: 1, kept: stack.gateway.policies.status.hash, detail: /policy\.yaml:4:12: / })

  // One schema for every line.
  const lines = readAudit(auditFile)
  const events = new Set(lines.map(l => l.event))
  for (const e of ['config.loaded', 'signin.success', 'signin.failure', 'access.denied', 'signout', 'session.revoked', 'policy.reloaded', 'policy.reload_failed']) t.ok(events.has(e), `${e} is in the audit file`)
  for (const line of lines) {
    t.same(SCHEMA.filter(k => !(k in line)), [], `${String(line.event)} has every schema field`)
    t.equal(line.audit, true)
    t.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  }

  // Audit events went to the file only, not to the main log.
  t.same(stack.logs.records().filter(r => r.audit === true), [], 'no audit line in the main log')

  const text = readFileSync(auditFile, 'utf8')
  const secrets: Record<string, string> = {
    'alice\'s session cookie': aliceCookie,
    'bob\'s session cookie': bobCookie.slice(bobCookie.indexOf('=') + 1),
    'authorization code': callback.searchParams.get('code') ?? 'missing',
    state: callback.searchParams.get('state') ?? 'missing',
    'access token': aliceTokens?.accessToken ?? 'missing',
    'refresh token': aliceTokens?.refreshToken ?? 'missing',
    'ID token': aliceTokens?.idToken ?? 'missing',
    'session secret': stack.env.GATEHOUSE_SESSION_SECRET ?? 'missing',
    'client secret': stack.clientSecret,
    'forged code': 'forged-code-value',
    'forged state': 'forged-state-value',
  }
  for (const [name, value] of Object.entries(secrets)) {
    t.ok(value.length > 8, `${name} was captured for the check`)
    t.notOk(text.includes(value), `${name} is not in the audit log`)
    t.notOk(text.includes(decodeURIComponent(value)), `${name} (decoded) is not in the audit log`)
  }
})

t.test('without log.audit, audit lines are in the main log, marked, even when log.level would hide them', async t => {
  const logs = new LogCapture()
  const { audit } = createAuditLog(createLogger({ level: 'error', destination: logs }))
  audit('signout', { user: 'alice', ip: '192.0.2.1', reqId: 'r1', traceId: 'a'.repeat(32), accessToken: 'must-not-appear' })
  const [line] = logs.records()
  t.match(line, { service: 'gatehouse', audit: true, level: 30, event: 'signout', user: 'alice', tenant: null, ip: '192.0.2.1', route: null, reqId: 'r1', traceId: 'a'.repeat(32), reason: null, accessToken: '[Redacted]' })
  t.notOk(logs.text.includes('must-not-appear'), 'the same redaction as every log line')
})

t.test('log.audit is checked at start-up: a folder that does not exist, or a folder given as the file, is refused', async t => {
  const env = {
    GATEHOUSE_PUBLIC_URL: 'https://app.example.com', GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com', GATEHOUSE_OIDC_CLIENT_ID: 'c',
    GATEHOUSE_OIDC_CLIENT_SECRET: 's', GATEHOUSE_SESSION_SECRET: 'x'.repeat(40), GATEHOUSE_SIGNING_KEY_FILE: '/k.pem', GATEHOUSE_UPSTREAM_URL: 'http://127.0.0.1:3000',
  }
  const errors = (audit: string): Problem[] => problemsOf(() => loadConfig({ env: { ...env, GATEHOUSE_LOG_AUDIT: audit } })).filter(p => p.severity === 'error')
  t.match(errors('/no/such/folder/audit.log'), [{ where: 'env GATEHOUSE_LOG_AUDIT', message: 'log.audit: cannot create /no/such/folder/audit.log: the folder /no/such/folder does not exist' }])
  t.match(errors(tmpdir()), [{ where: 'env GATEHOUSE_LOG_AUDIT', message: /is a folder; give a file path/ }])
  for (const sink of ['stdout', 'stderr']) t.equal(loadConfig({ env: { ...env, GATEHOUSE_LOG_AUDIT: sink } }).config.log.audit, sink)
  t.equal(loadConfig({ env }).config.log.audit, undefined, 'unset by default')
})
