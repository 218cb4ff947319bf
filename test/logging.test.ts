import t from 'tap'
import { isAccessLine } from './helpers/log-capture.js'
import { startStack } from './helpers/stack.js'

t.test('a whole sign-in, request and sign-out leaves no cookie, code, token or secret in the logs', async t => {
  const stack = await startStack(t)
  const { browser, page } = await stack.signIn('alice', '/private?token=should-not-log')
  t.equal(page.status, 200)
  const session = stack.sessionCookie(browser) ?? ''
  const callback = page.history.find(h => h.url.includes('/.gatehouse/callback'))?.url ?? ''
  const params = new URL(callback).searchParams
  await fetch(`${stack.url}/api/x`, { headers: { cookie: `${stack.gateway.cookies.session}=${session}`, authorization: 'Bearer secret-bearer-value', accept: 'application/json' } })
  const seen = stack.app.requests.at(-1)?.headers ?? {}
  await browser.request(`${stack.url}/.gatehouse/logout`, { method: 'POST', followRedirects: false })

  const logs = stack.logs.text
  const secrets: Record<string, string> = {
    'session cookie': session,
    'authorization code': params.get('code') ?? 'missing',
    state: params.get('state') ?? 'missing',
    assertion: String(seen['x-gatehouse-assertion']),
    'bearer token': 'secret-bearer-value',
    'query token': 'should-not-log',
  }
  for (const [name, value] of Object.entries(secrets)) {
    t.ok(value.length > 8, `${name} was captured for the check`)
    t.notOk(logs.includes(value), `${name} is not in the logs`)
  }
  const audit = stack.logs.records().filter(r => r.audit === true)
  const signin = audit.find(r => r.event === 'signin.success')
  t.match(signin, { user: 'alice', email: 'alice@example.test', ip: '127.0.0.1' }, 'sign-in is an audit event with user and client IP')
  t.match(audit.find(r => r.event === 'signout'), { user: 'alice', ip: '127.0.0.1' }, 'sign-out is an audit event')
  t.ok(stack.logs.records().some(r => typeof r.reqId === 'string'), 'log lines carry a request id')
})

t.test('a failed sign-in is an audit event with the reason', async t => {
  const stack = await startStack(t)
  await fetch(`${stack.url}/.gatehouse/callback?code=stolen&state=forged`)
  const failure = stack.logs.records().find(r => r.audit === true && r.event === 'signin.failure')
  t.match(failure, { ip: '127.0.0.1', reason: 'GH_SIGNIN_STATE_INVALID', detail: /sign-in state/ })
  t.notOk(stack.logs.text.includes('stolen'), 'the code is not logged')
})

t.test('each request is one access line when it completes, with its id, status and time', async t => {
  const stack = await startStack(t)
  const res = await fetch(`${stack.url}/api/items?page=2`, { headers: { 'x-request-id': 'access-line-1', accept: 'application/json' } })
  t.equal(res.status, 401)
  const line = await stack.logs.waitFor(r => r.reqId === 'access-line-1' && isAccessLine(r))
  t.match(line, { level: 30, req: { method: 'GET', url: '/api/items?page=2' }, res: { statusCode: 401 } })
  t.type(line.responseTime, 'number', 'the response time is in the line')
  t.same(stack.logs.records().filter(r => r.reqId === 'access-line-1').map(isAccessLine), [true], 'one line for the request, no separate incoming line')
})
