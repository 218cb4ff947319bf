import t from 'tap'
import { resolve } from 'node:path'
import { Browser } from './helpers/browserless.js'
import { rawRequest } from './helpers/raw-http.js'
import { startStack } from './helpers/stack.js'

interface Echo { headers: Record<string, string | undefined> }

t.test('identity headers sent by the client never reach the upstream, in any spelling', async t => {
  const stack = await startStack(t)
  const { browser } = await stack.signIn('bob')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const port = Number(new URL(stack.url).port)
  const spoofs = [
    'X-Gatehouse-User: admin',
    'x-gatehouse-user: admin',
    'X-GATEHOUSE-USER: admin',
    'X_Gatehouse_User: admin',
    'x_gatehouse-user: admin',
    'X-Gatehouse-Groups: admins',
    'X_GATEHOUSE_GROUPS: admins',
    'X-Gatehouse-Roles: App.Admin',
    'X-Gatehouse-Email: admin@example.test',
    'X-Gatehouse-Assertion: forged',
    'X-Gatehouse-Anything: x',
  ]
  for (const spoof of spoofs) {
    const before = stack.app.requests.length
    const res = await rawRequest(port, `GET /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${cookie}\r\n${spoof}\r\n${spoof}\r\nConnection: close\r\n\r\n`)
    t.equal(res.status, 200, spoof)
    const seen = stack.app.requests[before]?.headers ?? {}
    const names = Object.keys(seen).filter(n => n.replaceAll('_', '-').toLowerCase().startsWith('x-gatehouse-'))
    t.same(names.filter(n => n !== n.toLowerCase() || n.includes('_')), [], `${spoof}: no foreign spelling reaches the upstream`)
    t.equal(seen['x-gatehouse-user'], 'bob', `${spoof}: user is the gateway's`)
    t.equal(seen['x-gatehouse-groups'], 'staff', `${spoof}: groups are the gateway's`)
    t.notOk('x-gatehouse-roles' in seen, `${spoof}: bob has no roles: no roles header, and not the client's`)
    t.not(seen['x-gatehouse-assertion'], 'forged')
    t.equal(seen['x-gatehouse-anything'], undefined)
    t.equal(seen.x_gatehouse_user, undefined)
  }
})

t.test('a client Connection header cannot remove the identity headers the gateway adds', async t => {
  const stack = await startStack(t)
  const { browser } = await stack.signIn('alice')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const port = Number(new URL(stack.url).port)
  for (const connection of ['X-Gatehouse-User', 'close, X-Gatehouse-User, X-Gatehouse-Assertion', 'keep-alive, x-gatehouse-groups', 'X-Forwarded-For, X-Gatehouse-Roles']) {
    const before = stack.app.requests.length
    const res = await rawRequest(port, `GET /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${cookie}\r\nConnection: ${connection}\r\n\r\n`)
    t.equal(res.status, 200, connection)
    const seen = stack.app.requests[before]?.headers ?? {}
    t.equal(seen['x-gatehouse-user'], 'alice', `${connection}: user kept`)
    t.equal(seen['x-gatehouse-groups'], 'admins,staff', `${connection}: groups kept`)
    t.equal(seen['x-gatehouse-roles'], 'App.Admin', `${connection}: roles kept`)
    t.ok(seen['x-gatehouse-assertion'], `${connection}: assertion kept`)
    t.ok(seen['x-forwarded-for'], `${connection}: x-forwarded-for kept`)
  }
})

t.test('gateway cookies are stripped from what the upstream receives; the app\'s own cookies pass', async t => {
  const stack = await startStack(t)
  const { browser } = await stack.signIn('alice')
  const session = stack.sessionCookie(browser) ?? ''
  const res = await fetch(`${stack.url}/api/echo`, { headers: { accept: 'application/json', cookie: `app_pref=dark; ${stack.gateway.cookies.session}=${session}; gatehouse-signin=abc; other=1` } })
  const seen = await res.json() as Echo
  t.equal(seen.headers.cookie, 'app_pref=dark; other=1')
})

t.test('forwarding headers describe the client as the gateway saw it', async t => {
  const stack = await startStack(t)
  const { browser } = await stack.signIn('alice')
  const session = stack.sessionCookie(browser) ?? ''
  const res = await fetch(`${stack.url}/api/echo`, { headers: { accept: 'application/json', cookie: `${stack.gateway.cookies.session}=${session}`, 'x-forwarded-for': '6.6.6.6', 'x-real-ip': '6.6.6.6', forwarded: 'for=6.6.6.6', 'x-forwarded-host': 'evil.example' } })
  const seen = await res.json() as Echo
  t.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
  t.equal(seen.headers['x-forwarded-host'], new URL(stack.url).host)
  t.equal(seen.headers['x-forwarded-proto'], 'http')
  t.equal(seen.headers['x-real-ip'], undefined)
  t.equal(seen.headers.forwarded, undefined)
  t.equal(seen.headers['x-request-id'], res.headers.get('x-request-id'))
})

t.test('the upstream cannot set or clear the gateway\'s cookies', async t => {
  const { upstreamResponseHeaders } = await import('../src/proxy/forward-headers.js')
  const out = upstreamResponseHeaders({ 'set-cookie': ['gatehouse=evil; Path=/', 'app=1; Path=/', 'gatehouse-signin=x', ' gatehouse =y'] }, ['gatehouse', 'gatehouse-signin'])
  t.same(out['set-cookie'], ['app=1; Path=/'])
})

t.test('the sample app: a public page is an anonymous request; absent groups or roles headers mean none', async t => {
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: resolve('policies/demo') } })
  const anonymous = await new Browser().get(`${stack.url}/public/`)
  t.equal(anonymous.status, 200)
  t.match(anonymous.body, /anonymous request, no assertion/)
  t.notMatch(anonymous.body, /Assertion not verified/, 'no red warning where no assertion is expected')

  const { page } = await stack.signIn('bob', '/home')
  t.match(page.body, /Assertion verified against the gateway's JWKS/)
  t.match(page.body, /<th>x-gatehouse-roles<\/th><td class="muted">none \(not sent\)<\/td>/, 'bob has no roles: shown as none')
  t.match(page.body, /<th>x-gatehouse-groups<\/th><td>staff<\/td>/)
  t.match(page.body, /&quot;roles&quot;: \[\]/, 'the assertion says the same: an empty list')
})
