import t from 'tap'
import { createAuditLog } from '../../src/log/audit.js'
import { createLogger } from '../../src/log/logger.js'
import { ReadableLog } from '../../src/log/readable-log.js'

/** The demo's logger, writing readable lines into an array. */
function demoLogger (level = 'info'): { lines: string[], log: ReturnType<typeof createLogger> } {
  const lines: string[] = []
  const log = createLogger({ level, destination: new ReadableLog({ write: (text: string) => { lines.push(...text.split('\n').filter(l => l !== '')) } }) })
  return { lines, log }
}

const TIME = /^\d\d:\d\d:\d\d /

t.test('a request is one line: its access line with what its other lines said', async t => {
  const { lines, log } = demoLogger()
  const { audit } = createAuditLog(log)
  const request = log.child({ reqId: 'r-1', traceId: 'abc' })
  request.info({ source: '/admin/' }, 'fetching from remote server')
  audit('access.denied', { user: 'bob', route: 'admin', reason: 'group_required', reqId: 'r-1', traceId: 'abc', rule: 'demo.yaml:12' })
  audit('access.decision', { reqId: 'r-1', traceId: 'abc', decision: 'deny' })
  request.info({ req: { method: 'GET', url: '/admin/', headers: { cookie: 'gh_session=secret-cookie-value' } }, res: { statusCode: 403 }, responseTime: 2.14 }, 'request completed')
  t.equal(lines.length, 1, lines.join('\n'))
  t.match(lines[0], TIME)
  t.equal(lines[0]?.slice(9), 'GET /admin/ → 403 (admin: group_required) bob 2.1ms')
})

t.test('a request\'s warnings and errors are in its line, with their code and detail', async t => {
  const { lines, log } = demoLogger()
  const request = log.child({ reqId: 'r-2' })
  request.warn({ event: 'upstream.failed', err: { code: 'GH_UPSTREAM_UNREACHABLE', detail: 'connect ECONNREFUSED' } }, 'upstream request failed')
  request.info({ req: { method: 'GET', url: '/orders?code=c0de&state=st4te' }, res: { statusCode: 502 }, responseTime: 1 }, 'request completed')
  const other = log.child({ reqId: 'r-3' })
  other.error({ req: { method: 'POST', url: '/x' }, res: { statusCode: 500 }, err: new Error('boom'), responseTime: 3 }, 'request errored')
  t.equal(lines.length, 2, lines.join('\n'))
  t.equal(lines[0]?.slice(9), 'GET /orders?code=[Redacted]&state=[Redacted] → 502 (upstream request failed: GH_UPSTREAM_UNREACHABLE (connect ECONNREFUSED)) 1.0ms')
  t.equal(lines[1]?.slice(9), 'POST /x → 500 (failed: boom) 3.0ms')
})

t.test('lines of no request are one readable line each, with their level', async t => {
  const { lines, log } = demoLogger()
  log.warn({ where: 'redis.url' }, 'no Redis configured')
  log.info({ module: 'oidc', issuer: 'http://127.0.0.1:1' }, 'OpenID Provider metadata loaded')
  log.error({ event: 'store.unavailable', connection: 'redis', err: { message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' } }, 'Redis unavailable')
  t.same(lines.map(l => l.slice(9)), [
    'WARN no Redis configured where=redis.url',
    'OpenID Provider metadata loaded issuer=http://127.0.0.1:1',
    'ERROR Redis unavailable event=store.unavailable connection=redis err.message="connect ECONNREFUSED" err.code=ECONNREFUSED',
  ])
  for (const line of lines) t.match(line, TIME)
})

t.test('the logger\'s redaction applies before the lines are made readable', async t => {
  const { lines, log } = demoLogger()
  log.info({ authorization: 'Bearer eyJ.secret-token', tokens: { access_token: 'at-secret' }, client_secret: 'cs-secret', code: 'auth-code-secret' }, 'careless line')
  const request = log.child({ reqId: 'r-4' })
  request.warn({ cookie: 'gh_session=cookie-secret', id_token_hint: 'hint-secret' }, 'careless request line')
  request.info({ req: { method: 'GET', url: '/' }, res: { statusCode: 200 }, responseTime: 1 }, 'request completed')
  const text = lines.join('\n')
  for (const secret of ['secret-token', 'at-secret', 'cs-secret', 'auth-code-secret', 'cookie-secret', 'hint-secret']) t.notOk(text.includes(secret), `${secret} is not written`)
  t.match(text, /authorization=\[Redacted\]/)
  t.equal(lines.length, 2)
})

t.test('no line is JSON, not even one that pino did not write', async t => {
  const lines: string[] = []
  const readable = new ReadableLog({ write: (text: string) => { lines.push(text) } })
  readable.write('not json at all\n')
  readable.write(`${JSON.stringify({ level: 30, time: Date.now(), msg: 'nested', detail: { a: 1, b: [1, 2] } })}\n`)
  t.same(lines.map(l => l.replace(TIME, '')), ['not json at all\n', 'nested detail.a=1 detail.b=1,2\n'])
})

t.test('a request without its access line is written out once too many are waiting', async t => {
  const { lines, log } = demoLogger()
  log.child({ reqId: 'ws-1' }).warn({ event: 'websocket.refused', open: 1, limit: 1 }, 'WebSocket refused')
  for (let i = 0; i < 1000; i++) log.child({ reqId: `q-${i}` }).info({ event: 'x' }, 'noted')
  t.equal(lines.length, 1)
  t.match(lines[0], /request ws-1: WebSocket refused/)
})

t.test('an error line of no request has its stack below it', async t => {
  const { lines, log } = demoLogger()
  log.error({ err: new TypeError('kaboom') }, 'the policy watcher failed')
  t.equal(lines[0]?.slice(9), 'ERROR the policy watcher failed err.type=TypeError err.message=kaboom')
  t.match(lines[1], /^ {4}at /)
})
