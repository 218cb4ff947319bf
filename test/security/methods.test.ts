import t from 'tap'
import { http11, startAttackStack } from '../helpers/attack-stack.js'

/**
 * Method tricks: HEAD and OPTIONS against method-limited routes, TRACE and
 * CONNECT (never forwarded), methods the gateway does not proxy, methods in
 * other spellings, and the headers that make frameworks run another method
 * than the one the policy decided on.
 */
const POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: public
    match: { path: /public/** }
    upstream: app
    allow: anyone
  - name: reports-read
    match: { path: /reports/**, methods: [GET] }
    upstream: app
    allow: [{ groups: [staff] }]
  - name: reports-write
    match: { path: /reports/**, methods: [POST, PUT, PATCH, DELETE] }
    upstream: app
    allow: [{ groups: [finance] }]
  - name: api
    match: { path: /api/** }
    upstream: app
    allow: authenticated
`

t.test('method tricks', async t => {
  const s = await startAttackStack(t, POLICY)
  const bob = await s.cookie('bob')
  const carol = await s.cookie('carol')
  const json = (cookie?: string, ...extra: Array<[string, string]>): Array<[string, string]> => [['Host', '127.0.0.1'], ['Accept', 'application/json'], ...(cookie === undefined ? [] : [['Cookie', cookie] as [string, string]]), ...extra, ['Connection', 'close']]

  t.test('methods and routes', async t => {
    // [case, method, target, headers, status, method the upstream receives (when forwarded)]
    const cases: Array<[string, string, string, Array<[string, string]>, number, string?]> = [
      ['HEAD fits a GET route', 'HEAD', '/reports/q3', json(bob), 200, 'HEAD'],
      ['HEAD without a session', 'HEAD', '/api/x', json(), 401],
      ['HEAD by a user outside the group', 'HEAD', '/reports/q3', json(carol), 403],
      ['HEAD as a navigation starts a sign-in', 'HEAD', '/api/x', [['Host', '127.0.0.1'], ['Accept', 'text/html'], ['Sec-Fetch-Mode', 'navigate'], ['Connection', 'close']], 302],
      ['GET by staff', 'GET', '/reports/q3', json(bob), 200, 'GET'],
      ['DELETE by staff takes the write route', 'DELETE', '/reports/q3', json(bob), 403],
      ['DELETE by finance', 'DELETE', '/reports/q3', json(carol), 200, 'DELETE'],
      ['PATCH by staff', 'PATCH', '/reports/q3', json(bob, ['Content-Length', '0']), 403],
      ['OPTIONS fits neither reports route', 'OPTIONS', '/reports/q3', json(bob), 404],
      ['a CORS preflight without a session', 'OPTIONS', '/api/x', json(undefined, ['Origin', 'https://evil.example'], ['Access-Control-Request-Method', 'DELETE']), 401],
      ['OPTIONS on a public route', 'OPTIONS', '/public/x', json(), 200, 'OPTIONS'],
      ['OPTIONS *', 'OPTIONS', '*', json(), 400],
      ['TRACE on a public route', 'TRACE', '/public/x', json(), 405],
      ['TRACE with a session (it would echo the identity headers)', 'TRACE', '/api/x', json(bob), 405],
      ['TRACE on a route that does not exist', 'TRACE', '/nowhere', json(), 405],
      ['CONNECT to a host', 'CONNECT', '127.0.0.1:443', json(), 405],
      ['CONNECT with a path', 'CONNECT', '/public/x', json(), 405],
      ['PROPFIND (WebDAV)', 'PROPFIND', '/api/x', json(bob), 405],
      ['MKCOL (WebDAV)', 'MKCOL', '/public/x', json(), 405],
      ['PURGE', 'PURGE', '/public/x', json(), 405],
      ['lower-case get', 'get', '/public/x', json(), 400],
      ['capitalised Get', 'Get', '/public/x', json(), 400],
      ['an unknown method', 'FOO', '/public/x', json(), 400],
    ]
    for (const [name, method, target, headers, status, upstreamMethod] of cases) {
      t.test(`${name}: ${method} ${target}`, async t => {
        const { res, seen } = await s.probeAll(http11(method, target, headers))
        t.same(res.statuses, [status])
        if (status === 405) {
          t.match(res.responses[0]?.head, /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/i, 'Allow names the methods the gateway forwards')
          t.match(res.responses[0]?.body, /"code":"GH_METHOD_NOT_ALLOWED"/)
        }
        if (status === 302) t.match(res.responses[0]?.head, new RegExp(`\\r\\nlocation: ${s.stack.idp.issuer}/`, 'i'), 'to the IdP')
        if (upstreamMethod === undefined) {
          t.same(seen, [], 'the upstream was not reached')
        } else {
          t.equal(seen.length, 1, 'forwarded once')
          t.equal(seen[0]?.method, upstreamMethod, 'with the method that was decided on')
          t.equal(seen[0]?.url, target, 'at the path that was decided on')
        }
      })
    }
  })

  t.test('method-override headers never reach the upstream', async t => {
    const overrides: Array<[string, string]> = [
      ['X-HTTP-Method-Override', 'DELETE'],
      ['x-http-method-override', 'DELETE'],
      ['X_HTTP_Method_Override', 'DELETE'],
      ['X-HTTP-Method', 'DELETE'],
      ['X-Method-Override', 'DELETE'],
      ['X-Original-Method', 'DELETE'],
    ]
    for (const [name, value] of overrides) {
      t.test(`${name} on an allowed GET`, async t => {
        const { res, seen } = await s.probe(http11('GET', '/reports/q3', json(bob, [name, value])))
        t.equal(res.status, 200)
        t.equal(seen.length, 1)
        const got = seen[0]
        if (got === undefined) return
        t.equal(got.method, 'GET')
        for (const header of ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-method']) t.same(s.up.values(got, header, true), [], `${header} in no spelling`)
      })
      t.test(`${name} asking for GET does not let a POST through`, async t => {
        const { res, seen } = await s.probe(http11('POST', '/reports/q3', json(bob, [name, 'GET'], ['Content-Length', '0'])))
        t.equal(res.status, 403, 'decided on the method sent: POST')
        t.same(seen, [], 'the upstream was not reached')
      })
    }
  })
})
