import t, { type Test } from 'tap'
import { policyDir } from '../helpers/policy-files.js'
import { startStack, type Stack } from '../helpers/stack.js'
import { ALICE, API, APPS, BOB, CARA, EVE, GROUP_NAMES, HOME, OLGA, OTHER, POLICY, USERS } from './fixtures.js'

async function entraStack (t: Test, tenant: string, env: Record<string, string> = {}): Promise<Stack> {
  const { file } = policyDir(t, POLICY)
  return await startStack(t, {
    entra: { tenant, users: USERS, apps: APPS },
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_ENTRA_GROUP_NAMES: GROUP_NAMES, GATEHOUSE_ENTRA_GROUPS_CACHE_TTL: '1h', GATEHOUSE_ENTRA_MFA_AUTH_CONTEXTS: 'c1', GATEHOUSE_BEARER_AUDIENCES: API, ...env },
  })
}

function reached (stack: Stack, path: string): boolean {
  return stack.app.requests.some(r => r.url === path)
}

t.test('single tenant: the key is tid/oid, groups are named, roles, wids and amr reach the policy', async t => {
  const stack = await entraStack(t, HOME)
  const { browser, page } = await stack.signIn('alice', '/admins/')
  t.equal(page.status, 200, 'alice (in the admins group) passes')
  const seen = stack.app.requests.find(r => r.url === '/admins/')
  t.equal(seen?.headers['x-gatehouse-user'], `${HOME}/${ALICE.oid}`, 'the stable key is tid/oid, not the per-app sub')
  t.equal(seen?.headers['x-gatehouse-tenant'], HOME)
  t.equal(seen?.headers['x-gatehouse-groups'], 'admins', 'the group id is mapped to its configured name')
  t.equal(seen?.headers['x-gatehouse-email'], 'alice@contoso.test', 'preferred_username stands in for email')
  t.equal(seen?.headers['x-gatehouse-kind'], 'user')
  for (const path of ['/app-admin/', '/directory/', '/mfa/']) {
    t.equal((await browser.get(`${stack.url}${path}`)).status, 200, `alice passes ${path}`)
  }

  const bob = await stack.signIn('bob', '/admins/')
  t.equal(bob.page.status, 403, 'bob is in no group')
  for (const path of ['/app-admin/', '/directory/', '/mfa/']) {
    t.equal((await bob.browser.get(`${stack.url}${path}`)).status, 403, `bob is refused ${path}`)
    t.notOk(reached(stack, path) && stack.app.requests.filter(r => r.url === path).length > 1, `${path} reached the upstream only for alice`)
  }
  t.equal(stack.graph?.requests.length, 0, 'no Graph call when the token lists the groups')
})

t.test('single tenant: a user of another tenant is refused by issuer', async t => {
  const stack = await entraStack(t, HOME)
  const { page } = await stack.signIn('eve', '/admins/')
  t.equal(page.status, 502, 'the ID token of another tenant fails validation')
  t.match(page.body, /Signing in failed/)
  t.notOk(reached(stack, '/admins/'), 'the upstream was not reached')
  await stack.logs.waitFor(l => l.event === 'signin.failure')
})

t.test('multi-tenant (organizations): allowed tenants pass, others are refused', async t => {
  const stack = await entraStack(t, 'organizations', { GATEHOUSE_ENTRA_ALLOWED_TENANTS: HOME })
  const alice = await stack.signIn('alice', '/admins/')
  t.equal(alice.page.status, 200, 'a user of an allowed tenant passes')

  const eve = await stack.signIn('eve', '/admins/')
  t.equal(eve.page.status, 403, 'a user of a tenant not allowed is refused, although her token is valid and she is in admins')
  t.match(eve.page.body, /not accepted here/)
  t.equal(stack.app.requests.filter(r => r.url === '/admins/').length, 1, 'only alice reached the upstream')
  t.notOk(stack.sessionCookie(eve.browser), 'no session for the refused tenant')
  const failure = await stack.logs.waitFor(l => l.event === 'signin.failure' && String(l.detail).includes(OTHER))
  t.match(failure, { reason: 'GH_TENANT_REFUSED', detail: /not in entra.allowed_tenants/ })
})

t.test('multi-tenant with both tenants allowed: each user is keyed by their own tenant', async t => {
  const stack = await entraStack(t, 'common', { GATEHOUSE_ENTRA_ALLOWED_TENANTS: `${HOME},${OTHER}` })
  const eve = await stack.signIn('eve', '/admins/')
  t.equal(eve.page.status, 200)
  t.equal(stack.app.requests.find(r => r.url === '/admins/')?.headers['x-gatehouse-user'], `${OTHER}/${EVE.oid}`)
})

