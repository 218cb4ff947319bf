import t from 'tap'
import { TestRedis } from './helpers/redis-server.js'
import { sessionIdOf, startStack, type Stack } from './helpers/stack.js'

/** A clock the test moves by hand, so that hours of lifetime take no time. */
function manualClock (): { now: () => number, advance: (ms: number) => void } {
  let offset = 0
  return { now: () => Date.now() + offset, advance: (ms) => { offset += ms } }
}

async function api (stack: Stack, cookie: string, path = '/api/x', url = stack.url): Promise<number> {
  return (await fetch(`${url}${path}`, { headers: { cookie, accept: 'application/json' } })).status
}

async function signedIn (stack: Stack, user = 'alice'): Promise<{ cookie: string, value: string }> {
  const { browser } = await stack.signIn(user, '/.gatehouse/login?return=/.gatehouse/healthz')
  const value = stack.sessionCookie(browser) ?? ''
  return { cookie: `${stack.gateway.cookies.session}=${value}`, value }
}


t.test('refresh: many requests at the moment of expiry, one refresh at the IdP, nobody signed out', async t => {
  const clock = manualClock()
  const stack = await startStack(t, { clock: clock.now, accessTokenTtlSeconds: 600 })
  const { cookie, value } = await signedIn(stack)
  const id = sessionIdOf(value)
  const before = await stack.gateway.store.get(id, { fresh: true })
  t.ok(before?.tokens?.refreshToken, 'the IdP issued a refresh token')
  t.equal(stack.idp.grants.refresh_token, 0)

  clock.advance(600_000 - 30_000) // inside the refresh skew (60s before expiry)
  const statuses = await Promise.all(Array.from({ length: 20 }, async () => await api(stack, cookie)))
  t.same([...new Set(statuses)], [200], 'every concurrent request passed')
  t.equal(stack.idp.grants.refresh_token, 1, 'the IdP saw exactly one refresh')
  const after = await stack.gateway.store.get(id, { fresh: true })
  t.not(after?.tokens?.refreshToken, before?.tokens?.refreshToken, 'the refresh token was rotated')
  t.ok((after?.tokens?.expiresAt ?? 0) > clock.now() + 300_000, 'the new access token is fresh')
  t.equal(await api(stack, cookie), 200, 'still signed in afterwards')
  t.equal(stack.idp.grants.refresh_token, 1, 'and no further refresh was needed')
  t.ok(stack.logs.records().some(r => r.event === 'session.refreshed' && r.user === 'alice'), 'audited')
})

t.test('refresh across replicas: the gateway that did not refresh uses the new tokens, the rotated one is never spent twice', async t => {
  const clock = manualClock()
  const stack = await startStack(t, { clock: clock.now })
  const replica = await stack.startReplica()
  const { cookie } = await signedIn(stack)
  t.equal(await api(stack, cookie, '/api/x', replica.url), 200, 'the replica knows the session')
  clock.advance(600_000) // the access token has expired (the replica follows the real clock, so only the first gateway refreshes)
  t.equal(await api(stack, cookie), 200)
  t.equal(stack.idp.grants.refresh_token, 1)
  t.equal(await api(stack, cookie, '/api/x', replica.url), 200, 'the replica was told and serves the refreshed session')
})

t.test('a refresh the IdP refuses (grant revoked) ends the session at once', async t => {
  const clock = manualClock()
  const stack = await startStack(t, { clock: clock.now })
  const { cookie, value } = await signedIn(stack)
  const id = sessionIdOf(value)
  const tokens = (await stack.gateway.store.get(id, { fresh: true }))?.tokens
  const revoke = await fetch(`${stack.idp.issuer}/token/revocation`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${stack.clientId}:${stack.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens?.refreshToken ?? '', token_type_hint: 'refresh_token' }),
  })
  t.equal(revoke.status, 200, 'the IdP revoked the refresh token')
  t.equal(await api(stack, cookie), 200, 'nothing changes before the refresh is due')
  clock.advance(600_000)
  t.equal(await api(stack, cookie), 401, 'the session ended')
  t.equal(await stack.redis?.exists(stack.sessionKey(value)), 0, 'and is gone from Redis')
  t.ok(stack.logs.records().some(r => r.event === 'session.revoked' && r.reason === 'refresh_rejected'), 'audited with the reason')
})

