import t, { type Test } from 'tap'
import { decodeJwt } from 'jose'
import { policyDir } from './helpers/policy-files.js'
import { sessionIdOf, startStack, type Stack } from './helpers/stack.js'

const REPORTS = 'https://reports.example.test'
const BROKEN = 'https://broken.example.test'

const POLICY = `
routes:
  - name: reports
    match: { path: /reports/** }
    allow: authenticated
    downstream_token: { scopes: ["reports:read"], resource: "${REPORTS}", header: X-Reports-Token }
  - name: reports-api
    match: { path: /api/** }
    allow: authenticated
    credentials: [bearer]
    downstream_token: { scopes: ["reports:read"], resource: "${REPORTS}", header: X-Reports-Token }
  - name: broken
    match: { path: /broken/** }
    allow: authenticated
    downstream_token: { scopes: ["broken:read"], resource: "${BROKEN}", header: X-Broken-Token }
  - name: rest
    match: { path: /** }
    allow: authenticated
`

/** The dev IdP with a reports API, the gateway on a clock the test moves, and a count of redemptions for the reports API. */
async function downstreamStack (t: Test): Promise<{ stack: Stack, redemptions: () => number, advance: (ms: number) => void }> {
  const { file } = policyDir(t, POLICY)
  let offset = 0
  const stack = await startStack(t, {
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_BEARER_AUDIENCES: 'gatehouse-test' },
    resources: [{ indicator: REPORTS, scopes: ['reports:read'] }, { indicator: BROKEN, scopes: ['broken:read'] }],
    clock: () => Date.now() + offset,
  })
  let redemptions = 0
  stack.idp.use(async (ctx, next) => {
    await next()
    const params = ctx.oidc?.params ?? {}
    if (ctx.method !== 'POST' || ctx.path !== '/token' || params.grant_type !== 'refresh_token') return
    if (params.resource === BROKEN) {
      // The IdP refuses tokens for this API.
      ctx.status = 400
      ctx.body = { error: 'invalid_request', error_description: 'this resource is not available to this client' }
    } else if (params.resource === REPORTS && ctx.status === 200) {
      redemptions++
    }
  })
  return { stack, redemptions: () => redemptions, advance: ms => { offset += ms } }
}

t.test('a session: consent, the token sent upstream, reuse, renewal, one redemption for concurrent requests', async t => {
  const { stack, redemptions, advance } = await downstreamStack(t)
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const api = async (path: string, headers: Record<string, string> = {}): Promise<Response> => await fetch(`${stack.url}${path}`, { headers: { cookie, accept: 'application/json', ...headers } })
  const reached = (path: string): boolean => stack.app.requests.some(r => r.url === path)

  await t.test('an API request before consent: 401 with a login_url asking for the scopes', async t => {
    const res = await api('/reports/q1')
    t.equal(res.status, 401)
    const body = await res.json() as { error: { code: string, login_url: string, scopes: string[] } }
    t.equal(body.error.code, 'GH_DOWNSTREAM_CONSENT_REQUIRED')
    t.same(body.error.scopes, ['reports:read'])
    const login = new URL(body.error.login_url)
    t.equal(login.pathname, '/.gatehouse/login')
    t.equal(login.searchParams.get('return'), '/reports/q1')
    t.equal(login.searchParams.get('scope'), 'reports:read')
    t.equal(login.searchParams.get('resource'), REPORTS)
    t.notOk(reached('/reports/q1'), 'the upstream was not reached')
  })

  await t.test('a navigation signs in again with the extra scopes and lands with the token', async t => {
    const page = await browser.get(`${stack.url}/reports/home`)
    t.equal(page.status, 200, page.body.slice(0, 200))
    t.equal(new URL(page.url).pathname, '/reports/home')
    const authorize = page.history.map(h => h.url).find(u => u.includes('/auth?'))
    t.ok(authorize, 'went through the IdP')
    const asked = new URL(authorize ?? 'http://x/')
    t.match(asked.searchParams.get('scope'), /\breports:read\b/)
    t.equal(asked.searchParams.get('resource'), REPORTS)
    const seen = stack.app.requests.find(r => r.url === '/reports/home')
    const token = decodeJwt(String(seen?.headers['x-reports-token']))
    t.match(token, { aud: REPORTS, sub: 'alice', scope: 'reports:read' })
  })

  const newCookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const call = async (path: string, headers: Record<string, string> = {}): Promise<Response> => await fetch(`${stack.url}${path}`, { headers: { cookie: newCookie, accept: 'application/json', ...headers } })
  const tokenAt = (path: string): string => String(stack.app.requests.find(r => r.url === path)?.headers['x-reports-token'])

  await t.test('a second request reuses the token; a client\'s copy of the header never passes', async t => {
    const before = redemptions()
    t.equal((await call('/reports/again', { 'x-reports-token': 'forged', 'X_Reports_Token': 'forged' })).status, 200)
    t.equal(redemptions(), before, 'no new redemption')
    t.equal(tokenAt('/reports/again'), tokenAt('/reports/home'), 'the same token')
    t.equal((await call('/elsewhere', { 'x-reports-token': 'forged' })).status, 200)
    const other = stack.app.requests.find(r => r.url === '/elsewhere')?.headers ?? {}
    t.equal(other['x-reports-token'], undefined, 'stripped on routes without the option too')
    t.equal(other.x_reports_token, undefined)
  })

  await t.test('near its expiry a new one is fetched, once for concurrent requests', async t => {
    advance(600_000)
    const before = redemptions()
    const answers = await Promise.all(Array.from({ length: 6 }, async (_, i) => await call(`/reports/burst-${i}`)))
    t.same(answers.map(a => a.status), [200, 200, 200, 200, 200, 200])
    t.equal(redemptions(), before + 1, 'one redemption')
    const tokens = new Set(Array.from({ length: 6 }, (_, i) => tokenAt(`/reports/burst-${i}`)))
    t.equal(tokens.size, 1, 'all six carry the same new token')
    t.not([...tokens][0], tokenAt('/reports/home'), 'not the old one')
  })

  await t.test('an IdP failure: 502, and the upstream is not reached', async t => {
    const res = await call('/broken/x')
    t.equal(res.status, 502)
    t.match(await res.json(), { error: { code: 'GH_DOWNSTREAM_TOKEN_FAILED', reason: 'idp_refused' } })
    t.notOk(reached('/broken/x'))
  })

  await t.test('the token is in no log line and not readable in the session record', async t => {
    const token = tokenAt('/reports/burst-0')
    const signature = token.split('.')[2] ?? ''
    t.ok(signature.length > 20)
    t.notOk(stack.logs.lines.some(l => l.includes(signature)), 'not logged')
    t.ok(stack.logs.lines.some(l => l.includes('downstream_token.redeemed')), 'the redemption is logged')
    const raw = await stack.redis?.get(stack.sessionKey(stack.sessionCookie(browser) ?? '')) ?? ''
    t.ok(raw.startsWith('v1.'), 'the session record is encrypted')
    t.notOk(raw.includes(signature) || raw.includes('reports'), 'the token is not in it in the clear')
    const record = await stack.gateway.store.get(sessionIdOf(stack.sessionCookie(browser) ?? ''), { fresh: true })
    t.equal(Object.values(record?.tokens?.downstream ?? {})[0]?.accessToken, token, 'it is kept with the session')
  })
})

