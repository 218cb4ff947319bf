import t from 'tap'
import { generateKeyPair } from 'jose'
import { DEMO_USERS, type DevUser } from '../src/devidp/provider.js'
import { parseMetrics, valueOf } from './helpers/metrics-text.js'
import { CAEP, RISC, startSsfTransmitter, type SsfTransmitter } from './helpers/ssf-transmitter.js'
import { sessionIdOf, startStack, type Stack } from './helpers/stack.js'

const AUDIENCE = 'https://gatehouse.example/ssf'
const person = (id: string): DevUser => ({ id, password: `${id}-pass`, name: id, email: `${id}@example.test`, groups: ['staff'], roles: [], amr: ['pwd'] })
const USERS = [...DEMO_USERS, person('carol'), person('dave'), person('erin')]

interface Signed { cookie: string, sid: string }

async function signedIn (stack: Stack, user: string): Promise<Signed> {
  const { browser } = await stack.signIn(user, '/.gatehouse/login?return=/.gatehouse/healthz')
  const value = stack.sessionCookie(browser) ?? ''
  const record = await stack.gateway.store.get(sessionIdOf(value), { fresh: true })
  return { cookie: `${stack.gateway.cookies.session}=${value}`, sid: record?.identity?.sid ?? '' }
}

async function status (stack: Stack, s: Signed): Promise<number> {
  return (await fetch(`${stack.url}/api/x`, { headers: { cookie: s.cookie, accept: 'application/json' } })).status
}

async function start (t: { teardown (fn: () => unknown): void }): Promise<{ stack: Stack, tx: SsfTransmitter, url: string }> {
  const tx = await startSsfTransmitter(t, AUDIENCE)
  // The IdP puts `sid` in ID tokens of clients that registered a logout URL that needs it.
  const stack = await startStack(t, { users: USERS, backchannel: true, admin: true, configYaml: tx.configYaml })
  return { stack, tx, url: `${stack.url}/.gatehouse/ssf/events` }
}

t.test('each CAEP and RISC event ends the sessions its subject names, and only those', async t => {
  const { stack, tx, url } = await start(t)
  const issSub = (sub: string): Record<string, unknown> => ({ format: 'iss_sub', iss: stack.idp.issuer, sub })
  const s = {
    alice1: await signedIn(stack, 'alice'),
    alice2: await signedIn(stack, 'alice'),
    bob: await signedIn(stack, 'bob'),
    carol: await signedIn(stack, 'carol'),
    dave: await signedIn(stack, 'dave'),
    erin1: await signedIn(stack, 'erin'),
    erin2: await signedIn(stack, 'erin'),
  }
  const cases: Array<[string, string, Record<string, unknown>, Array<keyof typeof s>]> = [
    ['CAEP session-revoked, complex user + session: that session only', `${CAEP}session-revoked`, { format: 'complex', user: issSub('alice'), session: { format: 'opaque', id: s.alice1.sid } }, ['alice1']],
    ['CAEP credential-change, iss_sub: every session of the user', `${CAEP}credential-change`, issSub('bob'), ['bob']],
    ['RISC account-disabled, email', `${RISC}account-disabled`, { format: 'email', email: 'Carol@Example.test' }, ['carol']],
    ['RISC account-purged, iss_sub', `${RISC}account-purged`, issSub('dave'), ['dave']],
    ['RISC sessions-revoked, opaque IdP session id', `${RISC}sessions-revoked`, { format: 'opaque', id: s.erin1.sid }, ['erin1']],
  ]
  const ended = new Set<string>()
  for (const [name, event, subject, ends] of cases) {
    const set = await tx.sign(event, subject)
    const started = performance.now()
    const res = await tx.push(url, set)
    t.equal(res.status, 202, name)
    t.equal(await status(stack, s[ends[0] as keyof typeof s]), 401, `${name}: refused`)
    t.comment(`${name}: push to the first refused request ${(performance.now() - started).toFixed(1)} ms`)
    t.equal(res.body, undefined, 'an empty body')
    for (const e of ends) ended.add(e)
    for (const [who, session] of Object.entries(s)) t.equal(await status(stack, session), ended.has(who) ? 401 : 200, `${name}: ${who}`)
  }
  const audits = stack.logs.records().filter(r => r.event === 'session.revoked')
  t.match(audits, [
    { source: 'ssf', reason: 'caep.session-revoked', selector: 'idp_session', sessions: 1, transmitter: tx.issuer, jti: /\S/ },
    { source: 'ssf', reason: 'caep.credential-change', user: 'bob', sessions: 1 },
    { source: 'ssf', reason: 'risc.account-disabled', selector: 'email', users: ['carol'], sessions: 1 },
    { source: 'ssf', reason: 'risc.account-purged', user: 'dave', sessions: 1 },
    { source: 'ssf', reason: 'risc.sessions-revoked', sessions: 1 },
  ])
  const metrics = parseMetrics(await (await fetch(`${stack.adminUrl ?? ''}/metrics`)).text())
  t.equal(valueOf(metrics, 'gatehouse_sessions_revoked_total', { source: 'ssf' }), 5, 'counted by source')
})

