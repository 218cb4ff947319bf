import t from 'tap'
import fc from 'fast-check'
import { startLegacyApp } from '../../src/demo/legacy-app.js'
import { canonicalizeTarget } from '../../src/policy/canonical-path.js'
import { rewritePath } from '../../src/proxy/rewrite-path.js'
import { startAttackStack } from '../helpers/attack-stack.js'
import { policyDir } from '../helpers/policy-files.js'
import { rawExchange, rawRequest } from '../helpers/raw-http.js'
import { startRecordingUpstream } from '../helpers/recording-upstream.js'
import { startStack } from '../helpers/stack.js'

/**
 * Property-based checks over what clients send: whatever the method, path,
 * Host, headers (any bytes) or cookies (around a real session), the gateway
 * never answers 500 and never stops answering, the path (after a route's
 * rewrite) and method the upstream receives are exactly the ones the policy
 * decided on, no identity header of the client's reaches the upstream, and
 * no mix of cookies makes the request anyone but the session's user.
 */
const FORWARDED = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
const PIECES = ['/', '//', '.', '..', '%2e', '%2E', '%2f', '%5c', '%00', '%25', ';', ';x=1', 'a', 'A', 'admin', 'public', '%41', '%c3%a9', '%c0%ae', '%ff', '~', '%7e', '?', '&', '=', '#', '\\', '%20', '*', ':', '@', '!', "'", '(', ')', '+', ',', '$']

