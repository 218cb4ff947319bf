import t from 'tap'
import { traceContext } from '../src/net/trace-context.js'
import { isAccessLine } from './helpers/log-capture.js'
import { policyDir } from './helpers/policy-files.js'
import { rawRequest } from './helpers/raw-http.js'
import { startStack, type Stack } from './helpers/stack.js'

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const GENERATED = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/

t.test('a valid traceparent passes with its tracestate; anything else is replaced by a new one, without tracestate', async t => {
  t.same(traceContext(VALID, 'congo=t61rcWkgMzE'), { traceparent: VALID, tracestate: 'congo=t61rcWkgMzE', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', incoming: true })
  t.same(traceContext(VALID, undefined), { traceparent: VALID, tracestate: undefined, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', incoming: true })
  t.equal(traceContext('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', undefined).incoming, true, 'not sampled is still valid')
  const future = 'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next'
  t.equal(traceContext(future, undefined).traceparent, future, 'a later version with more fields passes as it is')

  const malformed: Record<string, string | string[]> = {
    'empty': '',
    'garbage': 'hello',
    'upper-case hex': VALID.toUpperCase(),
    'version ff': VALID.replace(/^00/, 'ff'),
    'all-zero trace id': `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    'all-zero parent id': `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
    'short trace id': '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
    'version 00 with more fields': `${VALID}-extra`,
    'trailing space': `${VALID} `,
    'two headers, joined': `${VALID}, ${VALID}`,
    'an array': [VALID, VALID],
    'too long': `cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-${'a'.repeat(600)}`,
    'a later version cut short': 'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x',
  }
  for (const [name, header] of Object.entries(malformed)) {
    const trace = traceContext(header, 'congo=t61rcWkgMzE')
    t.equal(trace.incoming, false, `${name}: replaced`)
    t.match(trace.traceparent, GENERATED, `${name}: a new, valid one`)
    t.equal(trace.tracestate, undefined, `${name}: the tracestate goes with it`)
    t.equal(trace.traceparent.slice(3, 35), trace.traceId)
  }
  const a = traceContext(undefined, undefined)
  const b = traceContext(undefined, undefined)
  t.match(a.traceparent, GENERATED, 'absent: generated')
  t.not(a.traceId, b.traceId, 'every request gets its own trace id')
  t.equal(traceContext(a.traceparent, undefined).incoming, true, 'what the gateway generates is valid')
})

async function through (stack: Stack, path: string, headers: Record<string, string>): Promise<{ status: number, upstream: Record<string, unknown> | undefined, reqId: string }> {
  const before = stack.app.requests.length
  const res = await fetch(`${stack.url}${path}`, { headers: { accept: 'application/json', ...headers } })
  await res.arrayBuffer()
  const reqId = res.headers.get('x-request-id') ?? ''
  await stack.logs.waitFor(r => r.reqId === reqId && isAccessLine(r))
  return { status: res.status, upstream: stack.app.requests.length > before ? stack.app.requests.at(-1)?.headers as Record<string, unknown> : undefined, reqId }
}

t.test('the upstream receives the client\'s valid traceparent unchanged, or a new one; logs and audit events carry the trace id', async t => {
  const { dir } = policyDir(t, `routes:
  - name: open
    match: { path: /open/** }
    allow: anyone
  - name: closed
    match: { path: /closed/** }
    allow:
      - ip: [192.0.2.0/24]
        anonymous: true
`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: dir } })

  const valid = await through(stack, '/open/a', { traceparent: VALID, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' })
  t.equal(valid.status, 200)
  t.equal(valid.upstream?.traceparent, VALID, 'passed unchanged')
  t.equal(valid.upstream?.tracestate, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7', 'with its tracestate')
  const lines = stack.logs.records().filter(r => r.reqId === valid.reqId)
  t.ok(lines.length >= 2, 'the request has access log lines')
  t.ok(lines.every(r => r.traceId === '4bf92f3577b34da6a3ce929d0e0e4736'), 'every line of the request carries the trace id')

  const bad = await through(stack, '/open/b', { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, tracestate: 'congo=t61rcWkgMzE' })
  const replaced = String(bad.upstream?.traceparent)
  t.match(replaced, GENERATED, 'a malformed traceparent is replaced by a valid one')
  t.not(replaced, `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`)
  t.equal(bad.upstream?.tracestate, undefined, 'and its tracestate is not passed on')
  t.ok(stack.logs.records().filter(r => r.reqId === bad.reqId).every(r => r.traceId === replaced.slice(3, 35)), 'logs carry the new trace id')

  const none = await through(stack, '/open/c', {})
  t.match(String(none.upstream?.traceparent), GENERATED, 'absent: generated')
  t.not(none.upstream?.traceparent, replaced)

  // Two traceparent headers: which one is meant is unknown, so neither is passed on.
  const port = Number(new URL(stack.url).port)
  const twice = await rawRequest(port, `GET /open/twice HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\ntraceparent: ${VALID}\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nConnection: close\r\n\r\n`)
  t.equal(twice.status, 200)
  const sentTwice = stack.app.requests.at(-1)
  t.equal(sentTwice?.url, '/open/twice')
  t.match(String(sentTwice?.headers.traceparent), GENERATED)
  t.notMatch(String(sentTwice?.headers.traceparent), /4bf92f3577b34da6a3ce929d0e0e4736|0af7651916cd43dd8448eb211c80319c/)

  const denied = await through(stack, '/closed/x', { traceparent: VALID })
  t.equal(denied.status, 403)
  t.equal(denied.upstream, undefined, 'nothing forwarded')
  const audit = await stack.logs.waitFor(r => r.audit === true && r.event === 'access.denied')
  t.match(audit, { reqId: denied.reqId, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', route: 'closed' }, 'the audit event carries the trace id')
})

t.test('a signed-in request and a WebSocket handshake carry the trace context too', async t => {
  const stack = await startStack(t)
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const res = await through(stack, '/api/x', { cookie, traceparent: VALID })
  t.equal(res.status, 200)
  t.equal(res.upstream?.traceparent, VALID)
  t.equal(res.upstream?.['x-gatehouse-user'], 'alice')

  const { WebSocket } = await import('ws')
  const ws = new WebSocket(`${stack.url.replace('http', 'ws')}/ws`, { headers: { cookie, origin: stack.url, traceparent: VALID, tracestate: 'a=b' } })
  t.teardown(() => { ws.terminate() })
  await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
  // The upstream has answered a message: its side of the connection is open.
  const reply = await new Promise<string>(resolve => { ws.once('message', data => { resolve(data.toString()) }); ws.send('hello') })
  t.same(JSON.parse(reply), { user: 'alice', echo: 'hello' })
  const handshake = stack.app.requests.findLast(r => r.method === 'WEBSOCKET')
  t.equal(handshake?.headers.traceparent, VALID)
  t.equal(handshake?.headers.tracestate, 'a=b')
})
