import t from 'tap'
import { apiHeaders, http11, startAttackStack } from '../helpers/attack-stack.js'
import { rawHead } from '../helpers/raw-http.js'

/**
 * Hop-by-hop abuse: `Connection` naming the headers the gateway adds (a proxy
 * that honours it after adding them would drop the user's identity),
 * connection-scoped headers passed on, and `Upgrade` tricks (h2c, upgrades on
 * routes that need a session) that could open a tunnel past the gateway.
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
  - name: api
    match: { path: /api/** }
    upstream: app
    allow: authenticated
`

const WS_HANDSHAKE: Array<[string, string]> = [['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']]

t.test('hop-by-hop headers', async t => {
  const s = await startAttackStack(t, POLICY)
  const alice = await s.cookie('alice')

  t.test('Connection cannot remove what the gateway adds', async t => {
    const cases: Array<[string, string, string[]]> = [
      ['the user header', 'X-Gatehouse-User', ['x-gatehouse-user']],
      ['the assertion and groups, after close', 'close, X-Gatehouse-Assertion, X-Gatehouse-Groups', ['x-gatehouse-assertion', 'x-gatehouse-groups']],
      ['every identity header, odd case', 'x-GATEHOUSE-user, X-Gatehouse-Email, X-Gatehouse-Name, X-Gatehouse-Roles', ['x-gatehouse-user', 'x-gatehouse-email', 'x-gatehouse-name', 'x-gatehouse-roles']],
      ['an underscore spelling', 'X_Gatehouse_User', ['x-gatehouse-user']],
      ['the forwarding headers', 'X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Request-Id', ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']],
    ]
    for (const [name, connection, mustArrive] of cases) {
      t.test(name, async t => {
        // The client's own Connection line goes before Connection: close, so both are read.
        const { res, seen: reached } = await s.probe(http11('GET', '/api/x', [['Host', '127.0.0.1'], ['Accept', 'application/json'], ['Cookie', alice], ['Connection', connection], ['Connection', 'close']]))
        t.equal(res.status, 200)
        t.equal(reached.length, 1)
        const got = reached[0]
        if (got === undefined) return
        for (const header of mustArrive) t.equal(s.up.values(got, header).length, 1, `${header} arrived once`)
        t.same(s.up.values(got, 'x-gatehouse-user'), ['alice'])
        t.same(s.up.values(got, 'x-forwarded-for'), ['127.0.0.1'])
        t.same(s.up.values(got, 'connection').filter(v => /gatehouse|forwarded/i.test(v)), [], 'the client\'s Connection list is not passed on')
      })
    }
  })

  t.test('headers the client names in Connection are its own hop and not forwarded', async t => {
    const cases: Array<[string, Array<[string, string]>, string[], string[]?]> = [
      ['a custom header', [['Connection', 'X-Custom'], ['X-Custom', '1']], ['x-custom']],
      ['the app\'s cookie (the session is still read)', [['Connection', 'Cookie']], ['cookie'], ['x-gatehouse-user']],
      ['Keep-Alive and Proxy-Connection', [['Keep-Alive', 'timeout=1, max=1'], ['Proxy-Connection', 'keep-alive']], ['keep-alive', 'proxy-connection']],
      ['TE and Trailer', [['TE', 'trailers'], ['Trailer', 'X-Gatehouse-User']], ['te', 'trailer']],
      ['Upgrade without Connection: upgrade', [['Upgrade', 'websocket']], ['upgrade']],
      ['Proxy-Authorization', [['Proxy-Authorization', 'Basic YWRtaW46YWRtaW4=']], ['proxy-authorization']],
    ]
    for (const [name, lines, mustNotArrive, mustArrive = []] of cases) {
      t.test(name, async t => {
        const cookie = `${alice}; app=1`
        const { res, seen: reached } = await s.probe(http11('GET', '/api/x', [['Host', '127.0.0.1'], ['Accept', 'application/json'], ['Cookie', cookie], ...lines, ['Connection', 'close']]))
        t.equal(res.status, 200)
        t.equal(reached.length, 1)
        const got = reached[0]
        if (got === undefined) return
        for (const header of mustNotArrive) t.same(s.up.values(got, header), [], `${header} was not forwarded`)
        for (const header of mustArrive) t.equal(s.up.values(got, header).length, 1, `${header} arrived`)
      })
    }
  })

  t.test('a body whose framing header is named in Connection arrives whole', async t => {
    const cases: Array<[string, Array<[string, string]>, string]> = [
      ['Content-Length named', [['Content-Length', '11'], ['Connection', 'Content-Length']], 'hello world'],
      ['Transfer-Encoding named', [['Transfer-Encoding', 'chunked'], ['Connection', 'Transfer-Encoding']], '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'],
    ]
    for (const [name, lines, body] of cases) {
      t.test(name, async t => {
        const { res, seen: reached } = await s.probe(http11('POST', '/public/upload', [['Host', '127.0.0.1'], ['Accept', 'application/json'], ['Content-Type', 'text/plain'], ...lines, ['Connection', 'close']], body))
        t.equal(res.status, 200)
        t.equal(reached.length, 1)
        t.equal(reached[0]?.body, 'hello world', 'the upstream got the body, byte for byte')
      })
    }
  })

  t.test('Upgrade tricks', async t => {
    const cases: Array<[string, string, Array<[string, string]>, number, boolean]> = [
      ['h2c upgrade on a public route', '/public/x', [['Upgrade', 'h2c'], ['Connection', 'Upgrade, HTTP2-Settings'], ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA']], 400, false],
      ['h2c upgrade on a route that needs a session', '/api/x', [['Upgrade', 'h2c'], ['Connection', 'Upgrade, HTTP2-Settings'], ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA']], 401, false],
      // A signed-in browser's handshake comes from the gateway's own origin (others are refused, see websocket-attacks).
      ['h2c upgrade by a signed-in user', '/api/x', [['Cookie', alice], ['Origin', s.stack.url], ['Upgrade', 'h2c'], ['Connection', 'Upgrade, HTTP2-Settings'], ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA']], 400, false],
      ['an unknown protocol', '/public/x', [['Upgrade', 'tls/1.3'], ['Connection', 'Upgrade']], 400, false],
      ['WebSocket without a session', '/api/ws', [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ...WS_HANDSHAKE], 401, false],
      ['WebSocket, odd case, several Connection tokens, without a session', '/api/ws', [['Upgrade', 'WebSocket'], ['Connection', 'keep-alive, UPGRADE'], ...WS_HANDSHAKE], 401, false],
      ['WebSocket by a signed-in user outside the route\'s group', '/admin/ws', [['Cookie', await s.cookie('bob')], ['Origin', s.stack.url], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ...WS_HANDSHAKE], 403, false],
      ['WebSocket by a signed-in user (allowed)', '/api/ws', [['Cookie', alice], ['Origin', s.stack.url], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ...WS_HANDSHAKE], 101, true],
    ]
    for (const [name, path, lines, status, forwarded] of cases) {
      t.test(name, async t => {
        const before = s.up.seen.length
        const res = await rawHead(s.port, http11('GET', path, [['Host', '127.0.0.1'], ['Accept', 'application/json'], ...lines]))
        t.equal(res.status, status)
        if (forwarded) {
          const got = await s.up.waitFor(r => r.method === 'WEBSOCKET' && s.up.seen.indexOf(r) >= before)
          t.equal(got.url, path, 'the upstream got the upgrade at the decided path')
          t.same(s.up.values(got, 'x-gatehouse-user'), ['alice'])
        } else {
          // Whatever happens next, the gateway has answered: nothing may have been forwarded before that.
          t.same(s.up.seen.slice(before), [], 'the upstream was not reached')
        }
      })
    }
  })

  t.test('the upstream\'s hop-by-hop response headers are not passed back', async t => {
    const cases: Array<[string, string[], string[]]> = [
      ['a header the upstream names in Connection', ['Connection:X-Internal-Token', 'X-Internal-Token:secret'], ['x-internal-token']],
      ['Keep-Alive, Proxy-Authenticate, Upgrade', ['Keep-Alive:timeout=600', 'Proxy-Authenticate:Basic', 'Upgrade:h2c'], ['keep-alive', 'proxy-authenticate', 'upgrade']],
    ]
    for (const [name, set, mustNotArrive] of cases) {
      t.test(name, async t => {
        const query = set.map(h => `set=${encodeURIComponent(h)}`).join('&')
        const { res, seen: reached } = await s.probe(http11('GET', `/public/x?${query}`, apiHeaders()))
        t.equal(res.status, 200)
        t.equal(reached.length, 1, 'the upstream was reached')
        const headLines = (res.head ?? '').toLowerCase().split('\r\n')
        for (const header of mustNotArrive) t.notOk(headLines.some(l => l.startsWith(`${header}:`)), `${header} is not in the response`)
      })
    }
  })
})
