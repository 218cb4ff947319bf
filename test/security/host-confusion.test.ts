import t from 'tap'
import { startAttackStack } from '../helpers/attack-stack.js'
import { fastifyUpstream, lastResponse } from '../helpers/fastify-upstream.js'
import { policyDir, POLICY_USERS } from '../helpers/policy-files.js'
import { startStack } from '../helpers/stack.js'

/**
 * Host header confusion between routes: a request must not be decided for
 * one host and read by the upstream as another. Duplicate Host lines,
 * absolute-form targets naming another host, X-Forwarded-Host, a missing
 * Host, wildcard edges and spellings that some servers decode or trim.
 */
const POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: admin-site
    match: { host: admin.example.com, path: /** }
    upstream: app
    allow: [{ groups: [admins] }]
  - name: apps
    match: { host: "*.apps.example.com", path: /** }
    upstream: app
    allow: authenticated
  - name: public-site
    match: { path: /** }
    upstream: app
    allow: anyone
`

t.test('host confusion between routes', async t => {
  const s = await startAttackStack(t, POLICY)
  const bob = await s.cookie('bob')
  const alice = await s.cookie('alice')

  // [case, request bytes (without the final blank line), status, Host the upstream receives when forwarded]
  const cases: Array<[string, string, number, string?]> = [
    ['the admin host, anonymous', 'GET / HTTP/1.1\r\nHost: admin.example.com', 401],
    ['the admin host, a staff member', `GET / HTTP/1.1\r\nHost: admin.example.com\r\nCookie: ${bob}`, 403],
    ['the admin host, an admin', `GET / HTTP/1.1\r\nHost: admin.example.com\r\nCookie: ${alice}`, 200, 'admin.example.com'],
    ['another host takes the public route', 'GET / HTTP/1.1\r\nHost: www.example.com', 200, 'www.example.com'],
    ['two Host lines, public first', 'GET / HTTP/1.1\r\nHost: www.example.com\r\nHost: admin.example.com', 400],
    ['two Host lines, admin first', 'GET / HTTP/1.1\r\nHost: admin.example.com\r\nHost: www.example.com', 400],
    ['two Host lines in different case', 'GET / HTTP/1.1\r\nhost: www.example.com\r\nHOST: admin.example.com', 400],
    ['a Host line listing two hosts', 'GET / HTTP/1.1\r\nHost: www.example.com, admin.example.com', 400],
    ['absolute-form naming the admin host', 'GET http://admin.example.com/ HTTP/1.1\r\nHost: www.example.com', 400],
    ['absolute-form naming the public host', 'GET http://www.example.com/ HTTP/1.1\r\nHost: admin.example.com', 400],
    ['X-Forwarded-Host does not pick the route', 'GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Forwarded-Host: admin.example.com', 200, 'www.example.com'],
    ['X-Forwarded-Host cannot leave the admin route', 'GET / HTTP/1.1\r\nHost: admin.example.com\r\nX-Forwarded-Host: www.example.com', 401],
    ['HTTP/1.1 without a Host', 'GET / HTTP/1.1', 400],
    ['HTTP/1.0 without a Host takes a route for any host', 'GET / HTTP/1.0', 200, '*'],
    ['an empty Host', 'GET / HTTP/1.1\r\nHost: ', 400],
    ['trailing whitespace is trimmed, not a new name', 'GET / HTTP/1.1\r\nHost: admin.example.com \t', 401],
    ['an encoded dot', 'GET / HTTP/1.1\r\nHost: admin%2eexample.com', 400],
    ['an encoded letter', 'GET / HTTP/1.1\r\nHost: %61dmin.example.com', 400],
    ['a NUL', 'GET / HTTP/1.1\r\nHost: admin.example.com\x00.www.example.com', 400],
    ['a fullwidth letter', 'GET / HTTP/1.1\r\nHost: \xef\xbd\x81dmin.example.com', 400],
    ['a punycode look-alike is another host', 'GET / HTTP/1.1\r\nHost: xn--dmin-7ua.example.com', 200, 'xn--dmin-7ua.example.com'],
    ['a subdomain of the wildcard, anonymous', 'GET / HTTP/1.1\r\nHost: x.apps.example.com', 401],
    ['two levels below the wildcard', 'GET / HTTP/1.1\r\nHost: a.b.apps.example.com', 401],
    ['the wildcard in capitals with a trailing dot', 'GET / HTTP/1.1\r\nHost: X.APPS.EXAMPLE.COM.', 401],
    ['the wildcard\'s apex is not covered', 'GET / HTTP/1.1\r\nHost: apps.example.com', 200, 'apps.example.com'],
    ['the wildcard as a prefix of another domain', 'GET / HTTP/1.1\r\nHost: x.apps.example.com.evil.example', 200, 'x.apps.example.com.evil.example'],
    ['the wildcard as a suffix of another label', 'GET / HTTP/1.1\r\nHost: evilapps.example.com', 200, 'evilapps.example.com'],
    ['an IPv6 literal', 'GET / HTTP/1.1\r\nHost: [::1]:8080', 200, '[::1]:8080'],
  ]
  for (const [name, head, status, upstreamHost] of cases) {
    t.test(name, async t => {
      const { res, seen } = await s.probeAll(`${head}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`)
      t.same(res.statuses, [status])
      if (upstreamHost === undefined) {
        t.same(seen, [], 'the upstream was not reached')
        return
      }
      t.equal(seen.length, 1, 'forwarded once')
      const hosts = seen[0] === undefined ? [] : s.up.values(seen[0], 'host')
      t.equal(hosts.length, 1, 'with one Host')
      if (upstreamHost !== '*') t.equal(hosts[0], upstreamHost, 'the host that was decided on')
    })
  }
})

t.test('a Host that a WHATWG URL parser reads as the protected host takes the protected route', async t => {
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
    const res = await lastResponse(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`)
    t.not(res.body, 'ADMIN SITE', `Host ${JSON.stringify(host)}: an anonymous client does not reach the admin site (got ${res.status})`)
  }
})
