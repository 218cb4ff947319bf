import { randomUUID } from 'node:crypto'
import t from 'tap'
import { generateKeyPair, SignJWT } from 'jose'
import { BACKCHANNEL_LOGOUT_EVENT } from '../src/signin/backchannel-logout.js'
import { sessionIdOf, startStack, type Stack } from './helpers/stack.js'

async function post (stack: Stack, token: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(`${stack.url}/.gatehouse/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: token }) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

async function signedIn (stack: Stack, user: string): Promise<{ cookie: string, value: string, sid: string | undefined }> {
  const { browser } = await stack.signIn(user, '/.gatehouse/login?return=/.gatehouse/healthz')
  const value = stack.sessionCookie(browser) ?? ''
  const record = await stack.gateway.store.get(sessionIdOf(value), { fresh: true })
  return { cookie: `${stack.gateway.cookies.session}=${value}`, value, sid: record?.identity?.sid }
}

function claims (stack: Stack, extra: Record<string, unknown>): Record<string, unknown> {
  return { iss: stack.idp.issuer, aud: stack.clientId, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, ...extra }
}

t.test('signing out at the IdP ends the gateway session through back-channel logout', async t => {
  const stack = await startStack(t, { backchannel: true })
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const value = stack.sessionCookie(browser) ?? ''
  const cookie = `${stack.gateway.cookies.session}=${value}`
  t.equal((await fetch(`${stack.url}/api/x`, { headers: { cookie, accept: 'application/json' } })).status, 200)
  // The person signs out at the IdP directly (say, from another application).
  const confirm = await browser.get(`${stack.idp.issuer}/session/end`)
  await browser.submitForm(confirm, {}, { button: 'logout' })
  await stack.logs.waitFor(r => r.event === 'session.revoked')
  t.equal(await stack.redis?.exists(stack.sessionKey(value)), 0, 'the session is gone from Redis')
  t.equal((await fetch(`${stack.url}/api/x`, { headers: { cookie, accept: 'application/json' } })).status, 401, 'and the cookie no longer works')
  t.ok(stack.logs.records().some(r => r.event === 'session.revoked' && r.source === 'backchannel' && r.user === 'alice' && r.sessions === 1), 'audited, naming the source')
})

t.test('logout tokens: valid, replayed, wrongly signed, and every other way to be wrong', async t => {
  const stack = await startStack(t, { backchannel: true })
  const alice = await signedIn(stack, 'alice')
  t.ok(alice.sid, 'the ID token carried the IdP session id (sid)')

  const bad: Array<[string, () => Promise<string>, RegExp]> = [
    ['a nonce', async () => await stack.idp.signJwt(claims(stack, { sid: alice.sid, nonce: 'n' })), /nonce/],
    ['no events claim', async () => await stack.idp.signJwt(claims(stack, { sid: alice.sid, events: undefined })), /events/],
    ['another event', async () => await stack.idp.signJwt(claims(stack, { sid: alice.sid, events: { 'urn:other': {} } })), /back-channel logout event/],
    ['neither sid nor sub', async () => await stack.idp.signJwt(claims(stack, {})), /neither sid nor sub/],
    ['no jti', async () => await stack.idp.signJwt(claims(stack, { sid: alice.sid, jti: undefined })), /no jti/],
    ['another audience', async () => await stack.idp.signJwt(claims(stack, { sid: alice.sid, aud: 'someone-else' })), /ERR_JWT_CLAIM_VALIDATION_FAILED/],
    ['another issuer', async () => await stack.idp.signJwt(claims(stack, { sid: alice.sid, iss: 'https://evil.example' })), /ERR_JWT_CLAIM_VALIDATION_FAILED/],
    ['issued an hour ago', async () => await stack.idp.signJwt(claims(stack, { sid: alice.sid, iat: Math.floor(Date.now() / 1000) - 3600 })), /ERR_JWT/],
    ['a typ other than logout+jwt', async () => await stack.idp.signJwt(claims(stack, { sid: alice.sid }), { typ: 'JWT+other' }), /typ/],
    ['signed by a key the IdP does not publish', async () => {
      const { privateKey } = await generateKeyPair('RS256')
      return await new SignJWT(claims(stack, { sid: alice.sid })).setProtectedHeader({ alg: 'RS256', kid: 'devidp-rs256-forged' }).sign(privateKey)
    }, /ERR_JWKS_NO_MATCHING_KEY|ERR_JWS_SIGNATURE_VERIFICATION_FAILED/],
    ['HS256 with a guessable secret', async () => await new SignJWT(claims(stack, { sid: alice.sid })).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(stack.clientSecret)), /ERR_JOSE_ALG_NOT_ALLOWED|ERR_JWKS/],
    ['alg none', async () => `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims(stack, { sid: alice.sid }))).toString('base64url')}.`, /ERR_/],
    ['not a JWT', async () => 'garbage', /ERR_/],
  ]
  for (const [name, make, reason] of bad) {
    const res = await post(stack, await make())
    t.equal(res.status, 400, name)
    t.match(res.body, { error: 'invalid_request', error_description: reason }, name)
  }
  t.equal((await fetch(`${stack.url}/api/x`, { headers: { cookie: alice.cookie, accept: 'application/json' } })).status, 200, 'after all that, alice is still signed in')

  const valid = await stack.idp.signJwt(claims(stack, { sid: alice.sid, sub: 'alice' }), { typ: 'logout+jwt' })
  const ok = await post(stack, valid)
  t.equal(ok.status, 200)
  t.same(ok.body, { sessions_ended: 1 })
  t.equal((await fetch(`${stack.url}/api/x`, { headers: { cookie: alice.cookie, accept: 'application/json' } })).status, 401, 'a valid token ends the session')
  const replay = await post(stack, valid)
  t.equal(replay.status, 400, 'the same token again is refused')
  t.match(replay.body, { error_description: /replayed/ })
})

t.test('a logout token with only sub ends every session of that user, and no one else\'s', async t => {
  const stack = await startStack(t, { backchannel: true })
  const first = await signedIn(stack, 'bob')
  const second = await signedIn(stack, 'bob')
  const other = await signedIn(stack, 'alice')
  const res = await post(stack, await stack.idp.signJwt(claims(stack, { sub: 'bob' })))
  t.same(res.body, { sessions_ended: 2 })
  for (const [who, s, expected] of [['bob 1', first, 401], ['bob 2', second, 401], ['alice', other, 200]] as const) {
    t.equal((await fetch(`${stack.url}/api/x`, { headers: { cookie: s.cookie, accept: 'application/json' } })).status, expected, who)
  }
})
