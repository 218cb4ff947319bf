import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { Browser } from './helpers/browserless.js'
import { startNginx, type Nginx } from './helpers/nginx.js'
import { policyDir } from './helpers/policy-files.js'
import { freePort } from './helpers/ports.js'
import { rawRequest } from './helpers/raw-http.js'
import { startStack, type Stack } from './helpers/stack.js'

/**
 * Gatehouse behind a real nginx, which asks it with auth_request and
 * forwards to the app itself: the configuration from docs/forward-auth.md (read
 * from it, not copied), with the addresses of this test. nginx makes its auth subrequests from 127.0.0.2, the one
 * address in trusted_proxies; the test's own requests come from 127.0.0.1.
 */
const NGINX_AUTH_ADDRESS = '127.0.0.2'

const POLICY = `
routes:
  - name: public
    match: { path: /public/** }
    allow: anyone
  - name: admin
    match: { path: /admin/** }
    allow:
      - groups: [admins]
  - name: everything-else
    match: { path: /** }
    allow: authenticated
`

/**
 * The nginx snippet users copy: the first ```nginx block under the "nginx"
 * heading of docs/forward-auth.md.
 */
function documentedNginxSnippet (): string {
  const file = 'docs/forward-auth.md'
  const text = readFileSync(file, 'utf8')
  const heading = /^#{2,4} nginx\s*$/m.exec(text)
  if (heading === null) throw new Error(`${file}: no "nginx" heading`)
  const block = /^```nginx\n([\s\S]*?)^```$/m.exec(text.slice(heading.index))
  if (block?.[1] === undefined) throw new Error(`${file}: no \`\`\`nginx block under the "nginx" heading`)
  return block[1]
}

