import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import { decide } from '../../src/authorize/decision.js'
import { identityFromClaims } from '../../src/identify/build-identity.js'
import { parseAddress } from '../../src/net/address.js'
import { loadPolicy } from '../../src/policy/load-policy.js'
import { policyDir, POLICY_USERS } from '../helpers/policy-files.js'
import { startStack } from '../helpers/stack.js'

/**
 * Regression tests, one per way past the gateway that was found and closed:
 * a Host an upstream decodes into a protected host, parameter-only path
 * segments, forwarding headers in other spellings, framing headers the
 * upstream client refuses, the gateway prefix in other spellings, upstream
 * URLs with a path, __Host- cookies cleared without Secure, unverified emails.
 * Everything runs on loopback: a real IdP, Redis, the gateway, and a Fastify
 * upstream that records what reaches it.
 */

interface Seen { url: string, headers: Record<string, unknown> }

/** A Fastify upstream: records every request; has an admin route whose first parameter it ignores. */
async function fastifyUpstream (t: { teardown (fn: () => unknown): void }): Promise<{ url: string, seen: Seen[], app: FastifyInstance }> {
  const seen: Seen[] = []
  const app = Fastify()
  app.addContentTypeParser('*', (_req, payload, done) => { payload.resume(); payload.on('end', () => done(null)) })
  app.addHook('onRequest', async req => { seen.push({ url: req.url, headers: { ...req.headers } }) })
  app.get('/api/:version/admin/users', async () => 'ADMIN USER LIST')
  app.get('/', async req => new URL(req.url, `http://${req.headers.host ?? ''}`).hostname === 'admin.example.com' ? 'ADMIN SITE' : 'public site')
  app.all('/*', async () => 'ok')
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, seen, app }
}

/** A gateway that lets anyone through to a Fastify upstream (one route, `/**`): for the cases where the path or headers, not the user, are the point. */
async function openGateway (t: { teardown (fn: () => unknown): void }): Promise<{ up: Awaited<ReturnType<typeof fastifyUpstream>>, port: number }> {
  const up = await fastifyUpstream(t)
  const { file } = policyDir(t, `
upstreams:
  app: { url: ${up.url} }
routes:
  - name: all
    match: { path: /** }
    upstream: app
    allow: anyone
`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file }, users: POLICY_USERS })
  return { up, port: Number(new URL(stack.url).port) }
}

/** Writes the bytes as given (latin1) and returns everything read until the server closes or `waitMs` passes. */
async function raw (port: number, request: string, waitMs = 2000): Promise<{ status: number, statuses: number[], head: string, body: string, text: string }> {
  const text = await new Promise<string>(resolve => {
    const socket = connect(port, '127.0.0.1')
    let out = ''
    const done = (): void => { clearTimeout(timer); socket.destroy(); resolve(out) }
    const timer = setTimeout(done, waitMs)
    socket.on('data', (b: Buffer) => { out += b.toString('latin1') })
    socket.on('end', done)
    socket.on('error', done)
    socket.write(Buffer.from(request, 'latin1'))
  })
  const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map(m => Number(m[1]))
  const final = text.lastIndexOf('HTTP/1.')
  const end = text.indexOf('\r\n\r\n', final)
  return { status: statuses.at(-1) ?? 0, statuses, head: text.slice(final, end), body: end === -1 ? '' : text.slice(end + 4), text }
}

