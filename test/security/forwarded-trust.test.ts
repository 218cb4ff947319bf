import t from 'tap'
import { http11, startAttackStack } from '../helpers/attack-stack.js'
import { lastResponse, openGateway } from '../helpers/fastify-upstream.js'

/**
 * Forwarded-header trust. Without trusted proxies nothing the client writes
 * about its address, host, scheme or path is believed or passed on; with
 * them, only X-Forwarded-For from a trusted peer is read, from the right,
 * and addresses in odd spellings (short, octal, hex, integer, with a port or
 * zone) make the client unknown: not allowed by an `ip` allow rule, refused
 * by an `ip` deny rule. IPv4-mapped IPv6 addresses compare as IPv4.
 */
const POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: internal
    match: { path: /internal/** }
    upstream: app
    allow:
      - ip: [10.0.0.0/8, "fd00::/8"]
        anonymous: true
  - name: guarded
    match: { path: /guarded/** }
    upstream: app
    deny:
      - ip: [192.0.2.0/24, 127.0.0.2]
    allow: anyone
  - name: loopback
    match: { path: /loopback/** }
    upstream: app
    allow:
      - ip: [127.0.0.0/8]
        anonymous: true
  - name: public
    match: { path: /public/** }
    upstream: app
    allow: anyone
`

/** Client headers that name another client address, by case name. */
const ADDRESS_SPOOFS: Array<[string, Array<[string, string]>]> = [
  ['X-Forwarded-For', [['X-Forwarded-For', '10.1.2.3']]],
  ['X-Forwarded-For, a list', [['X-Forwarded-For', '10.1.2.3, 10.9.9.9']]],
  ['X-Forwarded-For, two lines', [['X-Forwarded-For', '10.1.2.3'], ['X-Forwarded-For', '10.9.9.9']]],
  ['X_Forwarded_For', [['X_Forwarded_For', '10.1.2.3']]],
  ['X-Real-IP', [['X-Real-IP', '10.1.2.3']]],
  ['Forwarded', [['Forwarded', 'for=10.1.2.3;proto=https;host=admin.example.com']]],
  ['Forwarded, IPv6', [['Forwarded', 'for="[fd00::1]"']]],
  ['True-Client-IP', [['True-Client-IP', '10.1.2.3']]],
  ['X-Client-IP', [['X-Client-IP', '10.1.2.3']]],
  ['X-Cluster-Client-IP', [['X-Cluster-Client-IP', '10.1.2.3']]],
  ['Client-IP', [['Client-IP', '10.1.2.3']]],
  ['CF-Connecting-IP', [['CF-Connecting-IP', '10.1.2.3']]],
  ['Fastly-Client-IP', [['Fastly-Client-IP', '10.1.2.3']]],
  ['X-Originating-IP', [['X-Originating-IP', '10.1.2.3']]],
  ['X-Remote-IP and X-Remote-Addr', [['X-Remote-IP', '10.1.2.3'], ['X-Remote-Addr', '10.1.2.3']]],
  ['X-Forwarded and Forwarded-For', [['X-Forwarded', 'for=10.1.2.3'], ['Forwarded-For', '10.1.2.3']]],
]

/** Headers that describe the request as another proxy saw it, by case name. */
const REQUEST_SPOOFS: Array<[string, Array<[string, string]>]> = [
  ['X-Forwarded-Host', [['X-Forwarded-Host', 'admin.example.com']]],
  ['X-Forwarded-Proto and -Ssl', [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Ssl', 'on']]],
  ['X-Forwarded-Port and -Prefix', [['X-Forwarded-Port', '443'], ['X-Forwarded-Prefix', '/admin']]],
  ['X-Forwarded-Uri', [['X-Forwarded-Uri', '/admin/users']]],
  ['X-Original-URL and X-Rewrite-URL', [['X-Original-URL', '/admin/users'], ['X-Rewrite-URL', '/admin/users']]],
  ['X-Original-URI and X-Original-Host', [['X-Original-URI', '/admin/users'], ['X-Original-Host', 'admin.example.com']]],
  ['X-Host', [['X-Host', 'admin.example.com']]],
]

/** Every header the client may have spoofed; the upstream must get none of them except the gateway's own X-Forwarded-*. */
const NEVER_FROM_CLIENT = ['forwarded', 'x-real-ip', 'true-client-ip', 'x-client-ip', 'x-cluster-client-ip', 'client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-originating-ip', 'x-remote-ip', 'x-remote-addr', 'x-forwarded', 'forwarded-for', 'x-forwarded-ssl', 'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-uri', 'x-original-url', 'x-rewrite-url', 'x-original-uri', 'x-original-host', 'x-host']

t.test('without trusted proxies', async t => {
  const s = await startAttackStack(t, POLICY)
  const publicHost = new URL(s.stack.url).host

  t.test('no header makes the client another address', async t => {
    for (const [name, lines] of ADDRESS_SPOOFS) {
      t.test(name, async t => {
        const { res, seen } = await s.probe(http11('GET', '/internal/x', [['Host', '127.0.0.1'], ['Accept', 'application/json'], ...lines, ['Connection', 'close']]))
        t.equal(res.status, 403)
        t.match(res.body, /"reason":"network_not_allowed"/)
        t.same(seen, [], 'the upstream was not reached')
      })
    }
  })

  t.test('the upstream gets the gateway\'s forwarding headers only', async t => {
    for (const [name, lines] of [...ADDRESS_SPOOFS, ...REQUEST_SPOOFS]) {
      t.test(name, async t => {
        const { res, seen } = await s.probe(http11('GET', '/public/x', [['Host', '127.0.0.1'], ['Accept', 'application/json'], ...lines, ['Connection', 'close']]))
        t.equal(res.status, 200)
        t.equal(seen.length, 1)
        const got = seen[0]
        if (got === undefined) return
        t.equal(got.url, '/public/x', 'the path decided on, not one a header names')
        t.same(s.up.values(got, 'x-forwarded-for', true), ['127.0.0.1'], 'X-Forwarded-For is the socket peer, replaced, not appended to')
        t.same(s.up.values(got, 'x-forwarded-proto', true), ['http'], 'the scheme of public_url')
        t.same(s.up.values(got, 'x-forwarded-host', true), [publicHost], 'the host of public_url')
        for (const header of NEVER_FROM_CLIENT) t.same(s.up.values(got, header, true), [], `no ${header}`)
      })
    }
  })
})

t.test('with trusted proxies', async t => {
  const s = await startAttackStack(t, POLICY, { env: { GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1' } })
  const cases: Array<[string, string, Array<[string, string]>, number, string?]> = [
    ['the proxy names a client in range', '/internal/x', [['X-Forwarded-For', '10.1.2.3']], 200, '10.1.2.3'],
    ['surrounding spaces', '/internal/x', [['X-Forwarded-For', '  10.1.2.3  ']], 200, '10.1.2.3'],
    ['read from the right: the proxy appended the client', '/internal/x', [['X-Forwarded-For', '203.0.113.9, 10.1.2.3']], 200, '10.1.2.3'],
    ['read from the right: a client-written entry on the left is ignored', '/internal/x', [['X-Forwarded-For', '10.1.2.3, 203.0.113.9']], 403],
    ['trusted hops are skipped', '/internal/x', [['X-Forwarded-For', '10.1.2.3, 127.0.0.1']], 200, '10.1.2.3'],
    ['two header lines read as one list', '/internal/x', [['X-Forwarded-For', '10.1.2.3'], ['X-Forwarded-For', '203.0.113.9']], 403],
    ['IPv4-mapped IPv6', '/internal/x', [['X-Forwarded-For', '::ffff:10.1.2.3']], 200, '10.1.2.3'],
    ['IPv4-mapped IPv6 in hex', '/internal/x', [['X-Forwarded-For', '::ffff:a01:203']], 200, '10.1.2.3'],
    ['IPv6 in range', '/internal/x', [['X-Forwarded-For', 'fd00::1']], 200, 'fd00::1'],
    ['short IPv4 (10.1 is 10.0.0.1 to some parsers)', '/internal/x', [['X-Forwarded-For', '10.1']], 403],
    ['octal IPv4', '/internal/x', [['X-Forwarded-For', '012.1.2.3']], 403],
    ['hex IPv4', '/internal/x', [['X-Forwarded-For', '0x0a.1.2.3']], 403],
    ['integer IPv4', '/internal/x', [['X-Forwarded-For', '167838211']], 403],
    ['a trailing dot', '/internal/x', [['X-Forwarded-For', '10.1.2.3.']], 403],
    ['with a port', '/internal/x', [['X-Forwarded-For', '10.1.2.3:8080']], 403],
    ['IPv6 in brackets', '/internal/x', [['X-Forwarded-For', '[fd00::1]']], 403],
    ['a zone id', '/internal/x', [['X-Forwarded-For', 'fd00::1%eth0']], 403],
    ['a word', '/internal/x', [['X-Forwarded-For', 'unknown']], 403],
    ['an empty entry', '/internal/x', [['X-Forwarded-For', '10.1.2.3,,']], 403],
    ['Forwarded is not read', '/internal/x', [['Forwarded', 'for=10.1.2.3']], 403],
    ['X-Real-IP is not read', '/internal/x', [['X-Real-IP', '10.1.2.3']], 403],
    ['X_Forwarded_For is not read', '/internal/x', [['X_Forwarded_For', '10.1.2.3']], 403],
    ['a deny range', '/guarded/x', [['X-Forwarded-For', '192.0.2.5']], 403],
    ['a deny range, IPv4-mapped', '/guarded/x', [['X-Forwarded-For', '::ffff:192.0.2.5']], 403],
    ['a deny range, IPv4-mapped in hex', '/guarded/x', [['X-Forwarded-For', '::ffff:c000:205']], 403],
    ['a deny range, IPv4-mapped written out', '/guarded/x', [['X-Forwarded-For', '0:0:0:0:0:ffff:192.0.2.5']], 403],
    ['a deny range, leading zeros', '/guarded/x', [['X-Forwarded-For', '192.000.002.005']], 403],
    ['a deny range, integer', '/guarded/x', [['X-Forwarded-For', '3221225989']], 403],
    ['a deny range, hex', '/guarded/x', [['X-Forwarded-For', '0xc0.0.2.5']], 403],
    ['a deny range, garbage', '/guarded/x', [['X-Forwarded-For', 'garbage']], 403],
    ['outside the deny range', '/guarded/x', [['X-Forwarded-For', '198.51.100.7']], 200, '198.51.100.7'],
  ]
  for (const [name, path, lines, status, client] of cases) {
    t.test(`${name}: ${lines.map(([n, v]) => `${n}: ${v}`).join(' / ')}`, async t => {
      const { res, seen } = await s.probe(http11('GET', path, [['Host', '127.0.0.1'], ['Accept', 'application/json'], ...lines, ['Connection', 'close']]))
      t.equal(res.status, status)
      if (status === 200) {
        t.equal(seen.length, 1)
        const got = seen[0]
        if (got === undefined) return
        t.same(s.up.values(got, 'x-forwarded-for', true), [client], 'the upstream gets the client as decided, alone')
        for (const header of NEVER_FROM_CLIENT) t.same(s.up.values(got, header, true), [], `no ${header}`)
      } else {
        t.match(res.body, path === '/guarded/x' ? /"reason":"network_denied"/ : /"reason":"network_not_allowed"/)
        t.same(seen, [], 'the upstream was not reached')
      }
    })
  }
})

t.test('a dual-stack listener sees IPv4 clients as IPv4-mapped IPv6, and rules still match', async t => {
  const s = await startAttackStack(t, POLICY, { listenHost: '[::]' })
  const cases: Array<[string, string, number]> = [
    ['an IPv4 allow rule', '/loopback/x', 200],
    ['an IPv4 deny rule', '/guarded/x', 200],
    ['outside an allow rule', '/internal/x', 403],
  ]
  for (const [name, path, status] of cases) {
    t.test(name, async t => {
      const { res, seen } = await s.probe(http11('GET', path, [['Host', '127.0.0.1'], ['Accept', 'application/json'], ['Connection', 'close']]))
      t.equal(res.status, status)
      if (status === 200) t.same(seen.map(r => s.up.values(r, 'x-forwarded-for')), [['127.0.0.1']], 'forwarded once, as 127.0.0.1')
      else t.same(seen, [], 'the upstream was not reached')
    })
  }
})

t.test('no spelling of the forwarding headers from the client reaches the upstream', async t => {
  const { up, port } = await openGateway(t)
  const spoofed = ['X-Forwarded_For', 'X_Forwarded_Host', 'X-Forwarded_Proto', 'X-Real_IP', 'X_Original_URL', 'X-Forwarded-Ssl', 'X-Forwarded-Scheme', 'X-Rewrite-URL', 'True-Client-IP']
  const res = await lastResponse(port, `GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n${spoofed.map(h => `${h}: 203.0.113.66`).join('\r\n')}\r\nConnection: close\r\n\r\n`)
  t.equal(res.status, 200)
  const received = up.seen.at(-1)?.headers ?? {}
  for (const name of spoofed) t.equal(received[name.toLowerCase()], undefined, `${name} from the client is not forwarded`)
})
