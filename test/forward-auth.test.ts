import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import t from 'tap'
import { policyDir } from './helpers/policy-files.js'
import { startStack, type Stack } from './helpers/stack.js'

/**
 * The forward-auth endpoint asked directly, as a proxy would: the "proxy"
 * connects from 127.0.0.2 (trusted_proxies), anyone else from 127.0.0.1.
 */
const PROXY_ADDRESS = '127.0.0.2'

interface Answer { status: number, headers: IncomingHttpHeaders, body: string, json: { error?: { code?: string, reason?: string, login_url?: string, route?: string } } }

async function ask (stack: Stack, path: string, headers: Record<string, string | string[]>, opts: { from?: string, method?: string, body?: string } = {}): Promise<Answer> {
  // The path goes out exactly as written (a URL parser would resolve its dot segments).
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: new URL(stack.url).port, path, method: opts.method ?? 'GET', headers, localAddress: opts.from ?? PROXY_ADDRESS }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => {
        let json = {}
        try { json = JSON.parse(body) as Answer['json'] } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json })
      })
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

const POLICY = `
routes:
  - name: public
    match: { path: /public/** }
    allow: anyone
  - name: admin
    match: { path: /admin/** }
    allow:
      - groups: [admins]
  - name: reports-write
    match: { path: /reports/**, methods: [DELETE] }
    allow:
      - groups: [admins]
  - name: office
    match: { path: /office/** }
    allow:
      - ip: [192.0.2.0/24]
        anonymous: true
  - name: everything-else
    match: { path: /** }
    allow: authenticated
    headers: { user: Remote-User }
`

/** nginx's way of describing the request to check. */
function nginx (uri: string, method = 'GET', host = 'app.example.test'): Record<string, string> {
  return { 'x-original-uri': uri, 'x-original-method': method, 'x-forwarded-host': host, 'x-forwarded-proto': 'http' }
}

