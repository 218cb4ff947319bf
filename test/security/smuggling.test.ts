import t from 'tap'
import { startAttackStack } from '../helpers/attack-stack.js'
import { lastResponse, openGateway } from '../helpers/fastify-upstream.js'

/**
 * Request smuggling and framing. Each case writes an attack request whose
 * body or framing hides a second request for /admin/secret, then a
 * `Connection: close` sentinel, on one connection, and reads every response
 * until the gateway closes it. The gateway either refuses the framing (400),
 * or reads the same requests as the bytes say; the upstream never receives
 * the hidden request, and receives bodies exactly as framed. Oversized
 * headers and cookies are refused before routing.
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
`

const HIDDEN = 'GET /admin/secret HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n'
const SENTINEL = 'GET /public/sentinel HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n'

function post (headers: string, body: string): string {
  return `POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: text/plain\r\n${headers}\r\n${body}`
}

/** [case, bytes sent before the sentinel, statuses, what the upstream receives: [url, body]] */
type Case = [string, string, number[], Array<[string, string]>]

const FRAMING: Case[] = [
  ['Content-Length and Transfer-Encoding (CL.TE)', post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${HIDDEN}`), [400], []],
  ['Transfer-Encoding and Content-Length (TE.CL)', post('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', `${(HIDDEN.length).toString(16)}\r\n${HIDDEN}\r\n0\r\n\r\n`), [400], []],
  ['two different Content-Length lines', post('Content-Length: 5\r\nContent-Length: 80\r\n', `hello${HIDDEN}`), [400], []],
  ['two equal Content-Length lines', post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello'), [400], []],
  ['a Content-Length list', post('Content-Length: 5, 5\r\n', 'hello'), [400], []],
  ['a signed Content-Length', post('Content-Length: +5\r\n', 'hello'), [400], []],
  ['a negative Content-Length', post('Content-Length: -1\r\n', HIDDEN), [400], []],
  ['a hex Content-Length', post('Content-Length: 0x5\r\n', 'hello'), [400], []],
  ['two numbers in Content-Length', post('Content-Length: 5 5\r\n', 'hello'), [400], []],
  ['an empty Content-Length', post('Content-Length: \r\n', HIDDEN), [400], []],
  ['space before the colon of Content-Length', post('Content-Length : 5\r\n', 'hello'), [400], []],
  ['space before the colon of Transfer-Encoding', post('Transfer-Encoding : chunked\r\nContent-Length: 5\r\n', 'hello'), [400], []],
  ['Transfer-Encoding other than chunked', post('Transfer-Encoding: xchunked\r\n', `5\r\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['chunked not last', post('Transfer-Encoding: chunked, identity\r\n', `5\r\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['chunked then identity on two lines', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n', `5\r\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['a vertical tab before chunked', post('Transfer-Encoding:\x0bchunked\r\n', `5\r\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['Transfer-Encoding folded onto the next line', post('Transfer-Encoding:\r\n chunked\r\n', `5\r\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['another header folded', post('X-Note: a\r\n b\r\nContent-Length: 5\r\n', 'hello'), [400], []],
  ['a tab before chunked is whitespace', post('Transfer-Encoding:\tchunked\r\n', '5\r\nhello\r\n0\r\n\r\n'), [200, 200], [['/public/a', 'hello'], ['/public/sentinel', '']]],
  ['CHUNKED in capitals', post('Transfer-Encoding: CHUNKED\r\n', '5\r\nhello\r\n0\r\n\r\n'), [200, 200], [['/public/a', 'hello'], ['/public/sentinel', '']]],
  ['Content-Length with leading zeros', post('Content-Length: 0005\r\n', 'hello'), [200, 200], [['/public/a', 'hello'], ['/public/sentinel', '']]],
]

const CHUNKS: Case[] = [
  ['a chunk size that overflows', post('Transfer-Encoding: chunked\r\n', `ffffffffffffffffff1\r\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['a negative chunk size', post('Transfer-Encoding: chunked\r\n', `-5\r\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['a 0x chunk size', post('Transfer-Encoding: chunked\r\n', `0x5\r\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['a chunk size with a space inside', post('Transfer-Encoding: chunked\r\n', `5 5\r\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['a chunk shorter than its data', post('Transfer-Encoding: chunked\r\n', `3\r\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['a chunk without its CRLF', post('Transfer-Encoding: chunked\r\n', `5\r\nhelloX\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['a bare LF after the chunk size', post('Transfer-Encoding: chunked\r\n', `5\nhello\r\n0\r\n\r\n${HIDDEN}`), [400], []],
  ['a chunk extension is allowed', post('Transfer-Encoding: chunked\r\n', '5;name=value\r\nhello\r\n0\r\n\r\n'), [200, 200], [['/public/a', 'hello'], ['/public/sentinel', '']]],
  ['a trailer section is allowed', post('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n'), [200, 200], [['/public/a', 'hello'], ['/public/sentinel', '']]],
]

const PIPELINES: Case[] = [
  ['a pipelined request is decided on its own', `GET /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n${HIDDEN}`, [200, 401, 200], [['/public/a', ''], ['/public/sentinel', '']]],
  ['bytes past Content-Length are the next request, decided on its own', post('Content-Length: 3\r\n', `abc${HIDDEN}`), [200, 401, 200], [['/public/a', 'abc'], ['/public/sentinel', '']]],
  ['a request inside a body stays body', post(`Content-Length: ${HIDDEN.length}\r\n`, HIDDEN), [200, 200], [['/public/a', HIDDEN], ['/public/sentinel', '']]],
  ['a request inside a chunked body stays body', post('Transfer-Encoding: chunked\r\n', `${HIDDEN.length.toString(16)}\r\n${HIDDEN}\r\n0\r\n\r\n`), [200, 200], [['/public/a', HIDDEN], ['/public/sentinel', '']]],
  ['a GET with a body hiding a request', `GET /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`, [200, 200], [['/public/a', ''], ['/public/sentinel', '']]],
  ['a GET with a chunked body hiding a request', `GET /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${HIDDEN.length.toString(16)}\r\n${HIDDEN}\r\n0\r\n\r\n`, [200, 200], [['/public/a', ''], ['/public/sentinel', '']]],
  ['a DELETE with a body', `DELETE /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Length: 5\r\n\r\nhello`, [200, 200], [['/public/a', 'hello'], ['/public/sentinel', '']]],
]

/** Sent alone (no sentinel): a request that does not keep the connection open ends the exchange. */
const VERSIONS: Case[] = [
  ['lower-case version', 'GET /public/a http/1.1\r\nHost: 127.0.0.1\r\n\r\n', [400], []],
  ['HTTP/1.2', 'GET /public/a HTTP/1.2\r\nHost: 127.0.0.1\r\n\r\n', [400], []],
  ['HTTP/9.9', 'GET /public/a HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n', [400], []],
  ['HTTP/1.0 is read as itself and forwarded as HTTP/1.1', 'GET /public/a HTTP/1.0\r\nAccept: application/json\r\n\r\n', [200], [['/public/a', '']]],
  ['an HTTP/2.0 request line is read as HTTP/1', 'GET /public/a HTTP/2.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n', [200], [['/public/a', '']]],
  ['a request pipelined after an HTTP/1.0 one is never read', `GET /public/a HTTP/1.0\r\nAccept: application/json\r\n\r\n${HIDDEN}`, [400], [['/public/a', '']]],
  ['a NUL in a header name', 'GET /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nX-\x00: 1\r\n\r\n', [400], []],
  ['a space in a header name', 'GET /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent Length: 5\r\n\r\nhello', [400], []],
  ['a bare LF ending a header line', 'GET /public/a HTTP/1.1\r\nHost: 127.0.0.1\nContent-Length: 5\r\n\r\nhello', [400], []],
]

t.test('request smuggling and framing', async t => {
  const s = await startAttackStack(t, POLICY)
  const tables: Array<[string, Case[]]> = [
    ['Content-Length and Transfer-Encoding', FRAMING],
    ['chunk sizes', CHUNKS],
    ['pipelines and hidden requests', PIPELINES],
    ['request lines and header names', VERSIONS],
  ]
  for (const [title, cases] of tables) {
    t.test(title, async t => {
      for (const [name, attack, statuses, received] of cases) {
        t.test(name, async t => {
          const { res, seen } = await s.probeAll(cases === VERSIONS ? attack : `${attack}${SENTINEL}`)
          t.same(res.statuses, statuses, 'responses, in order (a refused framing closes the connection)')
          t.same(seen.map(r => [r.url, r.body]), received, 'what the upstream received')
          t.notOk(seen.some(r => r.url.startsWith('/admin')), 'the hidden request never reached the upstream')
          for (const r of seen) {
            const length = s.up.values(r, 'content-length')
            const chunked = s.up.values(r, 'transfer-encoding')
            t.ok(length.length + chunked.length <= 1, 'the upstream gets one framing header at most')
            if (length.length === 1) t.equal(Number(length[0]), Buffer.byteLength(r.body, 'latin1'), 'and a Content-Length that matches what it got')
          }
        })
      }
    })
  }

  t.test('oversized headers and cookies', async t => {
    const big = (n: number): string => 'a'.repeat(n)
    const cookies = (count: number, size: number): string => Array.from({ length: count }, (_, i) => `c${i}=${big(size)}`).join('; ')
    // [case, extra header lines, status, forwarded]
    const cases: Array<[string, string, number, boolean]> = [
      ['one header over the 16 KiB limit', `X-Big: ${big(17_000)}\r\n`, 431, false],
      ['many headers over the limit together', Array.from({ length: 40 }, (_, i) => `X-H${i}: ${big(500)}\r\n`).join(''), 431, false],
      ['a cookie over the limit', `Cookie: ${cookies(1, 17_000)}\r\n`, 431, false],
      ['many cookies over the limit', `Cookie: ${cookies(400, 50)}\r\n`, 431, false],
      ['a session cookie over the limit', `Cookie: gatehouse=s%3A${big(17_000)}\r\n`, 431, false],
      ['a large cookie under the limit is forwarded', `Cookie: ${cookies(1, 8_000)}\r\n`, 200, true],
      ['a large session cookie under the limit is ignored', `Cookie: gatehouse=s%3A${big(8_000)}.sig\r\n`, 200, true],
      ['five hundred small headers', Array.from({ length: 500 }, (_, i) => `X-N${i}: 1\r\n`).join(''), 200, true],
    ]
    for (const [name, lines, status, forwarded] of cases) {
      t.test(name, async t => {
        const { res, seen } = await s.probeAll(`GET /public/big HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n${lines}Connection: close\r\n\r\n`)
        t.same(res.statuses, [status])
        t.equal(seen.length, forwarded ? 1 : 0, forwarded ? 'forwarded once' : 'the upstream was not reached')
        if (forwarded && seen[0] !== undefined) t.notMatch(s.up.values(seen[0], 'cookie').join(';'), /(^|; )gatehouse=/, 'the gateway\'s cookie is never forwarded')
      })
    }
    t.test('a request line over the limit', async t => {
      const { res, seen } = await s.probeAll(`GET /public/${big(17_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
      t.same(res.statuses, [431])
      t.same(seen, [], 'the upstream was not reached')
    })
    t.test('a path over the canonical limit', async t => {
      const { res, seen } = await s.probeAll(`GET /public/${big(9_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n`)
      t.same(res.statuses, [400])
      t.match(res.responses[0]?.body, /"reason":"too_long"/)
      t.same(seen, [], 'the upstream was not reached')
    })
  })
})

t.test('framing headers that the upstream client refuses do not turn a good request into a 502', async t => {
  const { port } = await openGateway(t)
  const expect = await lastResponse(port, `POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nhello`)
  t.equal(expect.status, 200, `Expect: 100-continue (curl sends it for bodies over 1 KiB) is forwarded (statuses: ${expect.statuses.join(', ')})`)
  const upgrade = await lastResponse(port, `GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nUpgrade: h2c\r\nConnection: close\r\n\r\n`)
  t.equal(upgrade.status, 200, 'an Upgrade header without Connection: upgrade is ignored, not a 502')
  const bigForm = 'a='.concat('x'.repeat(70_000))
  const form = await lastResponse(port, `POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${bigForm.length}\r\nConnection: close\r\n\r\n${bigForm}`)
  t.equal(form.status, 200, 'a 70 kB form post reaches the upstream like any other body')
  const text = await lastResponse(port, `POST /notes HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Length: 3\r\nConnection: close\r\n\r\n\xe9t\xe9`)
  t.equal(text.status, 200, 'a text/plain body in ISO-8859-1 is forwarded byte for byte')
  const latin1 = await lastResponse(port, `POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\nConnection: close\r\n\r\na=\xe9\xe8`)
  t.equal(latin1.status, 200, 'a form body that is not UTF-8 is forwarded byte for byte')
  const oddType = await lastResponse(port, `POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: application/x-www-form-urlencoded; charset\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=1`)
  t.not(oddType.status, 500, `a malformed Content-Type parameter is not a gateway 500 (got ${oddType.status})`)
})