t.test('an IdP that cannot be reached keeps the session until its maximum lifetime, and the log says so', async t => {
  const clock = manualClock()
  const stack = await startStack(t, { clock: clock.now, env: { GATEHOUSE_SESSION_IDLE_TIMEOUT: '2h', GATEHOUSE_SESSION_MAX_LIFETIME: '3h' } })
  const { cookie } = await signedIn(stack)
  await stack.idp.close()
  clock.advance(30 * 60_000)
  t.equal(await api(stack, cookie), 200, 'still served')
  t.ok(stack.logs.records().some(r => r.event === 'token_refresh.failed'))
  clock.advance(3 * 3_600_000)
  t.equal(await api(stack, cookie), 401, 'but not past the maximum lifetime')
})

t.test('idle timeout (sliding) and maximum lifetime', async t => {
  const clock = manualClock()
  const stack = await startStack(t, { clock: clock.now, env: { GATEHOUSE_SESSION_IDLE_TIMEOUT: '30m', GATEHOUSE_SESSION_MAX_LIFETIME: '2h', GATEHOUSE_SESSION_REFRESH_SKEW: '1s' }, accessTokenTtlSeconds: 86_400 })
  const idle = await signedIn(stack)
  clock.advance(29 * 60_000)
  t.equal(await api(stack, idle.cookie), 200, 'used within the idle timeout')
  clock.advance(29 * 60_000)
  t.equal(await api(stack, idle.cookie), 200, 'the use before slid the timeout')
  clock.advance(31 * 60_000)
  t.equal(await api(stack, idle.cookie), 401, 'unused for longer than the idle timeout: signed out')
  t.equal(await stack.redis?.exists(stack.sessionKey(idle.value)), 0)
  t.ok(stack.logs.records().some(r => r.event === 'session.expired' && r.reason === 'idle_timeout'))

  const busy = await signedIn(stack)
  for (let i = 0; i < 4; i++) {
    clock.advance(25 * 60_000)
    t.equal(await api(stack, busy.cookie), 200, `busy after ${(i + 1) * 25} minutes`)
  }
  clock.advance(25 * 60_000)
  t.equal(await api(stack, busy.cookie), 401, 'past the maximum lifetime: signed out however busy')
  t.ok(stack.logs.records().some(r => r.event === 'session.expired' && r.reason === 'max_lifetime'))
})

t.test('steady state makes no Redis command; sliding writes back at most once per touch interval', async t => {
  const redis = await TestRedis.start()
  t.teardown(() => redis.stop())
  const clock = manualClock()
  const stack = await startStack(t, { redis: redis.url, clock: clock.now, env: { GATEHOUSE_SESSION_IDLE_TIMEOUT: '1h', GATEHOUSE_SESSION_CACHE_TTL: '1h' }, accessTokenTtlSeconds: 86_400 })
  const { cookie } = await signedIn(stack)
  t.equal(await api(stack, cookie), 200, 'warm the cache')
  const commands = async (): Promise<Record<string, number>> => {
    const info = await stack.redis?.info('commandstats') ?? ''
    return Object.fromEntries([...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].map(m => [m[1] ?? '', Number(m[2])]))
  }
  const before = await commands()
  for (let i = 0; i < 50; i++) t.equal(await api(stack, cookie), 200)
  const after = await commands()
  const delta = Object.fromEntries(Object.keys(after).map(k => [k, (after[k] ?? 0) - (before[k] ?? 0)]).filter(([k, v]) => v !== 0 && k !== 'ping' && k !== 'info'))
  t.same(delta, {}, '50 requests, no Redis command besides the heartbeat')
  clock.advance(61_000)
  t.equal(await api(stack, cookie), 200)
  const touched = await commands()
  t.equal((touched.set ?? 0) - (after.set ?? 0), 1, 'after the touch interval, one write-back')
})