t.test('host routing: a Host that a WHATWG URL parser reads as the protected host takes the protected route', async t => {
  const up = await fastifyUpstream(t)
  const { file } = policyDir(t, `
upstreams:
  site: { url: ${up.url} }
routes:
  - name: admin-site
    match: { host: admin.example.com, path: /** }
    upstream: site
    allow: [{ groups: [admins] }]
  - name: everything
    match: { path: /** }
    upstream: site
    allow: anyone
`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file }, users: POLICY_USERS })
  const port = Number(new URL(stack.url).port)
  // The upstream picks the site as Node's documentation shows: new URL(req.url, `http://${req.headers.host}`).
  for (const host of ['admin.example.com', '%61dmin.example.com', 'admin%2Eexample.com', 'admin.example.com\t:80', 'adm\tin.example.com', '%EF%BD%81dmin.example.com']) {
    const res = await raw(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`)
    t.not(res.body, 'ADMIN SITE', `Host ${JSON.stringify(host)}: an anonymous client does not reach the admin site (got ${res.status})`)
  }
})

t.test('paths: a path the upstream reads as a protected one is not matched to a weaker route', async t => {
  const up = await fastifyUpstream(t)
  const { file } = policyDir(t, `
upstreams:
  app: { url: ${up.url} }
routes:
  - name: api-admin
    match: { path: /api/*/admin/** }
    upstream: app
    allow: [{ groups: [admins] }]
  - name: api
    match: { path: /api/** }
    upstream: app
    allow: authenticated
  - name: admin
    match: { path: /admin/** }
    upstream: app
    allow: [{ groups: [admins] }]
  - name: rest
    match: { path: /** }
    upstream: app
    allow: authenticated
`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file }, users: POLICY_USERS })
  const { browser } = await stack.signIn('bob', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const port = Number(new URL(stack.url).port)
  const direct = await raw(port, `GET /api/v1/admin/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`)
  t.equal(direct.status, 403, 'bob (staff) may not open /api/v1/admin/users')
  for (const target of ['/api/;/admin/users', '/api/;jsessionid=1/admin/users']) {
    const res = await raw(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`)
    t.not(res.body, 'ADMIN USER LIST', `${target}: bob does not get the upstream's /api/:version/admin/users (got ${res.status})`)
  }
  // Upstreams that compare paths case-insensitively with Unicode case mapping (Java equalsIgnoreCase,
  // Python str.upper/casefold, JS toUpperCase, regexes with Unicode case folding) read these as /admin/x.
  for (const target of ['/adm%C4%B1n/x', '/ADM%C4%B0N/x']) {
    const before = up.seen.length
    const res = await raw(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`)
    t.equal(up.seen.length, before, `${target} (a non-ASCII letter whose case mapping is ASCII) is not forwarded under a weaker route than /admin/** (got ${res.status})`)
  }
})

t.test('forwarding headers: no spelling of them from the client reaches the upstream', async t => {
  const { up, port } = await openGateway(t)
  const spoofed = ['X-Forwarded_For', 'X_Forwarded_Host', 'X-Forwarded_Proto', 'X-Real_IP', 'X_Original_URL', 'X-Forwarded-Ssl', 'X-Forwarded-Scheme', 'X-Rewrite-URL', 'True-Client-IP']
  const res = await raw(port, `GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n${spoofed.map(h => `${h}: 203.0.113.66`).join('\r\n')}\r\nConnection: close\r\n\r\n`)
  t.equal(res.status, 200)
  const received = up.seen.at(-1)?.headers ?? {}
  for (const name of spoofed) t.equal(received[name.toLowerCase()], undefined, `${name} from the client is not forwarded`)
})

t.test('framing headers that the upstream client refuses do not turn a good request into a 502', async t => {
  const { port } = await openGateway(t)
  const expect = await raw(port, `POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nhello`)
  t.equal(expect.status, 200, `Expect: 100-continue (curl sends it for bodies over 1 KiB) is forwarded (statuses: ${expect.statuses.join(', ')})`)
  const upgrade = await raw(port, `GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nUpgrade: h2c\r\nConnection: close\r\n\r\n`)
  t.equal(upgrade.status, 200, 'an Upgrade header without Connection: upgrade is ignored, not a 502')
  const bigForm = 'a='.concat('x'.repeat(70_000))
  const form = await raw(port, `POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${bigForm.length}\r\nConnection: close\r\n\r\n${bigForm}`)
  t.equal(form.status, 200, 'a 70 kB form post reaches the upstream like any other body')
  const text = await raw(port, `POST /notes HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Length: 3\r\nConnection: close\r\n\r\n\xe9t\xe9`)
  t.equal(text.status, 200, 'a text/plain body in ISO-8859-1 is forwarded byte for byte')
  const latin1 = await raw(port, `POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\nConnection: close\r\n\r\na=\xe9\xe8`)
  t.equal(latin1.status, 200, 'a form body that is not UTF-8 is forwarded byte for byte')
  const oddType = await raw(port, `POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: application/x-www-form-urlencoded; charset\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=1`)
  t.not(oddType.status, 500, `a malformed Content-Type parameter is not a gateway 500 (got ${oddType.status})`)
})

t.test('the gateway prefix is never forwarded, in any spelling', async t => {
  const { up, port } = await openGateway(t)
  for (const target of ['/.gatehouse;x/jwks.json', '/.GATEHOUSE/jwks.json']) {
    const before = up.seen.length
    await raw(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n`)
    t.equal(up.seen.length, before, `${target} did not reach the upstream`)
  }
})

t.test('an upstream URL with a path is either refused at load or honoured, never a 500 per request', async t => {
  const up = await fastifyUpstream(t)
  const { file } = policyDir(t, `
upstreams:
  based: { url: ${up.url}/base }
routes:
  - name: all
    match: { path: /** }
    upstream: based
    allow: anyone
`)
  let stack
  try {
    stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file }, users: POLICY_USERS })
  } catch (err) {
    t.pass(`refused at load: ${(err as Error).message.slice(0, 120)}`)
    return
  }
  const res = await raw(Number(new URL(stack.url).port), 'GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n')
  t.not(res.status, 500, `GET /x through an upstream with a path (got ${res.status} ${res.body.slice(0, 80)})`)
})

t.test('sign-out clears a __Host- session cookie with attributes a browser accepts', async t => {
  const stack = await startStack(t, { env: { GATEHOUSE_PUBLIC_URL: 'https://app.example.test' } })
  const res = await raw(Number(new URL(stack.url).port), `POST /.gatehouse/logout HTTP/1.1\r\nHost: app.example.test\r\nOrigin: https://app.example.test\r\nCookie: __Host-gatehouse=s%3Aold.sig\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
  const clears = res.head.split('\r\n').filter(l => /^set-cookie: __Host-gatehouse=;/i.test(l))
  t.ok(clears.length > 0, 'the session cookie is cleared')
  for (const line of clears) t.match(line, /;\s*Secure/i, `a __Host- cookie is only cleared by a Set-Cookie with Secure: ${line}`)
})

t.test('email conditions do not trust an email the IdP marks unverified', async t => {
  const { file } = policyDir(t, `
routes:
  - name: staff
    match: { path: /** }
    upstream: app
    allow: [{ email_domains: [example.com] }]
upstreams:
  app: { url: http://127.0.0.1:9 }
`)
  const { policy } = loadPolicy(file, { defaultUpstream: undefined })
  const route = policy.routes[0]
  if (route === undefined) throw new Error('no route')
  const outsider = identityFromClaims({ iss: 'https://idp', sub: 'x1', email: 'ceo@example.com', email_verified: false }, { groupsClaim: 'groups', rolesClaim: 'roles' })
  const decision = decide(route, { identity: outsider, clientIp: parseAddress('192.0.2.1') })
  t.equal(decision.allow, false, 'an unverified ceo@example.com does not satisfy email_domains: [example.com]')
})
