import { createPublicKey } from 'node:crypto'
import t, { type Test } from 'tap'
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose'
import { policyDir } from '../helpers/policy-files.js'
import { startStack, type Stack } from '../helpers/stack.js'
import { ALICE, API, APPS, FOREIGN_APP, GROUP_NAMES, HOME, OTHER, PLAIN_APP, POLICY, READER_APP, USERS } from './fixtures.js'

const now = (): number => Math.floor(Date.now() / 1000)

async function bearerStack (t: Test): Promise<Stack> {
  const { file } = policyDir(t, POLICY)
  return await startStack(t, {
    entra: { tenant: 'organizations', users: USERS, apps: APPS },
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_ENTRA_GROUP_NAMES: GROUP_NAMES, GATEHOUSE_ENTRA_ALLOWED_TENANTS: HOME, GATEHOUSE_BEARER_AUDIENCES: API },
  })
}

async function call (url: string, token: string | undefined, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(url, { headers: { accept: 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers } })
}

/** A delegated (user) access token for the API as Entra would issue it. */
function userToken (stack: Stack, extra: JWTPayload = {}): JWTPayload {
  return { iss: `${stack.entra?.url ?? ''}/${HOME}/v2.0`, aud: API, tid: HOME, oid: ALICE.oid, sub: 'pairwise-alice', azp: 'f0000000-0000-4000-8000-0000000spa01', name: ALICE.name, preferred_username: ALICE.upn, scp: 'Reports.Read', roles: [], ver: '2.0', iat: now(), nbf: now(), exp: now() + 600, ...extra }
}

t.test('client-credentials tokens: app roles and client ids through the policy', async t => {
  const stack = await bearerStack(t)
  const entra = stack.entra
  if (entra === undefined) throw new Error('no Entra stand-in')
  const reader = await entra.clientCredentials(READER_APP, `${API}/.default`)

  const ok = await call(`${stack.url}/api/reports/q1`, reader)
  t.equal(ok.status, 200, 'an app with the Reports.Read app role passes')
  const seen = stack.app.requests.find(r => r.url === '/api/reports/q1')
  t.equal(seen?.headers['x-gatehouse-kind'], 'application', 'the upstream is told the caller is an application')
  t.equal(seen?.headers['x-gatehouse-client'], READER_APP.clientId)
  t.equal(seen?.headers['x-gatehouse-user'], `${HOME}/${READER_APP.oid}`)
  t.equal(seen?.headers['x-gatehouse-roles'], 'Reports.Read')
  t.equal(seen?.headers.authorization, undefined, 'the bearer token itself is not forwarded')
  t.equal(seen?.headers.cookie, undefined)
  const assertion = decodeJwt(String(seen?.headers['x-gatehouse-assertion']))
  t.match(assertion, { kind: 'application', client_id: READER_APP.clientId, tid: HOME, roles: ['Reports.Read'] }, 'the signed assertion says the same')
  t.equal(ok.headers.get('set-cookie'), null, 'no session is created for a bearer call')
  t.equal((await stack.redis?.keys(`${stack.keyPrefix}session:*`))?.length, 0, 'nothing stored')

  t.equal((await call(`${stack.url}/api/reader/x`, reader)).status, 200, 'client_ids lets the listed app in')

  const plain = await entra.clientCredentials(PLAIN_APP, `${API}/.default`)
  const noRole = await call(`${stack.url}/api/reports/q2`, plain)
  t.equal(noRole.status, 403, 'an app without the role is refused')
  t.match(await noRole.json(), { error: { reason: 'role_required' } })
  t.equal((await call(`${stack.url}/api/reader/y`, plain)).status, 403, 'client_ids keeps other apps out')
  t.notOk(stack.app.requests.some(r => r.url === '/api/reports/q2' || r.url === '/api/reader/y'), 'refused calls never reached the upstream')
})

t.test('delegated tokens: scopes through the policy', async t => {
  const stack = await bearerStack(t)
  const entra = stack.entra
  if (entra === undefined) throw new Error('no Entra stand-in')
  const ok = await call(`${stack.url}/api/reports/mine`, await entra.sign(userToken(stack)))
  t.equal(ok.status, 200)
  const seen = stack.app.requests.find(r => r.url === '/api/reports/mine')
  t.equal(seen?.headers['x-gatehouse-kind'], 'user')
  t.equal(seen?.headers['x-gatehouse-user'], `${HOME}/${ALICE.oid}`, 'the same key as her browser session would have')
  t.match(decodeJwt(String(seen?.headers['x-gatehouse-assertion'])), { kind: 'user', scp: 'Reports.Read' })

  const noScope = await call(`${stack.url}/api/reports/other`, await entra.sign(userToken(stack, { scp: 'User.Read' })))
  t.equal(noScope.status, 403)
  t.match(noScope.headers.get('www-authenticate'), /error="insufficient_scope"/)
  t.notOk(stack.app.requests.some(r => r.url === '/api/reports/other'))
})

