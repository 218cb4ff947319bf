import t from 'tap'
import { startLegacyApp } from '../src/demo/legacy-app.js'
import { examplePolicy, policyDir } from './helpers/policy-files.js'
import { rawRequest } from './helpers/raw-http.js'
import { startStack } from './helpers/stack.js'

/**
 * One canonical path decides and is forwarded. Each request below is a way
 * to make the policy and the upstream read different paths; bob (signed in,
 * not an admin) sends it raw over a socket, and the upstream must not see it.
 */
t.test('path tricks never reach the upstream under a weaker route', async t => {
  const legacy = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  t.teardown(() => legacy.close())
  const { file } = policyDir(t, examplePolicy(legacy.url, legacy.url))
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file } })
  const { browser } = await stack.signIn('bob', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const port = Number(new URL(stack.url).port)

  const cases: Array<[string, number, string?]> = [
    ['/public/../admin', 403],
    ['/public/%2e%2e/admin', 403],
    ['/public/%2E%2e/admin/', 403],
    ['/public/./../admin', 403],
    ['/public/..%2fadmin', 400, 'encoded_separator'],
    ['/public/..%2Fadmin', 400, 'encoded_separator'],
    ['/public%2f..%2fadmin', 400, 'encoded_separator'],
    ['/public/..%5cadmin', 400, 'encoded_separator'],
    ['/public/..\\admin', 400, 'bad_character'],
    ['//admin', 403],
    ['///admin//users', 403],
    ['/ADMIN', 400, 'ambiguous_case'],
    ['/Admin/users', 400, 'ambiguous_case'],
    ['/admin;x', 403],
    ['/admin;jsessionid=1/users', 403],
    ['/public/..;/admin', 400, 'dot_segment_parameter'],
    ['/public/.;/../admin', 400, 'dot_segment_parameter'],
    ['/admin%00', 400, 'encoded_control'],
    ['/admin%00.png', 400, 'encoded_control'],
    ['/public%00/../admin', 400, 'encoded_control'],
    ['/admin/./', 403],
    ['/admin/.', 403],
    ['/%61dmin', 403],
    ['/public/%c0%ae%c0%ae/admin', 400, 'invalid_utf8'],
    ['/public/%e0%80%ae%e0%80%ae/admin', 400, 'invalid_utf8'],
    ['/../admin', 400, 'escapes_root'],
    ['/public/../../admin', 400, 'escapes_root'],
    ['/admin%', 400, 'bad_percent_encoding'],
    ['/admin#frag', 400, 'bad_character'],
    ['/public/%2e%2e%2fadmin', 400, 'encoded_separator'],
    ['/public?/../admin', 200],
  ]
  for (const [target, status, reason] of cases) {
    const before = legacy.requests.length
    const res = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/json\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`)
    t.equal(res.status, status, `${target} -> ${status}`)
    if (reason !== undefined) t.match(res.body, `"reason":"${reason}"`, `${target}: reason ${reason}`)
    if (status !== 200) t.equal(legacy.requests.length, before, `${target}: the upstream was not reached`)
    else t.equal(legacy.requests.at(-1)?.url, '/public?/../admin', 'a query never takes part in matching, and is forwarded as sent')
  }

  // What is forwarded is what was decided on.
  const forwarded: Array<[string, string]> = [
    ['/public/a/./b//c/../d', '/public/a/b/d'],
    ['/public/%7euser/%41', '/public/~user/A'],
    ['/public/caf%c3%a9', '/public/caf%C3%A9'],
    ['/public/x;v=1', '/public/x;v=1'],
  ]
  for (const [target, expected] of forwarded) {
    await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
    t.equal(legacy.requests.at(-1)?.url, expected, `${target} is forwarded as ${expected}`)
  }
})

t.test('request-line forms other than a path are refused', async t => {
  const legacy = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  t.teardown(() => legacy.close())
  const { file } = policyDir(t, examplePolicy(legacy.url, legacy.url))
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file } })
  const port = Number(new URL(stack.url).port)
  for (const line of [`GET http://127.0.0.1:${port}/public/x HTTP/1.1`, `GET http://evil.example/admin HTTP/1.1`, 'OPTIONS * HTTP/1.1']) {
    const res = await rawRequest(port, `${line}\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
    t.equal(res.status, 400, line)
  }
  t.equal(legacy.requests.length, 0)
})

t.test('the host decides with case, port and a trailing dot folded away', async t => {
  const legacy = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  t.teardown(() => legacy.close())
  const { file } = policyDir(t, `
routes:
  - name: admin-site
    match: { host: admin.example.com, path: /** }
    upstream: site
    allow: [{ groups: [admins] }]
  - name: everything
    match: { path: /** }
    upstream: site
    allow: anyone
upstreams:
  site: { url: ${legacy.url} }
`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file } })
  const { browser } = await stack.signIn('bob', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const port = Number(new URL(stack.url).port)
  for (const host of ['admin.example.com', 'admin.example.com.', 'ADMIN.Example.COM', 'admin.example.com:443', 'admin.example.com.:8443']) {
    const res = await rawRequest(port, `GET /x HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`)
    t.equal(res.status, 403, `Host: ${host}`)
  }
  t.equal(legacy.requests.length, 0, 'bob never reached the admin site')
  const other = await rawRequest(port, `GET /x HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n`)
  t.equal(other.status, 200, 'another host takes the open route')
})