/** Replaces what `pattern` matches, exactly once, so that a changed snippet fails here rather than run with the example addresses. */
function rewrite (text: string, pattern: RegExp, replacement: string, what: string): string {
  const found = text.match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`))?.length ?? 0
  if (found !== 1) throw new Error(`the documented nginx snippet has ${found} ${what} (expected 1): ${pattern}`)
  return text.replace(pattern, replacement)
}

/**
 * The documented snippet with this test's addresses: the two upstreams, a
 * loopback listener without TLS, and the check's subrequests bound to
 * NGINX_AUTH_ADDRESS (so that the test's own requests come from an address
 * that is not trusted).
 */
function nginxConf (listen: number, gatehouse: string, app: string): string {
  let conf = documentedNginxSnippet()
  conf = rewrite(conf, /(upstream gatehouse\s*\{\s*server\s+)[^;\s]+;/, `$1${new URL(gatehouse).host};`, 'gatehouse upstreams')
  conf = rewrite(conf, /(upstream app\s*\{\s*server\s+)[^;\s]+;/, `$1${new URL(app).host};`, 'app upstreams')
  conf = rewrite(conf, /listen\s+[^;]+;/, `listen 127.0.0.1:${listen};`, 'listen directives')
  conf = rewrite(conf, /(proxy_pass http:\/\/gatehouse\/\.gatehouse\/auth;)/, `$1\n    proxy_bind ${NGINX_AUTH_ADDRESS};`, 'auth subrequest locations')
  return conf
}

interface Setup { stack: Stack, nginx: Nginx, url: string }

/** The stack with nginx's address as its public URL, then nginx in front; a port taken meanwhile means another try. */
async function setUp (t: Test): Promise<Setup> {
  const { file } = policyDir(t, POLICY)
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const stack = await startStack(t, { publicUrl: url, env: { GATEHOUSE_POLICIES: file, GATEHOUSE_TRUSTED_PROXIES: `${NGINX_AUTH_ADDRESS}/32` } })
    try {
      const nginx = await startNginx(t, nginxConf(port, stack.url, stack.app.url))
      return { stack, nginx, url }
    } catch (err) {
      if (!/Address already in use/.test(String(err)) || attempt === 3) throw err
    }
  }
}

interface AppView { url: string, headers: Record<string, string | undefined>, identity: Record<string, string>, assertion: { valid: boolean, claims?: { sub?: string, aud?: string, iss?: string }, error?: string } }

t.test('behind nginx auth_request: sign-in through nginx, identity copied upstream, denials, spoofing', async t => {
  const { stack, nginx, url } = await setUp(t)
  const appRequests = (): number => stack.app.requests.filter(r => !r.url.startsWith('/.gatehouse/')).length

  await t.test('public routes pass without a session, and a client cannot pose as anyone', async t => {
    const res = await fetch(`${url}/public/info`, { headers: { accept: 'application/json', 'x-gatehouse-user': 'mallory', 'x-gatehouse-groups': 'admins' } })
    t.equal(res.status, 200)
    const seen = await res.json() as AppView
    t.equal(seen.url, '/public/info')
    t.notOk(seen.headers['x-gatehouse-user'], "the client's X-Gatehouse-User did not reach the app")
    t.notOk(seen.headers['x-gatehouse-groups'])
  })

  await t.test('unauthenticated: nginx sends the browser to sign in, with the page first asked for', async t => {
    const before = appRequests()
    const res = await fetch(`${url}/reports/2026?sort=desc`, { redirect: 'manual' })
    t.equal(res.status, 302)
    t.equal(res.headers.get('location'), `${url}/.gatehouse/login?return=${encodeURIComponent('/reports/2026?sort=desc')}`)
    t.equal(appRequests(), before, 'nothing reached the app')
  })

  const alice = new Browser()
  await t.test('a person signs in through nginx with the IdP and lands where they were going', async t => {
    const landing = await stack.signIn('alice', '/admin/users?page=2', alice)
    t.equal(landing.page.status, 200)
    t.equal(landing.page.url, `${url}/admin/users?page=2`)
    t.ok(landing.page.history.some(h => h.url.startsWith(`${stack.idp.issuer}`)), 'went by the IdP')
    t.ok(stack.sessionCookie(alice), 'the session cookie is set on the public origin')
  })

  await t.test('signed in and allowed: the app receives the identity headers nginx copied, and the assertion verifies', async t => {
    const res = await alice.get(`${url}/api/whoami`, { headers: { accept: 'application/json', 'x-gatehouse-user': 'mallory' } })
    t.equal(res.status, 200)
    const seen = JSON.parse(res.body) as AppView
    t.equal(seen.headers['x-gatehouse-user'], 'alice')
    t.equal(seen.headers['x-gatehouse-email'], 'alice@example.test')
    t.equal(seen.headers['x-gatehouse-groups'], 'admins,staff')
    t.equal(seen.headers['x-gatehouse-roles'], 'App.Admin')
    t.equal(seen.assertion.valid, true, seen.assertion.error ?? 'assertion verified by the app against the JWKS, fetched through nginx')
    t.equal(seen.assertion.claims?.sub, 'alice')
    t.equal(seen.assertion.claims?.iss, url)
  })

  await t.test('signed in but not allowed: 403, and the app sees nothing', async t => {
    const bob = new Browser()
    await stack.signIn('bob', '/.gatehouse/login?return=/public/hello', bob)
    const before = appRequests()
    const denied = await bob.get(`${url}/admin/users`)
    t.equal(denied.status, 403)
    t.equal(appRequests(), before, 'the app was not asked')
    t.ok(stack.logs.records().some(r => r.event === 'access.denied' && r.user === 'bob' && r.route === 'admin'), 'audited by the gateway')
    const allowed = await bob.get(`${url}/reports/1`, { headers: { accept: 'application/json' } })
    t.equal(allowed.status, 200, 'bob may open what the policy lets him')
    t.equal((JSON.parse(allowed.body) as AppView).headers['x-gatehouse-user'], 'bob')
  })

  await t.test('spoofed descriptions of the request are not honoured', async t => {
    // Straight to the gateway, from an address not in trusted_proxies.
    const direct = await fetch(`${stack.url}/.gatehouse/auth`, { headers: { 'x-forwarded-uri': '/admin/x', 'x-forwarded-method': 'GET', 'x-forwarded-host': 'app', accept: 'application/json', cookie: `${stack.gateway.cookies.session}=${stack.sessionCookie(alice) ?? ''}` } })
    t.equal(direct.status, 403)
    t.equal((await direct.json() as { error: { code: string } }).error.code, 'GH_FORWARD_AUTH_UNTRUSTED')
    t.notOk(direct.headers.get('x-gatehouse-user'), 'no identity for an untrusted caller')

    // Through nginx: a client adds another convention's header to pass /admin off as a public path.
    const before = appRequests()
    const res = await fetch(`${url}/admin/secrets`, { redirect: 'manual', headers: { 'x-forwarded-uri': '/public/x', 'x-forwarded-method': 'GET', 'x-original-url': `${url}/public/x` } })
    t.equal(res.status, 403, 'the disagreement is a denial')
    t.equal(appRequests(), before, 'the app was not asked')
    t.ok(stack.logs.records().some(r => r.event === 'forward_auth.refused' && r.reason === 'conflicting_headers'), 'the gateway says why')

    // And the check endpoint cannot be asked from outside through nginx.
    const outside = await rawRequest(Number(new URL(url).port), `GET /.gatehouse/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Original-URI: /admin/x\r\nX-Original-Method: GET\r\nConnection: close\r\n\r\n`)
    t.equal(outside.status, 404, 'internal to nginx')
    const pathForm = await fetch(`${url}/.gatehouse/auth/admin/x`)
    t.equal(pathForm.status, 404, 'in path form too')
  })

  await t.test('path confusion through nginx: the gateway decides on the path nginx and the app read', async t => {
    const res = await fetch(`${url}/public/..%2fadmin/users`, { redirect: 'manual' })
    t.equal(res.status, 403, 'an encoded separator is refused by the gateway, and nginx denies')
    const climbs = await rawRequest(Number(new URL(url).port), 'GET /public/../admin/users HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    t.equal(climbs.status, 302, '/public/../admin is /admin, which needs a sign-in')
    t.match(climbs.head, /\r\nLocation: [^\r]*\/\.gatehouse\/login\?return=%2Fadmin%2Fusers(\r\n|$)/i)
  })

  await t.test('signing out through nginx ends access', async t => {
    const confirm = await alice.get(`${url}/.gatehouse/logout`)
    const out = await alice.submitForm(confirm, {})
    t.equal(out.status, 200)
    const after = await fetch(`${url}/api/whoami`, { redirect: 'manual', headers: { cookie: `${stack.gateway.cookies.session}=${stack.sessionCookie(alice) ?? 'gone'}` } })
    t.equal(after.status, 302, 'back to sign-in')
  })

  t.notMatch(nginx.errorLog(), /\[(emerg|alert|crit)\]/, 'nginx ran without errors')
})