t.test('a last-seen write-back the store refuses does not fail the request; it is written a touch interval later', async t => {
  const redis = await TestRedis.start()
  t.teardown(() => redis.stop())
  const clock = manualClock()
  const stack = await startStack(t, { redis: redis.url, clock: clock.now, env: { GATEHOUSE_SESSION_IDLE_TIMEOUT: '1h', GATEHOUSE_SESSION_CACHE_TTL: '1h' }, accessTokenTtlSeconds: 86_400 })
  const { cookie, value } = await signedIn(stack)
  t.equal(await api(stack, cookie), 200, 'warm the cache')
  const lastSeen = async (): Promise<number | undefined> => (await stack.gateway.store.get(sessionIdOf(value), { fresh: true }))?.lastSeenAt
  const before = await lastSeen()
  // A real Redis that reads but refuses every write (NOREPLICAS): this private server only.
  await stack.redis?.config('SET', 'min-replicas-to-write', '1')
  clock.advance(61_000)
  t.equal(await api(stack, cookie), 200, 'the request goes on with the session it read')
  t.ok(stack.logs.records().some(r => r.event === 'session.write_back_failed'), 'and the log says the write failed')
  t.equal(await lastSeen(), before, 'nothing was written')
  await stack.redis?.config('SET', 'min-replicas-to-write', '0')
  t.equal(await api(stack, cookie), 200)
  t.equal(await lastSeen(), before, 'not retried by every request')
  clock.advance(61_000)
  t.equal(await api(stack, cookie), 200)
  t.ok((await lastSeen() ?? 0) > (before ?? 0), 'written back a touch interval later')
})

t.test('sessions are encrypted at rest; a rotated-out key still decrypts while listed', async t => {
  const stack = await startStack(t, { env: { GATEHOUSE_SESSION_SECRET: 'a'.repeat(40) } })
  const { cookie, value } = await signedIn(stack)
  const raw = await stack.redis?.get(stack.sessionKey(value)) ?? ''
  const record = await stack.gateway.store.get(sessionIdOf(value), { fresh: true })
  t.match(raw, /^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'an AES-GCM blob')
  for (const secret of [record?.tokens?.idToken, record?.tokens?.accessToken, record?.tokens?.refreshToken, 'alice@example.test', 'admins']) {
    t.ok(secret !== undefined && secret.length > 3, 'the value to look for exists')
    t.notOk(raw.includes(secret ?? ''), 'the Redis value does not contain it')
  }
  // A gateway whose current secret is new and whose previous secret is the old one still reads the session.
  const rotated = await stack.startReplica({ GATEHOUSE_SESSION_SECRET: 'b'.repeat(40), GATEHOUSE_SESSION_PREVIOUS_SECRETS: 'a'.repeat(40) })
  t.equal(await api(stack, cookie, '/api/x', rotated.url), 200, 'an old session works while its key is listed')
  const dropped = await stack.startReplica({ GATEHOUSE_SESSION_SECRET: 'b'.repeat(40) })
  t.equal(await api(stack, cookie, '/api/x', dropped.url), 401, 'and not once the old key is removed')
  // Moving the blob to another session id does not work: the id is bound into the encryption.
  await stack.redis?.set(`${stack.keyPrefix}session:{someone-else}`, raw)
  t.equal(await stack.gateway.store.get('someone-else', { fresh: true }), undefined)
})

t.test('three gateways on one Redis: sign in through one, use through another, revoke through the third', async t => {
  const stack = await startStack(t)
  const second = await stack.startReplica()
  const third = await stack.startReplica()
  const { cookie, value } = await signedIn(stack)
  t.equal(await api(stack, cookie, '/api/x', second.url), 200, 'the second gateway accepts the session')
  t.equal(await api(stack, cookie), 200, 'the first too (now cached in both)')
  const heard = Promise.all([stack.gateway, second.gateway].map(async g => await new Promise<number>(resolve => {
    const started = Date.now()
    g.store.backend.subscribe(ids => { if (ids?.includes(sessionIdOf(value)) === true) resolve(Date.now() - started) })
  })))
  const revoked = await third.gateway.store.revoke('user', 'alice')
  t.equal(revoked, 1)
  const latencies = await heard
  t.comment(`revocation reached the other gateways in ${latencies.join(' and ')} ms`)
  t.equal(await api(stack, cookie), 401, 'the first gateway refuses the session')
  t.equal(await api(stack, cookie, '/api/x', second.url), 401, 'the second too')
})