t.test('group overage: memberships are read from Graph, every page, and cached per user', async t => {
  const stack = await entraStack(t, HOME, { GATEHOUSE_UPSTREAM_FORWARD_GROUPS: 'mentioned' })
  const { page, browser } = await stack.signIn('olga', '/audit/')
  t.equal(page.status, 200, 'a group known only to Graph (beyond the 200 a token holds) lets her through')
  const pages = stack.graph?.requests ?? []
  t.equal(pages.length, 3, '250 groups at 100 a page: three pages')
  t.match(pages[0], /^\/v1\.0\/me\/transitiveMemberOf\/microsoft\.graph\.group\?/)
  t.match(pages[1], /skiptoken=100/)
  const seen = stack.app.requests.find(r => r.url === '/audit/')
  t.equal(seen?.headers['x-gatehouse-groups'], 'auditors', 'forward_groups: mentioned sends only the groups policies name')
  t.equal((await browser.get(`${stack.url}/admins/`)).status, 403, 'and only her own groups count')
  await stack.logs.waitFor(l => l.msg === 'group memberships read from Microsoft Graph (the token had too many to list)' && l.groups === OLGA.groups.length)

  const again = await stack.signIn('olga', '/audit/')
  t.equal(again.page.status, 200, 'a second sign-in of the same user')
  t.equal(stack.graph?.requests.length, 3, 'uses the cached memberships: no new Graph call')
  const cached = await stack.redis?.keys(`${stack.keyPrefix}value:entra-groups:*`)
  t.equal(cached?.length, 1, 'one cache entry per user in Redis')
  const raw = await stack.redis?.get(cached?.[0] ?? '')
  t.notMatch(String(raw), /c0000000/, 'the cached memberships are encrypted')
})

t.test('identity headers near common header limits draw a warning', async t => {
  const stack = await entraStack(t, HOME)
  await stack.signIn('olga', '/audit/')
  const line = await stack.logs.waitFor(l => l.event === 'identity_headers.large')
  t.equal(line.groups, OLGA.groups.length)
  t.ok(Number(line.bytes) > 6144)
})

t.test('group overage with only_named_groups keeps the configured groups only', async t => {
  const stack = await entraStack(t, HOME, { GATEHOUSE_ENTRA_ONLY_NAMED_GROUPS: 'true' })
  await stack.signIn('olga', '/audit/')
  t.equal(stack.app.requests.find(r => r.url === '/audit/')?.headers['x-gatehouse-groups'], 'auditors')
})

t.test('Graph failure fails closed: no session, a clear page and log line', async t => {
  const stack = await entraStack(t, HOME)
  if (stack.graph !== undefined) stack.graph.fault = { status: 500 }
  const { page, browser } = await stack.signIn('olga', '/audit/')
  t.equal(page.status, 503)
  t.match(page.body, /group memberships could not be read/)
  t.notOk(reached(stack, '/audit/'), 'the upstream was not reached')
  t.notOk(stack.sessionCookie(browser), 'no session without the groups')
  const line = await stack.logs.waitFor(l => l.msg === 'group memberships could not be read from Microsoft Graph: refused (fail closed)')
  t.match(line.err, { code: 'GH_GROUPS_UNAVAILABLE', detail: /HTTP 500/ })
})

t.test('Graph throttling: a short Retry-After is waited out, a long one fails closed', async t => {
  const stack = await entraStack(t, HOME, { GATEHOUSE_UPSTREAM_FORWARD_GROUPS: 'mentioned' })
  if (stack.graph !== undefined) stack.graph.fault = { status: 429, retryAfter: '1', times: 1 }
  const ok = await stack.signIn('olga', '/audit/')
  t.equal(ok.page.status, 200, 'signed in after waiting one second')
  t.equal(stack.graph?.requests.length, 4, 'the throttled page was asked again')

  const other = await entraStack(t, HOME)
  if (other.graph !== undefined) other.graph.fault = { status: 429, retryAfter: '120' }
  const refused = await other.signIn('olga', '/audit/')
  t.equal(refused.page.status, 503)
  await other.logs.waitFor(l => l.msg === 'group memberships could not be read from Microsoft Graph: refused (fail closed)' && /retry after 120 s/.test(String((l.err as { detail?: string }).detail)))
  t.equal(other.graph?.requests.length, 1, 'no waiting two minutes inside a request')
})

t.test('Graph paging never sends the token to another origin', async t => {
  const stack = await entraStack(t, HOME)
  if (stack.graph !== undefined) stack.graph.nextLinkOrigin = 'http://127.0.0.1:9'
  const { page } = await stack.signIn('olga', '/audit/')
  t.equal(page.status, 503)
  await stack.logs.waitFor(l => /leads away from Graph/.test(String((l.err as { detail?: string } | undefined)?.detail)))
})

t.test('an authentication context named in mfa_auth_contexts satisfies mfa', async t => {
  const stack = await entraStack(t, HOME)
  const cara = await stack.signIn('cara', '/mfa/')
  t.equal(cara.page.status, 200, 'acrs c1 counts as multi-factor')
  const bob = await stack.signIn('bob', '/mfa/')
  t.equal(bob.page.status, 403, 'a password-only sign-in does not')
  t.equal(BOB.amr?.includes('mfa'), false)
  t.ok(CARA.acrs?.includes('c1'))
})
