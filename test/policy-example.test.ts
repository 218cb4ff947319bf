import t from 'tap'
import { startLegacyApp } from '../src/demo/legacy-app.js'
import { Browser } from './helpers/browserless.js'
import { examplePolicy, policyDir, POLICY_USERS } from './helpers/policy-files.js'
import { startStack, type Stack } from './helpers/stack.js'

interface Echo { url: string, headers: Record<string, string | undefined> }

/**
 * policies/example.yaml end to end, through the running gateway with the real
 * IdP: each route behaves as its comment says. The gateway trusts 127.0.0.1 as
 * a proxy here, so X-Forwarded-For can stand for the guest and internal networks.
 */
t.test('the example policy, route by route', async t => {
  const legacy = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  const reports = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  t.teardown(async () => { await legacy.close(); await reports.close() })
  const { file } = policyDir(t, examplePolicy(legacy.url, reports.url))
  const stack = await startStack(t, { users: POLICY_USERS, env: { GATEHOUSE_POLICIES: file, GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1/32' } })
  const sessions = new Map<string, string>()
  for (const user of ['alice', 'bob', 'carol', 'dave']) {
    const { browser } = await stack.signIn(user, '/.gatehouse/login?return=/.gatehouse/healthz')
    sessions.set(user, `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`)
  }
  const api = async (user: string | undefined, path: string, init: { method?: string, from?: string } = {}): Promise<{ status: number, body: Record<string, unknown> }> => {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (user !== undefined) headers.cookie = sessions.get(user) ?? ''
    if (init.from !== undefined) headers['x-forwarded-for'] = init.from
    const res = await fetch(`${stack.url}${path}`, { method: init.method ?? 'GET', headers, redirect: 'manual' })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }
  const reached = (app: typeof legacy, path: string): boolean => app.requests.some(r => r.url === path)

  await t.test('public-assets: anyone, no sign-in', async t => {
    const res = await api(undefined, '/public/logo.png')
    t.equal(res.status, 200)
    t.ok(reached(legacy, '/public/logo.png'))
    t.equal((res.body as unknown as Echo).headers['x-gatehouse-user'], undefined, 'no identity for anonymous requests')
    const withSession = await api('bob', '/public/logo.png?v=2')
    t.equal(withSession.status, 200)
    t.equal((withSession.body as unknown as Echo).headers['x-gatehouse-user'], undefined, 'a public route never reads the session')
  })

  await t.test('admin: admins with MFA, or the App.Admin role; never from the guest network', async t => {
    const alice = await api('alice', '/admin/users')
    t.equal(alice.status, 200, 'alice: admins + mfa')
    t.equal((alice.body as unknown as Echo).headers['x-gatehouse-user'], 'alice')
    const bob = await api('bob', '/admin/users')
    t.equal(bob.status, 403, 'bob is not in admins')
    t.match(bob.body, { error: { code: 'GH_FORBIDDEN', route: 'admin', reason: 'group_required' } })
    t.notOk(JSON.stringify(bob.body).includes('192.0.2.0'), 'the denial names no policy internals beyond the reason')
    const dave = await api('dave', '/admin/users')
    t.equal(dave.status, 401, 'dave is in admins but signed in without MFA: asked to step up')
    t.match(dave.body, { error: { code: 'GH_STEP_UP_REQUIRED', required: { mfa: true } } })
    const guest = await api('alice', '/admin/users', { from: '192.0.2.44' })
    t.equal(guest.status, 403, 'alice from the guest network')
    t.match(guest.body, { error: { reason: 'network_denied' } })
    const anonymous = await api(undefined, '/admin/users')
    t.equal(anonymous.status, 401, 'anonymous API call: 401')
    const browser = await new Browser().request(`${stack.url}/admin/users`, { followRedirects: false })
    t.equal(browser.status, 302, 'anonymous browser: sign in')
    t.equal(legacy.requests.filter(r => r.url === '/admin/users').length, 1, 'only alice\'s request reached the upstream')
    const page = await new Browser().get(`${stack.url}/admin/users`, { headers: { cookie: sessions.get('bob') ?? '' } })
    t.equal(page.status, 403)
    t.match(page.body, /This page \(<code>admin<\/code>\) requires group admins, or requires app role App\.Admin\./, 'the page says why, in words')
    t.match(page.body, /You are signed in as <strong>Bob Staff \(bob@example\.test\)<\/strong>/, 'and who is signed in')
  })

  await t.test('reports-write: only some methods, only finance', async t => {
    const carol = await api('carol', '/reports/q3', { method: 'POST' })
    t.equal(carol.status, 200)
    t.ok(reached(reports, '/reports/q3'), 'sent to the reports upstream')
    const bob = await api('bob', '/reports/q3', { method: 'PUT' })
    t.equal(bob.status, 403)
    t.match(bob.body, { error: { route: 'reports-write', reason: 'group_required' } })
    const read = await api('bob', '/reports/q3')
    t.equal(read.status, 200, 'GET is not a write: everything-else lets bob read')
    t.ok(reached(legacy, '/reports/q3'), 'reads go to legacy')
  })

  await t.test('internal: no sign-in, only from the listed networks', async t => {
    t.equal((await api(undefined, '/internal/metrics', { from: '10.20.30.40' })).status, 200, 'from 10.0.0.0/8')
    t.equal((await api(undefined, '/internal/metrics', { from: 'fd00::17' })).status, 200, 'from fd00::/8')
    t.equal((await api(undefined, '/internal/metrics', { from: '::ffff:10.1.1.1' })).status, 200, 'IPv4-mapped IPv6 compares as IPv4')
    const outside = await api(undefined, '/internal/metrics', { from: '203.0.113.9' })
    t.equal(outside.status, 403, 'from elsewhere: refused, not a sign-in prompt')
    t.match(outside.body, { error: { route: 'internal', reason: 'network_not_allowed' } })
    const signedIn = await api('alice', '/internal/metrics', { from: '203.0.113.9' })
    t.equal(signedIn.status, 403, 'signing in does not help')
    const garbage = await api(undefined, '/internal/metrics', { from: '10.1.2.3, not-an-address' })
    t.equal(garbage.status, 403, 'a malformed X-Forwarded-For makes the address unknown: refused')
  })

  await t.test('everything-else: any signed-in user', async t => {
    t.equal((await api('bob', '/home')).status, 200)
    t.equal((await api(undefined, '/home')).status, 401)
  })
})

t.test('X-Forwarded-For is ignored unless the peer is a trusted proxy', async t => {
  const legacy = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  t.teardown(() => legacy.close())
  const { file } = policyDir(t, examplePolicy(legacy.url, legacy.url))
  const stack: Stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file } })
  for (const header of ['10.1.2.3', '127.0.0.1, 10.1.2.3', '10.1.2.3, 127.0.0.1']) {
    const res = await fetch(`${stack.url}/internal/metrics`, { headers: { accept: 'application/json', 'x-forwarded-for': header } })
    t.equal(res.status, 403, `X-Forwarded-For: ${header}`)
  }
  t.equal(legacy.requests.length, 0, 'the upstream was not reached')
})
