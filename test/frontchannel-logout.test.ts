import t from 'tap'
import { parseMetrics, valueOf } from './helpers/metrics-text.js'
import { sessionIdOf, startStack, type Stack } from './helpers/stack.js'

async function signedIn (stack: Stack, user: string): Promise<{ cookie: string, sid: string }> {
  const { browser } = await stack.signIn(user, '/.gatehouse/login?return=/.gatehouse/healthz')
  const value = stack.sessionCookie(browser) ?? ''
  const record = await stack.gateway.store.get(sessionIdOf(value), { fresh: true })
  return { cookie: `${stack.gateway.cookies.session}=${value}`, sid: record?.identity?.sid ?? '' }
}

async function status (url: string, cookie: string): Promise<number> {
  return (await fetch(`${url}/api/x`, { headers: { cookie, accept: 'application/json' } })).status
}

/** As the IdP's iframe loads it: a plain GET, no cookie. */
async function frontchannel (url: string, query: Record<string, string>): Promise<Response> {
  return await fetch(`${url}/.gatehouse/frontchannel-logout?${new URLSearchParams(query).toString()}`)
}

t.test('front-channel logout without a cookie ends exactly the sessions of that sid, on every gateway', async t => {
  // The IdP puts `sid` in ID tokens of clients that registered a logout URL that needs it.
  const stack = await startStack(t, { admin: true, backchannel: true })
  const replica = await stack.startReplica()
  const first = await signedIn(stack, 'alice')
  const second = await signedIn(stack, 'alice')
  const bob = await signedIn(stack, 'bob')
  t.ok(first.sid !== '' && first.sid !== second.sid, 'two sign-ins, two IdP sessions')
  for (const url of [stack.url, replica.url]) t.equal(await status(url, first.cookie), 200, 'signed in (and cached) on both gateways')

  const started = performance.now()
  const res = await frontchannel(stack.url, { iss: stack.idp.issuer, sid: first.sid })
  t.equal(res.status, 200)
  t.equal(await status(replica.url, first.cookie), 401, 'refused on the other gateway')
  t.comment(`front-channel logout to the first refusal on another gateway: ${(performance.now() - started).toFixed(1)} ms`)
  t.equal(res.headers.get('content-security-policy'), `default-src 'none'; frame-ancestors ${new URL(stack.idp.issuer).origin}`, 'framed by the IdP\'s origin only')
  t.equal(res.headers.get('x-frame-options'), null, 'no X-Frame-Options, which would forbid the IdP\'s frame')
  t.equal(res.headers.get('cache-control'), 'no-store')
  t.equal(res.headers.get('set-cookie'), null, 'no cookie is read or written')

  for (const url of [stack.url, replica.url]) {
    t.equal(await status(url, first.cookie), 401, `the sid's session ended (${url === stack.url ? 'this' : 'the other'} gateway)`)
    t.equal(await status(url, second.cookie), 200, 'alice\'s other sign-in goes on')
    t.equal(await status(url, bob.cookie), 200, 'bob goes on')
  }
  const audit = stack.logs.records().find(r => r.event === 'session.revoked')
  t.match(audit, { source: 'frontchannel', reason: 'idp_logout', selector: 'idp_session', sid: first.sid, sessions: 1 })
  const metrics = parseMetrics(await (await fetch(`${stack.adminUrl ?? ''}/metrics`)).text())
  t.equal(valueOf(metrics, 'gatehouse_sessions_revoked_total', { source: 'frontchannel' }), 1, 'counted by source')

  t.equal((await frontchannel(stack.url, { iss: stack.idp.issuer, sid: first.sid })).status, 200, 'loading it again is harmless')
})

t.test('front-channel logout requests that name no session of this IdP end nothing', async t => {
  const stack = await startStack(t, { backchannel: true })
  const alice = await signedIn(stack, 'alice')
  const cases: Array<[string, Record<string, string>, number]> = [
    ['no sid', { iss: stack.idp.issuer }, 400],
    ['an empty sid', { iss: stack.idp.issuer, sid: '' }, 400],
    ['another issuer', { iss: 'https://idp.evil.example', sid: alice.sid }, 400],
    ['an issuer that only starts like ours', { iss: `${stack.idp.issuer}x`, sid: alice.sid }, 400],
    ['an oversized sid', { sid: 'x'.repeat(600) }, 400],
    ['a sid no session has', { iss: stack.idp.issuer, sid: 'unknown-sid' }, 200],
  ]
  for (const [name, query, expected] of cases) {
    const res = await frontchannel(stack.url, query)
    t.equal(res.status, expected, name)
    if (expected === 400) t.match(await res.json(), { error: { code: 'GH_LOGOUT_REQUEST_INVALID' } }, name)
  }
  t.equal(await status(stack.url, alice.cookie), 200, 'after all that, alice is still signed in')
  t.equal((await frontchannel(stack.url, { sid: alice.sid })).status, 200, 'the sid alone (as Entra ID sends it) is enough')
  t.equal(await status(stack.url, alice.cookie), 401)
})
