import t from 'tap'
import { WebSocket } from 'ws'
import { APPS, API, GROUP_NAMES, HOME, READER_APP, USERS } from '../entra/fixtures.js'
import { startAttackStack } from '../helpers/attack-stack.js'
import { policyDir } from '../helpers/policy-files.js'
import { rawHead } from '../helpers/raw-http.js'
import { startStack } from '../helpers/stack.js'

/**
 * WebSocket upgrades, sent raw: without a session, with a forged, revoked
 * or signed-out one, by users the route does not allow, on routes with
 * WebSockets off, through path tricks, and with spoofed identity headers.
 * Refused upgrades never reach the upstream; allowed ones reach it at the
 * path that was decided on, with the gateway's identity only. Upgrades that
 * the session cookie authenticates come from public_url's origin or one the
 * route lists (cross-site WebSocket hijacking).
 */
const POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: public
    match: { path: /public/** }
    upstream: app
    allow: anyone
  - name: no-websockets
    match: { path: /nows/** }
    upstream: app
    websockets: false
    allow: authenticated
  - name: admin
    match: { path: /admin/** }
    upstream: app
    allow: [{ groups: [admins] }]
  - name: ws
    match: { path: /ws/** }
    upstream: app
    allow: authenticated
  - name: embedded
    match: { path: /embedded/** }
    upstream: app
    websocket_origins: [https://embed.example.test]
    allow: authenticated
  - name: everything
    match: { path: /** }
    upstream: app
    allow: authenticated
`

function upgrade (method: string, target: string, extra: string[] = []): string {
  return [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', ...extra, '', ''].join('\r\n')
}

t.test('WebSocket upgrades', async t => {
  const s = await startAttackStack(t, POLICY)
  const { stack } = s
  const name = stack.gateway.cookies.session
  const alice = await s.cookie('alice')
  const bob = await s.cookie('bob')
  const { browser: revokedBrowser } = await stack.signIn('carol', '/.gatehouse/login?return=/public/x')
  const revoked = `${name}=${stack.sessionCookie(revokedBrowser) ?? ''}`
  await stack.gateway.store.revoke('user', 'carol')
  const { browser: outBrowser } = await stack.signIn('dave', '/.gatehouse/login?return=/public/x')
  const signedOut = `${name}=${stack.sessionCookie(outBrowser) ?? ''}`
  const out = await fetch(`${stack.url}/.gatehouse/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: signedOut, origin: stack.url } })
  if (out.status !== 303) throw new Error(`sign-out answered ${out.status}`)
  // The page that opens a signed-in user's WebSocket is the gateway's own.
  const own = `Origin: ${stack.url}`
  // Same site as the gateway (cookies and SameSite ignore the port), as a sibling subdomain is.
  const samesite = `Origin: http://127.0.0.1:${s.port === 65535 ? 65534 : s.port + 1}`

  // [case, method, target, extra header lines, status, path the upstream receives, user it is told about]
  const cases: Array<[string, string, string, string[], number, string?, string?]> = [
    ['control: a signed-in user', 'GET', '/ws/chat', [`Cookie: ${alice}`, own], 101, '/ws/chat', 'alice'],
    ['control: a public route, anonymously', 'GET', '/public/feed', [], 101, '/public/feed', ''],
    ['no session', 'GET', '/ws/chat', [], 401],
    ['a forged session cookie', 'GET', '/ws/chat', [`Cookie: ${name}=forged.value`], 401],
    ['a revoked session', 'GET', '/ws/chat', [`Cookie: ${revoked}`, own], 401],
    ['a signed-out session', 'GET', '/ws/chat', [`Cookie: ${signedOut}`, own], 401],
    ['a spoofed user header instead of a session', 'GET', '/ws/chat', ['X-Gatehouse-User: alice', 'X_Gatehouse_Groups: admins'], 401],
    ['a user outside the route\'s group', 'GET', '/admin/ws', [`Cookie: ${bob}`, own], 403],
    ['a route with WebSockets off', 'GET', '/nows/ws', [`Cookie: ${alice}`, own], 403],
    ['dot segments into the protected route, anonymously', 'GET', '/public/../ws/chat', [], 401],
    ['encoded dot segments, anonymously', 'GET', '/public/%2e%2e/ws/chat', [], 401],
    ['an encoded slash', 'GET', '/public/..%2fws/chat', [], 400],
    ['a double slash', 'GET', '//ws/chat', [], 401],
    ['a ..; segment', 'GET', '/public/..;/ws/chat', [], 400],
    ['case that changes the route', 'GET', '/WS/chat', [`Cookie: ${alice}`, own], 400],
    ['dot segments into the admin route, by staff', 'GET', '/public/%2e%2e/admin/ws', [`Cookie: ${bob}`, own], 403],
    ['dot segments, allowed: the decided path is forwarded', 'GET', '/public/../ws/./chat?room=1', [`Cookie: ${alice}`, own], 101, '/ws/chat?room=1', 'alice'],
    ['spoofed identity headers with a session', 'GET', '/ws/chat', [`Cookie: ${alice}`, own, 'X-Gatehouse-User: mallory', 'X_Gatehouse_Groups: admins', 'Remote-User: mallory'], 101, '/ws/chat', 'alice'],
    ['spoofed identity headers in spellings frameworks fold, with a session', 'GET', '/ws/chat', [`Cookie: ${alice}`, own, 'x.gatehouse.user: mallory', 'X-Gatehouse.Groups: admins', 'x-gatehouse~assertion: forged', 'Remote.User: mallory'], 101, '/ws/chat', 'alice'],
    ['spoofed identity headers in spellings frameworks fold, anonymously', 'GET', '/public/feed', ['x.gatehouse.user: mallory', 'XGatehouseGroups: admins'], 101, '/public/feed', ''],
    ['an upgrade with POST', 'POST', '/ws/chat', [`Cookie: ${alice}`, own, 'Content-Length: 0'], 405],
    ['an upgrade with TRACE', 'TRACE', '/ws/chat', [`Cookie: ${alice}`, own], 405],
    ['cross-site: another site\'s page with a signed-in user\'s cookie', 'GET', '/ws/chat', [`Cookie: ${alice}`, 'Origin: https://evil.example'], 403],
    ['cross-site: a same-site page on another port, as a sibling subdomain', 'GET', '/ws/chat', [`Cookie: ${alice}`, samesite], 403],
    ['cross-site: no Origin with the cookie', 'GET', '/ws/chat', [`Cookie: ${alice}`], 403],
    ['cross-site: an opaque (sandboxed) origin', 'GET', '/ws/chat', [`Cookie: ${alice}`, 'Origin: null'], 403],
    ['cross-site: a route\'s listed origin on another route', 'GET', '/ws/chat', [`Cookie: ${alice}`, 'Origin: https://embed.example.test'], 403],
    ['a route\'s listed origin', 'GET', '/embedded/chat', [`Cookie: ${alice}`, 'Origin: https://embed.example.test'], 101, '/embedded/chat', 'alice'],
    ['another site\'s page on a public route, anonymously', 'GET', '/public/feed', ['Origin: https://evil.example'], 101, '/public/feed', ''],
    ['an upgrade with two Host lines', 'GET', '/ws/chat', [`Cookie: ${alice}`, own, 'Host: admin.example.com'], 400],
  ]
  for (const [label, method, target, extra, status, path, user] of cases) {
    t.test(`${label}: ${method} ${target}`, async t => {
      const before = s.up.seen.length
      const res = await rawHead(s.port, upgrade(method, target, extra))
      t.equal(res.status, status)
      if (path === undefined) {
        t.same(s.up.seen.slice(before), [], 'the upstream was not reached')
        if (label.startsWith('cross-site')) await stack.logs.waitFor(r => r.audit === true && r.event === 'access.denied' && r.reason === 'websocket_origin' && r.user === 'alice')
        return
      }
      const got = await s.up.waitFor(r => r.websocket && s.up.seen.indexOf(r) >= before)
      t.equal(got.url, path, 'the upstream got the upgrade at the decided path')
      const identity: string[] = []
      for (let i = 0; i < got.rawHeaders.length; i += 2) {
        // Folded as upstreams do: lower case, letters and digits only.
        const header = (got.rawHeaders[i] ?? '').toLowerCase().replace(/[^a-z0-9]/gu, '')
        if (header.startsWith('xgatehouse') || header === 'remoteuser') identity.push(`${header}: ${got.rawHeaders[i + 1] ?? ''}`)
      }
      if (user === '') t.same(identity, [], 'no identity headers on a public route')
      else {
        t.same(identity.filter(h => h.startsWith('xgatehouseuser:') || h.startsWith('remoteuser')), [`xgatehouseuser: ${user}`], 'the gateway\'s user only')
        t.same(identity.filter(h => h.startsWith('xgatehousegroups:')), ['xgatehousegroups: admins,staff'], 'the gateway\'s groups only, once')
      }
      t.notMatch(s.up.values(got, 'cookie').join('; '), new RegExp(`(^|; )${name}=`), 'no session cookie')
    })
  }
})

t.test('a WebSocket upgrade with a bearer token is decided by the token, whatever its origin', async t => {
  const { file } = policyDir(t, `routes:
  - name: ws
    match: { path: /ws }
    credentials: [session, bearer]
    allow: authenticated
`)
  const stack = await startStack(t, {
    entra: { tenant: 'organizations', users: USERS, apps: APPS },
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_ENTRA_GROUP_NAMES: GROUP_NAMES, GATEHOUSE_ENTRA_ALLOWED_TENANTS: HOME, GATEHOUSE_BEARER_AUDIENCES: API },
  })
  const token = await stack.entra?.clientCredentials(READER_APP, `${API}/.default`) ?? ''
  const wsUrl = `${stack.url.replace(/^http/, 'ws')}/ws`
  const status = async (headers: Record<string, string>): Promise<number> => await new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, { headers })
    socket.once('open', () => { socket.close(); resolve(101) })
    socket.once('unexpected-response', (_req, res) => { socket.terminate(); resolve(res.statusCode ?? 0) })
    socket.once('error', reject)
  })
  t.equal(await status({ authorization: `Bearer ${token}` }), 101, 'a bearer token without Origin')
  t.equal(await status({ authorization: `Bearer ${token}`, origin: 'https://evil.example' }), 101, 'a bearer token from another origin: a page there cannot hold the user\'s token')
  t.equal(await status({ authorization: 'Bearer not-a-token', origin: stack.url }), 401, 'control: a bad token is refused from the gateway\'s own origin too')
})