t.test('a bearer-only route answers 401 Bearer, never a redirect', async t => {
  const stack = await bearerStack(t)
  for (const headers of [{}, { accept: 'text/html', 'sec-fetch-mode': 'navigate' }] as Array<Record<string, string>>) {
    const res = await fetch(`${stack.url}/api/reports/x`, { headers, redirect: 'manual' })
    t.equal(res.status, 401)
    t.equal(res.headers.get('www-authenticate'), 'Bearer realm="gatehouse"')
  }
  const basic = await call(`${stack.url}/api/reports/x`, undefined, { authorization: 'Basic YTpi' })
  t.equal(basic.status, 401, 'another scheme is no credential')
  t.equal(stack.app.requests.length, 0)
})

t.test('a route that takes both: session cookie or bearer token', async t => {
  const stack = await bearerStack(t)
  const entra = stack.entra
  if (entra === undefined) throw new Error('no Entra stand-in')
  const { browser } = await stack.signIn('alice', '/')
  t.equal((await browser.get(`${stack.url}/api/mixed/a`)).status, 200, 'with the session cookie')
  t.equal((await call(`${stack.url}/api/mixed/b`, await entra.clientCredentials(READER_APP, `${API}/.default`))).status, 200, 'with a token')
  const none = await call(`${stack.url}/api/mixed/c`, undefined)
  t.equal(none.status, 401)
  t.match(none.headers.get('www-authenticate'), /Bearer realm="gatehouse", Session realm="gatehouse"/)
  const bad = await call(`${stack.url}/api/mixed/d`, 'not.a.token')
  t.equal(bad.status, 401, 'a bad token is not ignored in favour of nothing')
  t.notOk(stack.app.requests.some(r => r.url === '/api/mixed/c' || r.url === '/api/mixed/d'))
})

