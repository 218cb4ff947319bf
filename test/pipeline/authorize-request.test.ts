import t from 'tap'
import { authorizeRequest } from '../../src/pipeline/authorize-request.js'
import { alice, bob, request, routed, steps, testPolicy } from '../helpers/pipeline-fixtures.js'

const returnTo = (): string => '/back'

t.test('a public route decides without reading the session', async t => {
  const now = Date.now()
  const { deps, store, signer } = steps(() => now)
  await store.set('sid-a', { identity: alice, createdAt: now, lastSeenAt: now }, 60_000)
  const verdict = await authorizeRequest(request('/public/x'), routed(testPolicy(t), '/public/x'), signer.sign('sid-a'), returnTo, deps)
  t.equal(verdict.kind, 'allow')
  if (verdict.kind !== 'allow') return
  t.equal(verdict.caller.kind, 'anonymous', 'no caller: the session was not read')
  t.equal(verdict.decision.identity, undefined)
  t.equal(store.cacheStats.misses + store.cacheStats.hits, 0, 'the store was not asked')
})

t.test('a route that needs a user: no cookie is unauthenticated, a live session is allowed', async t => {
  const now = Date.now()
  const { deps, store, signer, audited } = steps(() => now)
  const policy = testPolicy(t)
  t.equal((await authorizeRequest(request('/app/x'), routed(policy, '/app/x'), undefined, returnTo, deps)).kind, 'unauthenticated')
  t.equal((await authorizeRequest(request('/app/x'), routed(policy, '/app/x'), 'forged.cookie', returnTo, deps)).kind, 'unauthenticated', 'a forged cookie is no session')
  await store.set('sid-a', { identity: alice, createdAt: now, lastSeenAt: now }, 60_000)
  const verdict = await authorizeRequest(request('/app/x'), routed(policy, '/app/x'), signer.sign('sid-a'), returnTo, deps)
  t.equal(verdict.kind, 'allow')
  if (verdict.kind === 'allow' && verdict.caller.kind === 'session') {
    t.equal(verdict.caller.identity?.id, 'alice')
    t.equal(verdict.caller.session?.id, 'sid-a')
  } else t.fail('a session caller')
  t.same(audited, [], 'nothing audited for allowed or unauthenticated requests')
})

t.test('a denial is an answer value: 403, the access-denied page, the rule, and one audit event', async t => {
  const now = Date.now()
  const { deps, store, signer, audited } = steps(() => now)
  await store.set('sid-b', { identity: bob, createdAt: now, lastSeenAt: now }, 60_000)
  const verdict = await authorizeRequest(request('/admin/users'), routed(testPolicy(t), '/admin/users'), signer.sign('sid-b'), returnTo, deps)
  if (verdict.kind !== 'refused' || verdict.answer.kind !== 'error') { t.fail(`refused with an error, got ${verdict.kind}`); return }
  const { answer } = verdict
  t.equal(answer.error.code, 'GH_FORBIDDEN')
  t.equal(answer.error.statusCode, 403)
  t.match(answer.page, { kind: 'access_denied', route: 'admin', returnTo: '/back', detailed: true })
  t.same(answer.json, { route: 'admin', reason: 'group_required' })
  const denied = audited.filter(a => a.event === 'access.denied')
  t.equal(denied.length, 1)
  t.match(denied[0], { event: 'access.denied', fields: { user: 'bob', route: 'admin', reason: 'group_required', reqId: 'req-1', ip: '203.0.113.7' } })
  t.match(String(denied[0]?.fields.rule), /policy\.yaml:\d+:\d+$/, 'the rule is named by file:line:col')
})

t.test('a WebSocket handshake on a route without WebSockets is refused before anyone is identified', async t => {
  const now = Date.now()
  const { deps, audited } = steps(() => now)
  const verdict = await authorizeRequest(request('/app/socket', { upgrade: 'websocket' }), routed(testPolicy(t), '/app/socket'), undefined, returnTo, deps)
  t.equal(verdict.kind, 'refused')
  if (verdict.kind === 'refused' && verdict.answer.kind === 'error') t.same(verdict.answer.json, { route: 'app', reason: 'websockets_disabled' })
  t.match(audited, [{ event: 'access.denied', fields: { reason: 'websockets_disabled' } }, { event: 'access.decision', fields: { reason: 'websockets_disabled', websocket: true } }])
})

t.test('a bearer route: a malformed or unverifiable token is a 401 challenge, never a sign-in', async t => {
  const now = Date.now()
  const { deps, audited } = steps(() => now)
  const policy = testPolicy(t)
  for (const authorization of ['Bearer', 'Bearer a b', 'Bearer eyJhbGciOiJub25lIn0.e30.']) {
    const verdict = await authorizeRequest(request('/api/x', { authorization }), routed(policy, '/api/x'), undefined, returnTo, deps)
    if (verdict.kind !== 'refused' || verdict.answer.kind !== 'error') { t.fail(`${authorization}: refused`); continue }
    t.equal(verdict.answer.error.code, 'GH_INVALID_TOKEN', authorization)
    t.match(verdict.answer.headers?.['www-authenticate'], /error="invalid_token"/)
  }
  t.equal(audited.length, 3)
  t.ok(audited.every(a => a.fields.reason === 'invalid_token' && a.fields.credential === 'bearer'))
  const none = await authorizeRequest(request('/api/x'), routed(policy, '/api/x'), undefined, returnTo, deps)
  t.equal(none.kind, 'unauthenticated', 'no token at all: unauthenticated (the caller answers with a challenge)')
})

t.test('an idle session ends: unauthenticated, audited, and gone from the store', async t => {
  let now = Date.now()
  const { deps, store, signer, audited } = steps(() => now)
  await store.set('sid-a', { identity: alice, createdAt: now, lastSeenAt: now }, 86_400_000)
  now += 3_600_001
  const verdict = await authorizeRequest(request('/app/x'), routed(testPolicy(t), '/app/x'), signer.sign('sid-a'), returnTo, deps)
  t.equal(verdict.kind, 'unauthenticated')
  t.match(audited, [{ event: 'session.expired', fields: { user: 'alice', route: 'app', reason: 'idle_timeout' } }])
  t.equal(await store.get('sid-a', { fresh: true }), undefined)
})

t.test('the last-seen time is written back once the touch interval has passed', async t => {
  let now = Date.now()
  const { deps, store, signer } = steps(() => now)
  await store.set('sid-a', { identity: alice, createdAt: now, lastSeenAt: now }, 86_400_000)
  now += 20 * 60_000
  await authorizeRequest(request('/app/x'), routed(testPolicy(t), '/app/x'), signer.sign('sid-a'), returnTo, deps)
  t.equal((await store.get('sid-a', { fresh: true }))?.lastSeenAt, now)
})
