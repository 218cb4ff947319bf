import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { WebSocket } from 'ws'
import { startLegacyApp } from '../src/demo/legacy-app.js'
import { policyDir } from './helpers/policy-files.js'
import { startStack } from './helpers/stack.js'

t.test('per-route header names, audience, access token, prefix rewrite, WebSockets and timeout', async t => {
  const app = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  const held: ServerResponse[] = []
  const slow = createServer((_req, res) => { held.push(res) })
  await new Promise<void>(resolve => slow.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { for (const r of held) r.destroy(); slow.closeAllConnections(); slow.close(); await app.close() })
  const { file } = policyDir(t, `
upstreams:
  app: { url: "${app.url}" }
  slow: { url: "http://127.0.0.1:${(slow.address() as AddressInfo).port}", timeout: 30s }
routes:
  - name: legacy-console
    match: { path: /console/** }
    upstream: app
    allow: authenticated
    headers: { user: Remote-User, email: X-Forwarded-Email, groups: X-Groups, roles: X-Roles, name: X-Display-Name }
    assertion: { audience: "urn:legacy-console" }
    pass_access_token: true
  - name: api-v2
    match: { path: /api/** }
    upstream: app
    rewrite_prefix: /v2
    allow: authenticated
  - name: no-ws
    match: { path: /nows/** }
    upstream: app
    websockets: false
    allow: authenticated
  - name: quick
    match: { path: /quick/** }
    upstream: slow
    timeout: 300ms
    allow: anyone
  - name: rest
    match: { path: /** }
    upstream: app
    allow: authenticated
`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file } })
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const get = async (path: string, headers: Record<string, string> = {}): Promise<Response> => await fetch(`${stack.url}${path}`, { headers: { cookie, accept: 'application/json', ...headers } })
  const last = (): Record<string, string | string[] | undefined> => app.requests.at(-1)?.headers ?? {}

  await t.test('extra identity header names and the assertion audience', async t => {
    t.equal((await get('/console/home', { 'remote-user': 'mallory' })).status, 200)
    const h = last()
    t.equal(h['remote-user'], 'alice', 'Remote-User is the gateway\'s, not the client\'s')
    t.equal(h['x-forwarded-email'], 'alice@example.test')
    t.equal(h['x-groups'], 'admins,staff')
    t.equal(h['x-roles'], 'App.Admin')
    t.equal(h['x-display-name'], 'Alice Admin')
    t.equal(h['x-gatehouse-user'], 'alice', 'the X-Gatehouse-* headers are still sent')
    const jwks = createRemoteJWKSet(new URL(`${stack.url}/.gatehouse/jwks.json`))
    const { payload } = await jwtVerify(String(h['x-gatehouse-assertion']), jwks, { issuer: stack.url, audience: 'urn:legacy-console' })
    t.equal(payload.sub, 'alice')
    t.match(h['x-gatehouse-access-token'], /^\S{20,}$/, 'the access token is passed on this route')
  })

  await t.test('other routes: no access token, and the reserved names are stripped from clients', async t => {
    t.equal((await get('/elsewhere', { 'remote-user': 'mallory', remote_user: 'mallory', 'x-groups': 'admins', 'x-gatehouse-access-token': 'forged' })).status, 200)
    const h = last()
    t.equal(h['remote-user'], undefined)
    t.equal(h.remote_user, undefined)
    t.equal(h['x-groups'], undefined)
    t.equal(h['x-gatehouse-access-token'], undefined)
    t.equal(h['x-gatehouse-user'], 'alice')
  })

  await t.test('rewrite_prefix replaces the route\'s prefix', async t => {
    const rows: Array<[string, string]> = [
      ['/api/users?page=2', '/v2/users?page=2'],
      ['/api', '/v2'],
      ['/api/', '/v2/'],
      ['/api;p-internal/x', '/v2/x'],
    ]
    for (const [path, expected] of rows) {
      t.equal((await get(path)).status, 200, path)
      t.equal(app.requests.at(-1)?.url, expected, `${path} is forwarded as ${expected}`)
    }
  })

  await t.test('WebSockets off for a route', async t => {
    const before = app.requests.length
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${stack.url.replace('http', 'ws')}/nows/ws`, { headers: { cookie } })
      ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate() })
      ws.once('open', () => { resolve(101); ws.close() })
      ws.once('error', reject)
    })
    t.equal(status, 403)
    t.equal(app.requests.length, before, 'the upstream saw no upgrade')
    t.equal((await get('/nows/page')).status, 200, 'plain requests still pass')
  })

  await t.test('the route timeout overrides the upstream\'s', async t => {
    const started = Date.now()
    const res = await get('/quick/report')
    t.equal(res.status, 504)
    t.ok(Date.now() - started < 5000, 'well before the upstream\'s 30 s')
  })
})