t.test('paths: never a 500, and the upstream gets exactly the canonical path', async t => {
  const app = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  t.teardown(() => app.close())
  const { file } = policyDir(t, `upstreams: { app: { url: "${app.url}" } }\nroutes:\n  - name: admin\n    match: { path: /admin/** }\n    upstream: app\n    allow: authenticated\n  - name: open\n    match: { path: /** }\n    upstream: app\n    allow: anyone\n`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_LOG_LEVEL: 'warn' } })
  const port = Number(new URL(stack.url).port)
  await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom(...PIECES), { minLength: 0, maxLength: 12 }), async pieces => {
    const target = `/${pieces.join('')}`
    const before = app.requests.length
    const res = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n`)
    if (res.status === 0 || res.status >= 500) throw new Error(`${target} -> ${res.status}`)
    const canonical = canonicalizeTarget(target)
    if (app.requests.length > before) {
      if (!canonical.ok) throw new Error(`${target} was refused by canonicalization but reached the upstream`)
      const expected = canonical.value.query === '' ? canonical.value.path : `${canonical.value.path}?${canonical.value.query}`
      const seen = app.requests.at(-1)?.url
      if (seen !== expected) throw new Error(`${target}: decided on ${expected}, the upstream got ${String(seen)}`)
      if (canonical.value.matchPath.toLowerCase().startsWith('/admin')) throw new Error(`${target} reached the upstream under the admin route without sign-in`)
    }
  }), { numRuns: 400, seed: 20261127 })
  t.equal((await fetch(`${stack.url}/.gatehouse/healthz`)).status, 200, 'still healthy afterwards')
})

t.test('headers and cookies: never a 500, and no client identity header reaches the upstream', async t => {
  const app = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  t.teardown(() => app.close())
  const { file } = policyDir(t, `upstreams: { app: { url: "${app.url}" } }\nroutes:\n  - name: open\n    match: { path: /** }\n    upstream: app\n    allow: anyone\n`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_LOG_LEVEL: 'warn' } })
  const port = Number(new URL(stack.url).port)
  const name = fc.tuple(fc.constantFrom('x', 'X', 'x_', 'X-'), fc.constantFrom('gatehouse', 'GateHouse', 'GATEHOUSE', 'forwarded', 'real'), fc.constantFrom('-user', '_user', '-User', '-groups', '_Assertion', '-for', '-ip', '')).map(([a, b, c]) => `${a}${b.startsWith('-') ? b : (a.endsWith('-') || a.endsWith('_') ? b : `-${b}`)}${c}`)
  const value = fc.stringMatching(/^[\x21-\x7e ]{0,40}$/)
  const cookie = fc.array(fc.tuple(fc.constantFrom('gatehouse', 'gatehouse-signin', '__Host-gatehouse', 'app', ''), fc.stringMatching(/^[\x21-\x3a\x3c-\x7e]{0,60}$/)), { maxLength: 4 }).map(pairs => pairs.map(([k, v]) => `${k}=${v}`).join('; '))
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 6 }), cookie, async (headers, cookies) => {
    const before = app.requests.length
    const lines = headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')
    const res = await rawRequest(port, `GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}${cookies === '' ? '' : `Cookie: ${cookies}\r\n`}Connection: close\r\n\r\n`)
    if (res.status === 0 || res.status >= 500) throw new Error(`-> ${res.status}: ${JSON.stringify({ headers, cookies })}`)
    if (app.requests.length > before) {
      const seen = app.requests.at(-1)?.headers ?? {}
      const leaked = Object.keys(seen).filter(k => k.replaceAll('_', '-').startsWith('x-gatehouse-') || k.includes('_'))
      if (leaked.length > 0) throw new Error(`client headers reached the upstream: ${leaked.join(', ')}`)
      const forwardedFor = seen['x-forwarded-for']
      if (forwardedFor !== '127.0.0.1') throw new Error(`X-Forwarded-For was ${String(forwardedFor)}`)
      if (/(^|; )(gatehouse|gatehouse-signin)=/.test(String(seen.cookie ?? ''))) throw new Error('a gateway cookie reached the upstream')
    }
  }), { numRuns: 300, seed: 20261127 })
  t.equal((await fetch(`${stack.url}/.gatehouse/healthz`)).status, 200, 'still healthy afterwards')
})

t.test('methods and paths through a rewrite, signed in: never a 500, the upstream gets the decided path and method', async t => {
  const s = await startAttackStack(t, up => `upstreams: { app: { url: "${up}" } }
routes:
  - name: old-api
    match: { path: /old/** }
    upstream: app
    rewrite_prefix: /v2
    allow: authenticated
  - name: admin
    match: { path: /admin/** }
    upstream: app
    allow: [{ groups: [admins] }]
  - name: open
    match: { path: /** }
    upstream: app
    allow: anyone
`, { env: { GATEHOUSE_LOG_LEVEL: 'warn' } })
  const bob = await s.cookie('bob')
  const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'PURGE')
  const prefix = fc.constantFrom('/old', '/OLD', '/old;v=1', '/admin', '/public', '', '/%6fld')
  await fc.assert(fc.asyncProperty(method, prefix, fc.array(fc.constantFrom(...PIECES), { maxLength: 10 }), async (m, p, pieces) => {
    const target = `${p}/${pieces.join('')}`
    const before = s.up.seen.length
    const body = m === 'GET' || m === 'HEAD' || m === 'OPTIONS' || m === 'TRACE' ? '' : 'x=1'
    const res = await rawExchange(s.port, `${m} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${bob}\r\n${body === '' ? '' : `Content-Length: ${body.length}\r\n`}Connection: close\r\n\r\n${body}`)
    const status = res.statuses[0] ?? 0
    if (res.statuses.length !== 1 || status >= 500) throw new Error(`${m} ${target} -> ${res.statuses.join(',') || 'no answer'}`)
    const reached = s.up.seen.slice(before)
    if (reached.length === 0) return
    const got = reached[0]
    const canonical = canonicalizeTarget(target)
    if (reached.length !== 1 || got === undefined || !canonical.ok) throw new Error(`${m} ${target}: reached the upstream ${reached.length} times (canonical: ${JSON.stringify(canonical)})`)
    if (!FORWARDED.has(m)) throw new Error(`${m} ${target} was forwarded`)
    if (got.method !== m) throw new Error(`${m} ${target}: the upstream got ${got.method}`)
    const match = canonical.value.matchPath
    if (match === '/admin' || match.startsWith('/admin/')) throw new Error(`${m} ${target}: bob reached the admin route`)
    const decided = match === '/old' || match.startsWith('/old/') ? rewritePath(canonical.value.path, '/old', '/v2') : canonical.value.path
    const expected = canonical.value.query === '' ? decided : `${decided}?${canonical.value.query}`
    if (got.url !== expected) throw new Error(`${m} ${target}: decided on ${expected}, the upstream got ${got.url}`)
  }), { numRuns: 300, seed: 20261128 })
  t.ok(s.up.seen.some(r => r.url.startsWith('/v2')), 'some requests went through the rewrite')
  t.ok(new Set(s.up.seen.map(r => r.method)).size >= 5, 'with several methods')
  t.equal((await fetch(`${s.stack.url}/.gatehouse/healthz`)).status, 200, 'still healthy afterwards')
})

t.test('Host headers: never a 500, and the host-routed admin site is never reached anonymously', async t => {
  const admin = await startRecordingUpstream(t)
  const s = await startAttackStack(t, up => `upstreams:
  site: { url: "${up}" }
  admin: { url: "${admin.url}" }
routes:
  - name: admin-site
    match: { host: admin.example.com, path: /** }
    upstream: admin
    allow: [{ groups: [admins] }]
  - name: anything
    match: { path: /** }
    upstream: site
    allow: anyone
`, { env: { GATEHOUSE_LOG_LEVEL: 'warn' } })
  const HOST_PIECES = ['admin', 'ADMIN', 'Admin', '.', '..', 'example', 'com', ':', '8080', '%2e', '%61', '@', '[', ']', '::1', '-', '_', 'www', 'xn--', '\t', ' ', '\\', '/', '#', '?', '*']
  await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom(...HOST_PIECES), { minLength: 1, maxLength: 10 }), fc.boolean(), async (pieces, twice) => {
    const host = pieces.join('')
    const res = await rawExchange(s.port, `GET / HTTP/1.1\r\nHost: ${host}\r\n${twice ? 'Host: admin.example.com\r\n' : ''}Accept: application/json\r\nConnection: close\r\n\r\n`)
    const status = res.statuses[0] ?? 0
    if (res.statuses.length !== 1 || status >= 500) throw new Error(`Host ${JSON.stringify(host)} -> ${res.statuses.join(',') || 'no answer'}`)
    if (admin.seen.length > 0) throw new Error(`Host ${JSON.stringify(host)} reached the admin site anonymously`)
  }), { numRuns: 300, seed: 20261128 })
  t.same(admin.seen, [], 'the admin site was never reached')
  t.ok(s.up.seen.length > 0, 'other hosts were forwarded')
})

t.test('cookies around a real session: never a 500, and the identity is the session\'s or none', async t => {
  const s = await startAttackStack(t, up => `upstreams: { app: { url: "${up}" } }\nroutes:\n  - name: api\n    match: { path: /** }\n    upstream: app\n    allow: authenticated\n`, { env: { GATEHOUSE_LOG_LEVEL: 'warn' } })
  const bob = await s.cookie('bob')
  const name = s.stack.gateway.cookies.session
  const value = bob.slice(name.length + 1)
  const piece = fc.oneof(
    fc.constant(bob),
    fc.constant(`${name}=${value.slice(0, -3)}`),
    fc.constant(`${name}=${value}x`),
    fc.constant(`${name}=`),
    fc.constant(`${name}-signin=${'A'.repeat(43)}`),
    fc.constant(`${name.toUpperCase()}=${value}`),
    fc.stringMatching(/^[a-z]{1,6}=[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,20}$/),
    fc.constantFrom(';', ' ', '=', '%', '%zz', '"', '$Version=1', `"${value}"`),
  )
  await fc.assert(fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 5 }), fc.constantFrom('; ', ';', ', '), async (pieces, sep) => {
    const header = pieces.join(sep)
    const before = s.up.seen.length
    const res = await rawExchange(s.port, `GET /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${header}\r\nConnection: close\r\n\r\n`)
    const status = res.statuses[0] ?? 0
    if (res.statuses.length !== 1 || status >= 500) throw new Error(`Cookie ${JSON.stringify(header)} -> ${res.statuses.join(',') || 'no answer'}`)
    const got = s.up.seen[before]
    if (got === undefined) {
      if (status === 200) throw new Error(`Cookie ${JSON.stringify(header)}: 200 without reaching the upstream`)
      return
    }
    const users = s.up.values(got, 'x-gatehouse-user', true)
    if (users.length !== 1 || users[0] !== 'bob') throw new Error(`Cookie ${JSON.stringify(header)}: the upstream was told ${JSON.stringify(users)}`)
    if (new RegExp(`(^|[;,] ?)${name}(-signin)?=`).test(s.up.values(got, 'cookie').join('; '))) throw new Error(`Cookie ${JSON.stringify(header)}: a gateway cookie was forwarded`)
  }), { numRuns: 300, seed: 20261128 })
  t.ok(s.up.seen.length > 0, 'some requests passed with the real session')
})

t.test('header bytes outside ASCII: never a 500 and never a hang', async t => {
  const s = await startAttackStack(t, up => `upstreams: { app: { url: "${up}" } }\nroutes:\n  - name: open\n    match: { path: /** }\n    upstream: app\n    allow: anyone\n`, { env: { GATEHOUSE_LOG_LEVEL: 'warn' } })
  const bytes = fc.uint8Array({ minLength: 0, maxLength: 40 }).map(a => Buffer.from(a.filter(b => b !== 0x0d && b !== 0x0a)))
  const names = fc.constantFrom('X-Note', 'Cookie', 'Accept', 'X-Gatehouse-User', 'X-Forwarded-For', 'Host', 'Connection', 'Upgrade', 'Content-Type', 'Referer')
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(names, bytes), { maxLength: 4 }), async (headers) => {
    const parts = [Buffer.from('GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\n')]
    for (const [n, v] of headers) parts.push(Buffer.from(`${n}: `), v, Buffer.from('\r\n'))
    parts.push(Buffer.from('Connection: close\r\n\r\n'))
    const res = await rawExchange(s.port, Buffer.concat(parts))
    const status = res.statuses[0] ?? 0
    if (res.statuses.length > 1 || status >= 500 || (status === 0 && res.text !== '')) throw new Error(`${JSON.stringify(headers.map(([n, v]) => [n, v.toString('latin1')]))} -> ${res.statuses.join(',') || 'no answer'}`)
  }), { numRuns: 300, seed: 20261128 })
  t.equal((await fetch(`${s.stack.url}/.gatehouse/healthz`)).status, 200, 'still healthy afterwards')
})
