import t from 'tap'
import { startAttackStack } from '../helpers/attack-stack.js'
import { rawHead } from '../helpers/raw-http.js'

/**
 * WebSocket upgrades, sent raw: without a session, with a forged, revoked
 * or signed-out one, by users the route does not allow, on routes with
 * WebSockets off, through path tricks, and with spoofed identity headers.
 * Refused upgrades never reach the upstream; allowed ones reach it at the
 * path that was decided on, with the gateway's identity only.
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

  // [case, method, target, extra header lines, status, path the upstream receives, user it is told about]
  const cases: Array<[string, string, string, string[], number, string?, string?]> = [
    ['control: a signed-in user', 'GET', '/ws/chat', [`Cookie: ${alice}`], 101, '/ws/chat', 'alice'],
    ['control: a public route, anonymously', 'GET', '/public/feed', [], 101, '/public/feed', ''],
    ['no session', 'GET', '/ws/chat', [], 401],
    ['a forged session cookie', 'GET', '/ws/chat', [`Cookie: ${name}=forged.value`], 401],
    ['a revoked session', 'GET', '/ws/chat', [`Cookie: ${revoked}`], 401],
    ['a signed-out session', 'GET', '/ws/chat', [`Cookie: ${signedOut}`], 401],
    ['a spoofed user header instead of a session', 'GET', '/ws/chat', ['X-Gatehouse-User: alice', 'X_Gatehouse_Groups: admins'], 401],
    ['a user outside the route\'s group', 'GET', '/admin/ws', [`Cookie: ${bob}`], 403],
    ['a route with WebSockets off', 'GET', '/nows/ws', [`Cookie: ${alice}`], 403],
    ['dot segments into the protected route, anonymously', 'GET', '/public/../ws/chat', [], 401],
    ['encoded dot segments, anonymously', 'GET', '/public/%2e%2e/ws/chat', [], 401],
    ['an encoded slash', 'GET', '/public/..%2fws/chat', [], 400],
    ['a double slash', 'GET', '//ws/chat', [], 401],
    ['a ..; segment', 'GET', '/public/..;/ws/chat', [], 400],
    ['case that changes the route', 'GET', '/WS/chat', [`Cookie: ${alice}`], 400],
    ['dot segments into the admin route, by staff', 'GET', '/public/%2e%2e/admin/ws', [`Cookie: ${bob}`], 403],
    ['dot segments, allowed: the decided path is forwarded', 'GET', '/public/../ws/./chat?room=1', [`Cookie: ${alice}`], 101, '/ws/chat?room=1', 'alice'],
    ['spoofed identity headers with a session', 'GET', '/ws/chat', [`Cookie: ${alice}`, 'X-Gatehouse-User: mallory', 'X_Gatehouse_Groups: admins', 'Remote-User: mallory'], 101, '/ws/chat', 'alice'],
    ['spoofed identity headers in spellings frameworks fold, with a session', 'GET', '/ws/chat', [`Cookie: ${alice}`, 'x.gatehouse.user: mallory', 'X-Gatehouse.Groups: admins', 'x-gatehouse~assertion: forged', 'Remote.User: mallory'], 101, '/ws/chat', 'alice'],
    ['spoofed identity headers in spellings frameworks fold, anonymously', 'GET', '/public/feed', ['x.gatehouse.user: mallory', 'XGatehouseGroups: admins'], 101, '/public/feed', ''],
    ['an upgrade with POST', 'POST', '/ws/chat', [`Cookie: ${alice}`, 'Content-Length: 0'], 405],
    ['an upgrade with TRACE', 'TRACE', '/ws/chat', [`Cookie: ${alice}`], 405],
    ['an upgrade with two Host lines', 'GET', '/ws/chat', [`Cookie: ${alice}`, 'Host: admin.example.com'], 400],
  ]
  for (const [label, method, target, extra, status, path, user] of cases) {
    t.test(`${label}: ${method} ${target}`, async t => {
      const before = s.up.seen.length
      const res = await rawHead(s.port, upgrade(method, target, extra))
      t.equal(res.status, status)
      if (path === undefined) {
        t.same(s.up.seen.slice(before), [], 'the upstream was not reached')
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