t.test('SETs that must end nothing: refused, or acknowledged without effect', async t => {
  const { stack, tx, url } = await start(t)
  const alice = await signedIn(stack, 'alice')
  const aliceSub = { format: 'iss_sub', iss: stack.idp.issuer, sub: 'alice' }
  const { privateKey: forged } = await generateKeyPair('ES256')
  const valid = await tx.sign(`${RISC}account-disabled`, aliceSub)
  const cases: Array<[string, () => Promise<{ status: number, body: Record<string, unknown> | undefined }>, number, string | undefined]> = [
    ['a signature by another key', async () => await tx.push(url, await tx.sign(`${RISC}account-disabled`, aliceSub, { key: forged })), 400, 'invalid_key'],
    ['another audience', async () => await tx.push(url, await tx.sign(`${RISC}account-disabled`, aliceSub, { claims: { aud: 'https://someone.else' } })), 400, 'invalid_audience'],
    ['another issuer', async () => await tx.push(url, await tx.sign(`${RISC}account-disabled`, aliceSub, { claims: { iss: 'https://evil.example/' } })), 400, 'invalid_issuer'],
    ['issued two hours ago', async () => await tx.push(url, await tx.sign(`${RISC}account-disabled`, aliceSub, { claims: { iat: Math.floor(Date.now() / 1000) - 7200 } })), 400, 'invalid_request'],
    ['no jti', async () => await tx.push(url, await tx.sign(`${RISC}account-disabled`, aliceSub, { claims: { jti: undefined } })), 400, 'invalid_request'],
    ['a typ other than secevent+jwt', async () => await tx.push(url, await tx.sign(`${RISC}account-disabled`, aliceSub, { typ: 'JWT' })), 400, 'invalid_request'],
    ['no events', async () => await tx.push(url, await tx.sign(`${RISC}account-disabled`, aliceSub, { claims: { events: {} } })), 400, 'invalid_request'],
    ['not a JWT', async () => await tx.push(url, 'not-a-jwt'), 400, 'invalid_request'],
    ['a wrong bearer secret', async () => await tx.push(url, valid, 'not-the-secret'), 401, 'authentication_failed'],
    ['no bearer secret', async () => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt' }, body: valid })
      return { status: res.status, body: await res.json() as Record<string, unknown> }
    }, 401, 'authentication_failed'],
    ['an oversized body', async () => await tx.push(url, `${valid}${'A'.repeat(100_000)}`), 413, undefined],
    ['a subject of another IdP', async () => await tx.push(url, await tx.sign(`${RISC}account-disabled`, { ...aliceSub, iss: 'https://other-idp.example' })), 202, undefined],
    ['an unknown subject', async () => await tx.push(url, await tx.sign(`${RISC}account-disabled`, { format: 'email', email: 'nobody@example.test' })), 202, undefined],
    ['a subject format the gateway does not read', async () => await tx.push(url, await tx.sign(`${RISC}account-disabled`, { format: 'phone_number', phone_number: '+15551234567' })), 202, undefined],
    ['an unknown event type', async () => await tx.push(url, await tx.sign('https://schemas.example/event/something-else', aliceSub)), 202, undefined],
  ]
  for (const [name, push, expected, err] of cases) {
    const res = await push()
    t.equal(res.status, expected, name)
    if (err !== undefined) t.equal(res.body?.err, err, name)
    t.equal(await status(stack, alice), 200, `${name}: alice is still signed in`)
  }
  t.ok(stack.logs.records().some(r => r.msg === 'security event of a type the gateway does not act on; acknowledged' && r.type === 'https://schemas.example/event/something-else'), 'the unknown event is logged')

  t.equal((await tx.push(url, valid)).status, 202, 'the valid SET is accepted')
  t.equal(await status(stack, alice), 401, 'and ends alice\'s session')
  const replay = await tx.push(url, valid)
  t.equal(replay.status, 400, 'the same SET again is refused')
  t.match(replay.body, { err: 'invalid_request', description: /jti/ })
  t.equal(stack.logs.records().filter(r => r.event === 'session.revoked' && r.sessions !== 0).length, 1, 'one revocation ended anything')
  t.notMatch(stack.logs.lines.join('\n'), tx.bearerSecret, 'the bearer secret is never logged')
})

t.test('a transmitter whose keys cannot be fetched is asked to push again later; the SET is judged once they can', async t => {
  const { stack, tx, url } = await start(t)
  const alice = await signedIn(stack, 'alice')
  const set = await tx.sign(`${RISC}account-disabled`, { format: 'iss_sub', iss: stack.idp.issuer, sub: 'alice' })
  for (const how of ['unavailable', 'garbled'] as const) {
    tx.serveKeys(how)
    const res = await tx.push(url, set)
    t.equal(res.status, 503, `keys ${how}: 503, not a refusal the transmitter would give up on`)
    t.equal(res.body?.err, 'temporarily_unavailable')
    t.match(String(res.body?.description), /jwks_url/)
    t.equal(await status(stack, alice), 200, `keys ${how}: nothing ended`)
  }
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt', authorization: `Bearer ${tx.bearerSecret}` }, body: set })
  t.equal(res.headers.get('retry-after'), '30')
  tx.serveKeys('ok')
  t.equal((await tx.push(url, set)).status, 202, 'the same SET (its jti not used up) is accepted once the keys can be read')
  t.equal(await status(stack, alice), 401)
})