t.test('forward-auth: who may ask, and what a proxy must say', async t => {
  const { file } = policyDir(t, POLICY)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_TRUSTED_PROXIES: `${PROXY_ADDRESS}/32` } })
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`

  await t.test('a caller not in trusted_proxies is refused, whatever it says', async t => {
    const direct = await ask(stack, '/.gatehouse/auth', { ...nginx('/public/x'), cookie }, { from: '127.0.0.1' })
    t.equal(direct.status, 403)
    t.equal(direct.json.error?.code, 'GH_FORWARD_AUTH_UNTRUSTED')
    t.notOk(direct.headers['x-gatehouse-user'], 'no identity given away')
    const pathForm = await ask(stack, '/.gatehouse/auth/admin/x', { cookie }, { from: '127.0.0.1' })
    t.equal(pathForm.json.error?.code, 'GH_FORWARD_AUTH_UNTRUSTED', 'in path form too')
    t.ok(stack.logs.records().some(r => r.event === 'forward_auth.untrusted_peer' && r.peer === '127.0.0.1'), 'logged with the peer')
  })

  await t.test('the original method, target and host are required (400: the proxy is misconfigured)', async t => {
    for (const [missing, headers] of [
      ['missing_original_uri', { 'x-original-method': 'GET', 'x-forwarded-host': 'a.test' }],
      ['missing_original_method', { 'x-original-uri': '/x', 'x-forwarded-host': 'a.test' }],
      ['missing_original_host', { 'x-original-uri': '/x', 'x-original-method': 'GET' }],
    ] as const) {
      const answer = await ask(stack, '/.gatehouse/auth', { ...headers, cookie })
      t.equal(answer.status, 400, missing)
      t.equal(answer.json.error?.code, 'GH_FORWARD_AUTH_INCOMPLETE')
      t.equal(answer.json.error?.reason, missing)
    }
  })

  await t.test('descriptions that disagree, repeat or cannot be read are denied, never guessed at', async t => {
    const cases: Array<[string, Record<string, string | string[]>]> = [
      ['conflicting_headers', { ...nginx('/admin/x'), 'x-forwarded-uri': '/public/x' }],
      ['conflicting_headers', { ...nginx('/reports/1', 'DELETE'), 'x-forwarded-method': 'GET' }],
      ['conflicting_headers', { ...nginx('/admin/x'), 'x-original-url': 'http://app.example.test/public/x' }],
      ['conflicting_headers', { ...nginx('/admin/x'), 'x-original-url': 'http://other.example.test/admin/x' }],
      ['repeated_header', { ...nginx('/admin/x'), 'x-original-uri': ['/public/x', '/admin/x'] }],
      ['bad_method', nginx('/reports/1', 'delete')],
      ['bad_host', nginx('/admin/x', 'GET', 'app.example.test\t.evil')],
      ['bad_host', nginx('/admin/x', 'GET', 'a.test, b.test')],
      ['bad_proto', { ...nginx('/admin/x'), 'x-forwarded-proto': 'gopher' }],
      ['bad_original_url', { 'x-original-url': 'http://user@app.example.test/admin/x', 'x-original-method': 'GET' }],
    ]
    for (const [reason, headers] of cases) {
      const answer = await ask(stack, '/.gatehouse/auth', { ...headers, cookie })
      t.equal(answer.status, 403, `${reason}: ${JSON.stringify(headers)}`)
      t.equal(answer.json.error?.code, 'GH_FORWARD_AUTH_AMBIGUOUS')
      t.equal(answer.json.error?.reason, reason)
      t.notOk(answer.headers['x-gatehouse-user'])
    }
    const agreeing = await ask(stack, '/.gatehouse/auth', { ...nginx('/admin/x?a=1'), 'x-original-url': 'http://APP.example.test:8443/admin/x?a=1', 'x-forwarded-uri': '/admin/x?a=1', 'x-forwarded-method': 'GET', cookie })
    t.equal(agreeing.status, 200, 'every convention at once is fine when they agree (hosts compared as routes see them)')
  })

  await t.test('the original target gets the same canonical path as a proxied request', async t => {
    const climbs = await ask(stack, '/.gatehouse/auth', nginx('/public/../admin/x'))
    t.equal(climbs.status, 401, '/public/../admin is /admin: sign in, not public')
    t.equal(climbs.headers.location, `${stack.url}/.gatehouse/login?return=${encodeURIComponent('/admin/x')}`)
    for (const [uri, reason] of [['/public/..%2fadmin/x', 'encoded_separator'], ['/public/%2e%2e/%2e%2e/x', 'escapes_root'], ['http://evil.test/admin', 'not_origin_form'], ['/public/x\\..\\..\\admin', 'bad_character']] as const) {
      const answer = await ask(stack, '/.gatehouse/auth', nginx(uri))
      t.equal(answer.status, 403, uri)
      t.equal(answer.json.error?.code, 'GH_BAD_PATH')
      t.equal(answer.json.error?.reason, reason)
    }
    const caseTrick = await ask(stack, '/.gatehouse/auth', nginx('/ADMIN/x'))
    t.equal(caseTrick.status, 403)
    t.equal(caseTrick.json.error?.reason, 'ambiguous_case')
    const gatewayPath = await ask(stack, '/.gatehouse/auth', nginx('/.gatehouse/me'))
    t.equal(gatewayPath.status, 403, "the gateway's own paths are not for a proxy to pass on")
    t.equal(gatewayPath.json.error?.reason, 'gateway_path')
  })
})

t.test('forward-auth: the decision, and what the proxy is told to copy upstream', async t => {
  const { file } = policyDir(t, POLICY)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_TRUSTED_PROXIES: `${PROXY_ADDRESS}/32` } })
  const alice = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const bob = await stack.signIn('bob', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookieOf = (b: typeof alice): string => `${stack.gateway.cookies.session}=${stack.sessionCookie(b.browser) ?? ''}`

  await t.test('public routes: 200 without identity, and the session is not even read', async t => {
    const answer = await ask(stack, '/.gatehouse/auth', { ...nginx('/public/logo.png'), cookie: `${stack.gateway.cookies.session}=s%3Agarbage.sig` })
    t.equal(answer.status, 200)
    t.same(Object.keys(answer.headers).filter(h => h.startsWith('x-gatehouse-')), [])
    t.equal(answer.headers['x-envoy-auth-headers-to-remove'], 'x-gatehouse-user, x-gatehouse-email, x-gatehouse-name, x-gatehouse-groups, x-gatehouse-roles, x-gatehouse-kind, x-gatehouse-tenant, x-gatehouse-client, x-gatehouse-client-cert-subject, x-gatehouse-client-cert-issuer, x-gatehouse-client-cert-san, x-gatehouse-client-cert-thumbprint, x-gatehouse-assertion, x-gatehouse-access-token', 'Envoy is told to remove what a client may have sent')
    t.equal(answer.headers['cache-control'], 'no-store')
  })

  await t.test('allowed: 200 with exactly the identity headers and assertion an upstream would get', async t => {
    const answer = await ask(stack, '/.gatehouse/auth', { ...nginx('/admin/users?page=2'), cookie: cookieOf(alice) })
    t.equal(answer.status, 200)
    t.equal(answer.headers['x-gatehouse-user'], 'alice')
    t.equal(answer.headers['x-gatehouse-email'], 'alice@example.test')
    t.equal(answer.headers['x-gatehouse-groups'], 'admins,staff')
    t.equal(answer.headers['x-gatehouse-roles'], 'App.Admin')
    const { payload } = await jwtVerify(String(answer.headers['x-gatehouse-assertion']), createRemoteJWKSet(new URL('/.gatehouse/jwks.json', stack.url)), { issuer: stack.url, audience: stack.app.url })
    t.equal(payload.sub, 'alice', 'the assertion verifies against the JWKS, for the upstream as audience')
    const extra = await ask(stack, '/.gatehouse/auth', { ...nginx('/home'), cookie: cookieOf(bob) })
    t.equal(extra.status, 200)
    t.equal(extra.headers['remote-user'], 'bob', "the route's extra header names too")
    t.equal(extra.headers['x-envoy-auth-headers-to-remove'], 'x-gatehouse-roles, x-gatehouse-tenant, x-gatehouse-client, x-gatehouse-client-cert-subject, x-gatehouse-client-cert-issuer, x-gatehouse-client-cert-san, x-gatehouse-client-cert-thumbprint, x-gatehouse-access-token', 'only those not set (bob has a name, an email and groups; no roles, no tenant, no client, no certificate)')
    // Compare with what the same request gets through the gateway itself.
    const proxied = await fetch(`${stack.url}/home`, { headers: { cookie: cookieOf(bob), accept: 'application/json' } })
    t.equal(proxied.status, 200)
    const upstream = stack.app.requests.at(-1)?.headers ?? {}
    for (const name of ['x-gatehouse-user', 'x-gatehouse-email', 'x-gatehouse-name', 'x-gatehouse-groups', 'x-gatehouse-roles', 'remote-user']) {
      t.equal(extra.headers[name], upstream[name], `${name} as the upstream receives it`)
    }
  })

  await t.test('identity headers under spellings a proxy cannot replace: 403, on every route, signed in or not', async t => {
    const spellings: Array<[string, string]> = [['x.gatehouse.user', 'admin'], ['X_Gatehouse_Groups', 'admins'], ['xgatehouseassertion', 'forged'], ['Remote.User', 'admin'], ['remote_user', 'admin']]
    for (const [header, value] of spellings) {
      for (const [label, path, cookie] of [['public, anonymously', '/public/x', undefined], ['signed in', '/home', cookieOf(bob)]] as const) {
        const answer = await ask(stack, '/.gatehouse/auth', { ...nginx(path), [header]: value, accept: 'application/json', ...(cookie === undefined ? {} : { cookie }) })
        t.equal(answer.status, 403, `${header} (${label})`)
        t.equal(answer.json.error?.code, 'GH_FORWARD_AUTH_RESERVED_HEADER')
        t.equal(answer.json.error?.reason, 'reserved_header')
      }
    }
    const exact = await ask(stack, '/.gatehouse/auth', { ...nginx('/home'), 'X-Gatehouse-User': 'admin', 'Remote-User': 'admin', cookie: cookieOf(bob) })
    t.equal(exact.status, 200, 'the exact names are the proxy\'s to replace with the answer')
    t.equal(exact.headers['x-gatehouse-user'], 'bob')
  })

  await t.test('not signed in: 401 with the sign-in location and the original path to return to', async t => {
    const answer = await ask(stack, '/.gatehouse/auth', { ...nginx('/admin/users?page=2&sort=name'), accept: 'application/json' })
    t.equal(answer.status, 401)
    const login = `${stack.url}/.gatehouse/login?return=${encodeURIComponent('/admin/users?page=2&sort=name')}`
    t.equal(answer.headers.location, login)
    t.equal(answer.json.error?.code, 'GH_UNAUTHENTICATED')
    t.equal(answer.json.error?.login_url, login)
    t.match(String(answer.headers['www-authenticate']), /^Session realm="gatehouse", login_url=/)
    const page = await ask(stack, '/.gatehouse/auth', { ...nginx('/admin/x'), accept: 'text/html', 'sec-fetch-mode': 'navigate' })
    t.equal(page.status, 401, 'a navigation still gets 401 (nginx turns it into a redirect)')
    t.match(page.body, /href="[^"]*\/\.gatehouse\/login\?return=%2Fadmin%2Fx"/, 'with a sign-in link on the page')
    const forged = await ask(stack, '/.gatehouse/auth', { ...nginx('//evil.example/x'), accept: 'application/json' })
    t.equal(forged.status, 401)
    t.equal(forged.json.error?.login_url, `${stack.url}/.gatehouse/login?return=${encodeURIComponent('/evil.example/x')}`, 'the return target is a path of this origin')
  })

  await t.test('?redirect=true: browser navigations are sent to sign in (302), API calls still get 401', async t => {
    const nav = await ask(stack, '/.gatehouse/auth?redirect=true', { ...nginx('/admin/x'), accept: 'text/html', 'sec-fetch-mode': 'navigate' })
    t.equal(nav.status, 302)
    t.equal(nav.headers.location, `${stack.url}/.gatehouse/login?return=%2Fadmin%2Fx`)
    const api = await ask(stack, '/.gatehouse/auth?redirect=true', { ...nginx('/admin/x'), accept: 'application/json' })
    t.equal(api.status, 401)
    const post = await ask(stack, '/.gatehouse/auth?redirect=true', { ...nginx('/admin/x', 'POST'), accept: 'text/html', 'sec-fetch-mode': 'navigate' })
    t.equal(post.status, 401, 'only GET and HEAD navigations are redirected')
  })

  await t.test('denied: 403 with the route and reason, audited like a proxied request', async t => {
    const answer = await ask(stack, '/.gatehouse/auth', { ...nginx('/admin/x'), cookie: cookieOf(bob), accept: 'application/json' })
    t.equal(answer.status, 403)
    t.equal(answer.json.error?.code, 'GH_FORBIDDEN')
    t.equal(answer.json.error?.reason, 'group_required')
    t.notOk(answer.headers['x-gatehouse-user'])
    t.ok(stack.logs.records().some(r => r.event === 'access.denied' && r.user === 'bob' && r.route === 'admin'), 'audited')
    const anonymous = await ask(stack, '/.gatehouse/auth', { ...nginx('/admin/x'), 'x-forwarded-host': 'app.example.test' })
    t.equal(anonymous.status, 401, 'control: the same request without a session')
  })

  await t.test('the original method decides, not the method of the forward-auth request', async t => {
    t.equal((await ask(stack, '/.gatehouse/auth', { ...nginx('/reports/1', 'GET'), cookie: cookieOf(bob) })).status, 200)
    const del = await ask(stack, '/.gatehouse/auth', { ...nginx('/reports/1', 'DELETE'), cookie: cookieOf(bob) })
    t.equal(del.status, 403)
    t.equal(del.json.error?.reason, 'group_required')
  })

  await t.test("the client's address comes from X-Forwarded-For, never from the proxy's own", async t => {
    const without = await ask(stack, '/.gatehouse/auth', nginx('/office/x'))
    t.equal(without.status, 403, 'no X-Forwarded-For: the address is unknown, and fails the ip rule')
    t.equal(without.json.error?.reason, 'network_not_allowed')
    const inside = await ask(stack, '/.gatehouse/auth', { ...nginx('/office/x'), 'x-forwarded-for': '192.0.2.10' })
    t.equal(inside.status, 200)
    const outside = await ask(stack, '/.gatehouse/auth', { ...nginx('/office/x'), 'x-forwarded-for': '192.0.2.10, 198.51.100.7' })
    t.equal(outside.status, 403, 'the rightmost untrusted entry is the client')
  })

  await t.test('a body sent along with the check is ignored, however large or malformed', async t => {
    const answer = await ask(stack, '/.gatehouse/auth', { ...nginx('/admin/x', 'POST'), cookie: cookieOf(alice), 'content-type': 'application/json' }, { method: 'POST', body: `{not json${'x'.repeat(200_000)}` })
    t.equal(answer.status, 200)
    t.equal(answer.headers['x-gatehouse-user'], 'alice')
  })

  await t.test("path form (Envoy's path_prefix): the target follows /.gatehouse/auth, the method and Host are the request's own", async t => {
    const allowed = await ask(stack, '/.gatehouse/auth/admin/users?page=2', { host: 'app.example.test', cookie: cookieOf(alice) })
    t.equal(allowed.status, 200)
    t.equal(allowed.headers['x-gatehouse-user'], 'alice')
    const head = await ask(stack, '/.gatehouse/auth/admin/users', { host: 'app.example.test', cookie: cookieOf(alice) }, { method: 'HEAD' })
    t.equal(head.status, 200, 'any method, HEAD included')
    t.equal(head.headers['x-gatehouse-user'], 'alice')
    const denied = await ask(stack, '/.gatehouse/auth/reports/1', { host: 'app.example.test', cookie: cookieOf(bob) }, { method: 'DELETE' })
    t.equal(denied.status, 403)
    const nav = await ask(stack, '/.gatehouse/auth/admin/x', { host: 'app.example.test', accept: 'text/html', 'sec-fetch-mode': 'navigate' })
    t.equal(nav.status, 302, 'navigations are redirected to sign in')
    t.equal(nav.headers.location, `${stack.url}/.gatehouse/login?return=%2Fadmin%2Fx`)
    const climbs = await ask(stack, '/.gatehouse/auth/public/../admin/x', { host: 'app.example.test', accept: 'application/json' })
    t.equal(climbs.status, 401, 'the target is made canonical on its own: /public/../admin is /admin')
    const escapes = await ask(stack, '/.gatehouse/auth/../../admin/x', { host: 'app.example.test', accept: 'application/json' })
    t.equal(escapes.status, 403, 'it cannot climb out of the endpoint')
    t.equal(escapes.json.error?.reason, 'escapes_root')
    const conflicting = await ask(stack, '/.gatehouse/auth/admin/x', { host: 'app.example.test', 'x-original-uri': '/public/x', cookie: cookieOf(alice) })
    t.equal(conflicting.status, 403, 'a header that disagrees with the path is a conflict')
    t.equal(conflicting.json.error?.code, 'GH_FORWARD_AUTH_AMBIGUOUS')
  })
})