t.test('a bearer caller: token exchange, reuse, consent required', async t => {
  const { stack } = await downstreamStack(t)
  const now = Math.floor(Date.now() / 1000)
  const subject = async (sub: string): Promise<string> => await stack.idp.signJwt({ iss: stack.idp.issuer, sub, aud: stack.clientId, azp: 'reports-spa', scope: 'api', iat: now, exp: now + 600 }, { typ: 'at+jwt' })
  stack.idp.consent('alice', stack.clientId, REPORTS, ['reports:read'])
  const alice = await subject('alice')
  const call = async (path: string, token: string): Promise<Response> => await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'x-reports-token': 'forged' } })

  t.equal((await call('/api/one', alice)).status, 200)
  const first = stack.app.requests.find(r => r.url === '/api/one')?.headers ?? {}
  t.match(decodeJwt(String(first['x-reports-token'])), { aud: REPORTS, sub: 'alice', scope: 'reports:read', act: { sub: stack.clientId } }, 'exchanged on alice\'s behalf')
  t.equal(first.authorization, undefined, 'the caller\'s own token is not forwarded')
  t.equal(stack.idp.grants.token_exchange, 1)

  t.equal((await call('/api/two', alice)).status, 200)
  t.equal(stack.app.requests.find(r => r.url === '/api/two')?.headers['x-reports-token'], first['x-reports-token'], 'reused')
  t.equal(stack.idp.grants.token_exchange, 1, 'no second exchange')
  const cached = await stack.redis?.keys(`${stack.keyPrefix}*downstream*`) ?? []
  t.equal(cached.length, 1, 'kept beside the sessions')
  t.notOk((await stack.redis?.get(cached[0] ?? '') ?? '').includes(String(first['x-reports-token']).split('.')[2]), 'encrypted')

  const bob = await call('/api/three', await subject('bob'))
  t.equal(bob.status, 401)
  t.match(bob.headers.get('www-authenticate'), /^Bearer realm="gatehouse", error="insufficient_scope".*scope="reports:read"/)
  t.match(await bob.json(), { error: { code: 'GH_DOWNSTREAM_CONSENT_REQUIRED', scopes: ['reports:read'] } })
  t.notOk(stack.app.requests.some(r => r.url === '/api/three'))
})
