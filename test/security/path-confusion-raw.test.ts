import t from 'tap'
import { http11, startAttackStack } from '../helpers/attack-stack.js'
import { fastifyUpstream, lastResponse, openGateway } from '../helpers/fastify-upstream.js'
import { policyDir, POLICY_USERS } from '../helpers/policy-files.js'
import { startStack } from '../helpers/stack.js'

/**
 * Path confusion, sent raw over a socket: every way to make the policy and
 * the upstream read different paths. Bob (signed in, staff, not an admin)
 * sends each target. A target is refused (400 with the reason), or decided
 * on one canonical path; when it passes, the upstream receives exactly that
 * path, and it never reaches the upstream under a weaker route than /admin/**.
 */
const POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: public
    match: { path: /public/** }
    upstream: app
    allow: anyone
  - name: admin
    match: { path: /admin/** }
    upstream: app
    allow: [{ groups: [admins] }]
  - name: admin-site
    match: { host: admin.example.com, path: /** }
    upstream: app
    allow: [{ groups: [admins] }]
  - name: everything-else
    match: { path: /** }
    upstream: app
    allow: authenticated
`

/** [case, request target, status, reason of a 400, path the upstream receives on 200] */
type Case = [string, string, number, string?, string?]

const DOT_SEGMENTS: Case[] = [
  ['raw ..', '/public/../admin', 403],
  ['encoded ..', '/public/%2e%2e/admin', 403],
  ['encoded .. in mixed case, trailing slash', '/public/%2E%2e/admin/', 403],
  ['half-encoded ..', '/public/.%2e/admin', 403],
  ['other half encoded', '/public/%2e./admin', 403],
  ['. then ..', '/public/./../admin', 403],
  ['.. between empty segments', '/public//..//admin', 403],
  ['. at the end', '/admin/.', 403],
  ['./ at the end', '/admin/./', 403],
  ['.. above the root', '/../admin', 400, 'escapes_root'],
  ['.. above the root, encoded', '/%2e%2e/admin', 400, 'escapes_root'],
  ['.. twice from one level', '/public/../../admin', 400, 'escapes_root'],
  ['resolved inside public', '/public/a/./b//c/../d', 200, undefined, '/public/a/b/d'],
  ['query holding dots', '/public?/../admin', 200, undefined, '/public?/../admin'],
  ['double encoding is not decoded twice', '/public/%252e%252e/admin', 200, undefined, '/public/%252e%252e/admin'],
]

const SEPARATORS: Case[] = [
  ['encoded slash', '/public/..%2fadmin', 400, 'encoded_separator'],
  ['encoded slash, upper case', '/public/..%2Fadmin', 400, 'encoded_separator'],
  ['encoded slashes around ..', '/public%2f..%2fadmin', 400, 'encoded_separator'],
  ['encoded dots and slash', '/public/%2e%2e%2fadmin', 400, 'encoded_separator'],
  ['encoded backslash', '/public/..%5cadmin', 400, 'encoded_separator'],
  ['encoded backslash, upper case', '/public/..%5Cadmin', 400, 'encoded_separator'],
  ['raw backslash', '/public/..\\admin', 400, 'bad_character'],
  ['raw backslashes only', '/public\\..\\admin', 400, 'bad_character'],
  ['double slash at the start', '//admin', 403],
  ['many slashes', '///admin//users', 403],
  ['a host-like first segment', '//127.0.0.1/admin', 200, undefined, '/127.0.0.1/admin'],
  ['fullwidth solidus stays encoded', '/public/%ef%bc%8fadmin', 200, undefined, '/public/%EF%BC%8Fadmin'],
]

const PARAMETERS: Case[] = [
  ['parameter on the protected segment', '/admin;x', 403],
  ['session-id parameter', '/admin;jsessionid=1/users', 403],
  ['parameter on public, forwarded as sent', '/public/x;v=1', 200, undefined, '/public/x;v=1'],
  ['..; segment', '/public/..;/admin', 400, 'dot_segment_parameter'],
  ['.; segment', '/public/.;/../admin', 400, 'dot_segment_parameter'],
  ['parameter-only segment', '/public/;/admin', 400, 'empty_segment_parameter'],
  ['encoded ; is data, not a parameter, and forwarded so', '/admin%3bx/y', 200, undefined, '/admin%3Bx/y'],
]

const CONTROLS: Case[] = [
  ['encoded NUL at the end', '/admin%00', 400, 'encoded_control'],
  ['encoded NUL before an extension', '/admin%00.png', 400, 'encoded_control'],
  ['encoded NUL then ..', '/public%00/../admin', 400, 'encoded_control'],
  ['encoded CR LF', '/public/%0d%0aX-Gatehouse-User:%20admin', 400, 'encoded_control'],
  ['encoded tab', '/public/a%09b', 400, 'encoded_control'],
  ['encoded DEL', '/public/%7f', 400, 'encoded_control'],
  ['fragment marker', '/admin#frag', 400, 'bad_character'],
  ['a lone percent', '/admin%', 400, 'bad_percent_encoding'],
  ['percent without hex', '/public/%zz', 400, 'bad_percent_encoding'],
  ['a quote', '/public/"x', 400, 'bad_character'],
]

const UTF8: Case[] = [
  ['overlong dots', '/public/%c0%ae%c0%ae/admin', 400, 'invalid_utf8'],
  ['three-byte overlong dots', '/public/%e0%80%ae%e0%80%ae/admin', 400, 'invalid_utf8'],
  ['overlong slash', '/public/..%c0%afadmin', 400, 'invalid_utf8'],
  ['four-byte overlong slash', '/public/..%f0%80%80%afadmin', 400, 'invalid_utf8'],
  ['a surrogate', '/public/%ed%a0%80', 400, 'invalid_utf8'],
  ['a lone continuation byte', '/public/%80', 400, 'invalid_utf8'],
  ['not UTF-8 at all', '/public/%ff', 400, 'invalid_utf8'],
  ['valid UTF-8 stays encoded, upper-cased', '/public/caf%c3%a9', 200, undefined, '/public/caf%C3%A9'],
  ['unreserved escapes are decoded', '/public/%7euser/%41', 200, undefined, '/public/~user/A'],
  ['an encoded letter of the protected segment', '/%61dmin', 403],
]

const CASE: Case[] = [
  ['upper case', '/ADMIN', 400, 'ambiguous_case'],
  ['capitalised', '/Admin/users', 400, 'ambiguous_case'],
  ['an encoded capital', '/%41dmin/users', 400, 'ambiguous_case'],
  ['a fullwidth letter', '/%ef%bd%81dmin/users', 400, 'ambiguous_case'],
  ['a Kelvin sign for k', '/public/../%e2%84%aadmin', 200, undefined, '/%E2%84%AAdmin'],
  ['a trailing dot on the segment', '/admin./users', 400, 'ambiguous_case'],
  ['a trailing encoded space on the segment', '/admin%20/users', 400, 'ambiguous_case'],
  ['case that selects another route', '/Public/x', 400, 'ambiguous_case'],
  ['case that changes no route', '/x/Y', 200, undefined, '/x/Y'],
]

const TRAILING: Case[] = [
  ['the protected prefix itself', '/admin', 403],
  ['the protected prefix with a slash', '/admin/', 403],
  ['public with a trailing slash, kept', '/public/', 200, undefined, '/public/'],
  ['public without one, kept', '/public', 200, undefined, '/public'],
]

const REQUEST_LINES: Case[] = [
  ['absolute-form for this gateway', 'http://127.0.0.1/public/x', 400, 'not_origin_form'],
  ['absolute-form for another host', 'http://admin.example.com/x', 400, 'not_origin_form'],
  ['absolute-form https', 'https://127.0.0.1/admin', 400, 'not_origin_form'],
  ['asterisk', '*', 400, 'not_origin_form'],
  ['no leading slash (the HTTP parser refuses it)', 'admin', 400],
  ['authority-form (the HTTP parser refuses it)', '127.0.0.1:443', 400],
]

t.test('path confusion, sent raw', async t => {
  const s = await startAttackStack(t, POLICY)
  const bob = await s.cookie('bob')
  const tables: Array<[string, Case[]]> = [
    ['dot segments, raw and encoded', DOT_SEGMENTS],
    ['encoded and raw separators, repeated slashes', SEPARATORS],
    ['; parameters', PARAMETERS],
    ['NUL, control and other characters', CONTROLS],
    ['overlong and invalid UTF-8', UTF8],
    ['letter case and look-alikes', CASE],
    ['trailing slashes', TRAILING],
    ['request targets that are not a path', REQUEST_LINES],
  ]
  for (const [title, cases] of tables) {
    t.test(title, async t => {
      for (const [name, target, status, reason, forwarded] of cases) {
        t.test(`${name}: ${target}`, async t => {
          const { res, seen } = await s.probe(http11('GET', target, [['Host', '127.0.0.1'], ['Accept', 'application/json'], ['Cookie', bob], ['Connection', 'close']]))
          t.equal(res.status, status)
          if (reason !== undefined) t.match(res.body, `"reason":"${reason}"`, `reason ${reason}`)
          if (status === 200) {
            t.equal(seen.length, 1, 'forwarded once')
            t.equal(seen[0]?.url, forwarded, 'the upstream received exactly the path that was decided on')
            const got = seen[0]
            if (got !== undefined) t.same(s.up.values(got, 'x-gatehouse-user'), got.url.startsWith('/public') ? [] : ['bob'], 'with the identity the route calls for')
          } else {
            t.same(seen, [], 'the upstream was not reached')
          }
        })
      }
    })
  }

  t.test('bytes the HTTP parser refuses before any routing', async t => {
    const cases: Array<[string, string]> = [
      ['a raw NUL', 'GET /public/a\x00b HTTP/1.1\r\n'],
      ['a raw tab', 'GET /public/a\tb HTTP/1.1\r\n'],
      ['a raw space', 'GET /public/a b/../../admin HTTP/1.1\r\n'],
      ['a raw CR', 'GET /public/a\rb HTTP/1.1\r\n'],
      ['a raw DEL', 'GET /public/a\x7fb HTTP/1.1\r\n'],
      ['raw UTF-8 bytes', 'GET /public/caf\xc3\xa9 HTTP/1.1\r\n'],
      ['raw overlong UTF-8', 'GET /public/\xc0\xae\xc0\xae/admin HTTP/1.1\r\n'],
    ]
    for (const [name, line] of cases) {
      t.test(name, async t => {
        const { res, seen } = await s.probeAll(`${line}Host: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${bob}\r\nConnection: close\r\n\r\n`)
        t.same(res.statuses, [400])
        t.same(seen, [], 'the upstream was not reached')
      })
    }
  })

  t.test('the host decides with case, port and one trailing dot folded away', async t => {
    const cases: Array<[string, string, number]> = [
      ['as written in the policy', 'admin.example.com', 403],
      ['a trailing dot', 'admin.example.com.', 403],
      ['upper and mixed case', 'ADMIN.Example.COM', 403],
      ['a port', 'admin.example.com:443', 403],
      ['a trailing dot and a port', 'admin.example.com.:8443', 403],
      ['two trailing dots', 'admin.example.com..', 400],
      ['a trailing slash', 'admin.example.com/', 400],
      ['a path in the host', 'admin.example.com/x', 400],
      ['userinfo in the host', 'www.example.com@admin.example.com', 400],
      ['a leading dot', '.admin.example.com', 400],
      ['another host takes the other route', 'www.example.com', 200],
    ]
    for (const [name, host, status] of cases) {
      t.test(`${name}: ${host}`, async t => {
        const { res, seen } = await s.probe(http11('GET', '/x', [['Host', host], ['Accept', 'application/json'], ['Cookie', bob], ['Connection', 'close']]))
        t.equal(res.status, status)
        if (status === 200) t.equal(seen[0]?.url, '/x', 'forwarded under the open route')
        else t.same(seen, [], 'bob never reached the admin site')
      })
    }
  })
})

t.test('a path the upstream reads as a protected one is not matched to a weaker route', async t => {
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
  const direct = await lastResponse(port, `GET /api/v1/admin/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`)
  t.equal(direct.status, 403, 'bob (staff) may not open /api/v1/admin/users')
  for (const target of ['/api/;/admin/users', '/api/;jsessionid=1/admin/users']) {
    const res = await lastResponse(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`)
    t.not(res.body, 'ADMIN USER LIST', `${target}: bob does not get the upstream's /api/:version/admin/users (got ${res.status})`)
  }
  // Upstreams that compare paths case-insensitively with Unicode case mapping (Java equalsIgnoreCase,
  // Python str.upper/casefold, JS toUpperCase, regexes with Unicode case folding) read these as /admin/x.
  for (const target of ['/adm%C4%B1n/x', '/ADM%C4%B0N/x']) {
    const before = up.seen.length
    const res = await lastResponse(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`)
    t.equal(up.seen.length, before, `${target} (a non-ASCII letter whose case mapping is ASCII) is not forwarded under a weaker route than /admin/** (got ${res.status})`)
  }
})

t.test('the gateway prefix is never forwarded, in any spelling', async t => {
  const { up, port } = await openGateway(t)
  for (const target of ['/.gatehouse;x/jwks.json', '/.GATEHOUSE/jwks.json']) {
    const before = up.seen.length
    await lastResponse(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n`)
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
  const res = await lastResponse(Number(new URL(stack.url).port), 'GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n')
  t.not(res.status, 500, `GET /x through an upstream with a path (got ${res.status} ${res.body.slice(0, 80)})`)
})