t.test('tokens that must be refused', async t => {
  const stack = await bearerStack(t)
  const entra = stack.entra
  if (entra === undefined) throw new Error('no Entra stand-in')
  const jwks = await (await fetch(`${entra.idp.issuer}/jwks`)).json() as { keys: Array<Record<string, string>> }
  const realKey = jwks.keys.find(k => k.kty === 'RSA')
  if (realKey === undefined) throw new Error('the IdP has no RSA key')
  const attacker = await generateKeyPair('RS256', { extractable: true })
  const attackerJwk = await exportJWK(attacker.publicKey)
  const unsigned = (header: object, payload: object): string => `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`
  const publicPem = createPublicKey({ key: realKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' })

  const cases: Array<[string, () => Promise<string>]> = [
    ['wrong audience', async () => await entra.sign(userToken(stack, { aud: 'api://another-api' }))],
    ['an ID token used as an access token', async () => await entra.sign({ ...userToken(stack), azp: undefined, scp: undefined, nonce: 'n-0S6_WzA2Mj' })],
    ['expired', async () => await entra.sign(userToken(stack, { iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 }))],
    ['not yet valid', async () => await entra.sign(userToken(stack, { nbf: now() + 3600, exp: now() + 7200 }))],
    ['no expiry', async () => await entra.sign(userToken(stack, { exp: undefined }))],
    ['alg none', async () => unsigned({ alg: 'none', typ: 'JWT' }, userToken(stack))],
    ['HS256 signed with the public key', async () => await new SignJWT(userToken(stack)).setProtectedHeader({ alg: 'HS256', kid: realKey.kid }).sign(new TextEncoder().encode(publicPem.toString()))],
    ['a jku header pointing elsewhere', async () => await entra.sign(userToken(stack), { jku: 'http://127.0.0.1:9/keys' })],
    ['an embedded jwk of the attacker', async () => await new SignJWT(userToken(stack)).setProtectedHeader({ alg: 'RS256', jwk: attackerJwk }).sign(attacker.privateKey)],
    ['an x5u header', async () => await entra.sign(userToken(stack), { x5u: 'http://127.0.0.1:9/cert.pem' })],
    ['signed by a key the provider does not publish', async () => await new SignJWT(userToken(stack)).setProtectedHeader({ alg: 'RS256', kid: realKey.kid }).sign(attacker.privateKey)],
    ['a token from another tenant', async () => await entra.sign(userToken(stack, { iss: `${entra.url}/${OTHER}/v2.0`, tid: OTHER }))],
    ['iss of the allowed tenant, tid of another', async () => await entra.sign(userToken(stack, { tid: OTHER }))],
    ['tid of the allowed tenant, iss of another', async () => await entra.sign(userToken(stack, { iss: `${entra.url}/${OTHER}/v2.0` }))],
    ['an app of another tenant', async () => await entra.clientCredentials(FOREIGN_APP, `${API}/.default`)],
    ['a v1 token while only v2 issuers are accepted', async () => await entra.sign(userToken(stack, { iss: `https://sts.windows.net/${HOME}/`, ver: '1.0' }))],
    ['a Graph token (another audience) of a signed-in user', async () => {
      const { browser } = await stack.signIn('alice', '/')
      const tokens = [...entra.graphTokens.keys()]
      t.ok(browser, 'signed in')
      return tokens[tokens.length - 1] ?? ''
    }],
    ['not a JWT', async () => 'abc.def'],
  ]
  for (const [name, make] of cases) {
    const path = `/api/reports/${encodeURIComponent(name.replace(/\W+/g, '-'))}`
    const res = await call(`${stack.url}${path}`, await make())
    t.equal(res.status, 401, `${name}: 401`)
    t.match(res.headers.get('www-authenticate'), /^Bearer realm="gatehouse", error="invalid_token"/, `${name}: invalid_token`)
    t.notOk(stack.app.requests.some(r => r.url === path), `${name}: the upstream was not reached`)
  }
  const reasons = stack.logs.records().filter(r => r.event === 'bearer.refused').map(r => (r as { err: { detail: string } }).err.detail)
  t.equal(reasons.length, cases.length, 'each refusal is logged with its reason')
  t.match(reasons.join('\n'), /algorithm none is not accepted[\s\S]*algorithm HS256 is not accepted[\s\S]*names its own key \(jku\)[\s\S]*names its own key \(jwk\)[\s\S]*an ID token is not an access token|aud/)
  t.notMatch(stack.logs.lines.join('\n'), /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/, 'no token in the log')
})

t.test('v1 issuers are accepted where configured', async t => {
  const stack = await bearerStack(t)
  const entra = stack.entra
  if (entra === undefined) throw new Error('no Entra stand-in')
  const replica = await stack.startReplica({ GATEHOUSE_BEARER_ISSUERS: `${entra.url}/{tenantid}/v2.0,https://sts.windows.net/{tenantid}/` })
  const v1 = await entra.sign(userToken(stack, { iss: `https://sts.windows.net/${HOME}/`, ver: '1.0', azp: undefined, appid: 'f0000000-0000-4000-8000-0000000spa01' }))
  t.equal((await call(`${replica.url}/api/reports/v1`, v1)).status, 200, 'v1 token (appid instead of azp)')
  t.equal((await call(`${replica.url}/api/reports/v2`, await entra.sign(userToken(stack)))).status, 200, 'v2 token still')
  const foreignV1 = await entra.sign(userToken(stack, { iss: `https://sts.windows.net/${OTHER}/`, tid: OTHER, ver: '1.0' }))
  t.equal((await call(`${replica.url}/api/reports/v1-other`, foreignV1)).status, 401, 'a v1 token of another tenant is refused')
})

t.test('forward-auth decides bearer calls the same way', async t => {
  const { file } = policyDir(t, POLICY)
  const stack = await startStack(t, {
    entra: { tenant: 'organizations', users: USERS, apps: APPS },
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_ENTRA_GROUP_NAMES: GROUP_NAMES, GATEHOUSE_ENTRA_ALLOWED_TENANTS: HOME, GATEHOUSE_BEARER_AUDIENCES: API, GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1/32' },
  })
  const entra = stack.entra
  if (entra === undefined) throw new Error('no Entra stand-in')
  const check = async (token: string | undefined): Promise<Response> => await call(`${stack.url}/.gatehouse/auth`, token, { 'x-original-uri': '/api/reports/q', 'x-original-method': 'GET', 'x-forwarded-host': 'app.example.test', 'x-forwarded-proto': 'https' })
  const ok = await check(await entra.clientCredentials(READER_APP, `${API}/.default`))
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('x-gatehouse-kind'), 'application', 'the proxy is told to pass the application identity on')
  t.equal(ok.headers.get('x-gatehouse-client'), READER_APP.clientId)
  t.equal((await check(await entra.clientCredentials(PLAIN_APP, `${API}/.default`))).status, 403, 'an app without the role')
  t.equal((await check(await entra.sign(userToken(stack, { aud: 'api://another-api' })))).status, 401, 'a bad token')
  t.equal((await check(undefined)).status, 401, 'no token')
})
