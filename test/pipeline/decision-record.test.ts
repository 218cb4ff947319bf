import t from 'tap'
import { shouldRecord } from '../../src/pipeline/decision-record.js'
import { authorizeRequest } from '../../src/pipeline/authorize-request.js'
import { alice, bob, request, routed, steps, testPolicy } from '../helpers/pipeline-fixtures.js'

const returnTo = (): string => '/back'

t.test('log.decisions: denied (the default) records denials only; all records every decision', async t => {
  const now = Date.now()
  const policy = testPolicy(t)
  const { deps, store, signer, audited } = steps(() => now)
  await store.set('sid-a', { identity: { ...alice, claims: { department: 'ops', secret_claim: 'x' } }, createdAt: now, lastSeenAt: now }, 60_000)
  await store.set('sid-b', { identity: bob, createdAt: now, lastSeenAt: now }, 60_000)
  await authorizeRequest(request('/app/x', { cookie: 'gatehouse=abc' }), routed(policy, '/app/x'), signer.sign('sid-a'), returnTo, deps)
  t.equal(audited.filter(a => a.event === 'access.decision').length, 0, 'an allowed request is not recorded')
  await authorizeRequest(request('/admin/users'), routed(policy, '/admin/users'), signer.sign('sid-b'), returnTo, deps)
  const record = audited.find(a => a.event === 'access.decision')
  t.match(record?.fields, {
    user: 'bob', ip: '203.0.113.7', route: 'admin', reason: 'group_required', reqId: 'req-1',
    method: 'GET', host: 'app.example.com', path: '/admin/users', decision: 'deny', rule: /policy\.yaml:\d+:\d+$/, credential: 'session', websocket: false,
    identity: { user: 'bob', email: 'alice@example.com', groups: ['staff'], roles: [], amr: ['pwd'], acr: null, scopes: null, client_id: null, claims: {} },
  })

  const all = steps(() => now)
  await all.store.set('sid-a', { identity: { ...alice, claims: { department: 'ops', secret_claim: 'x' } }, createdAt: now, lastSeenAt: now }, 60_000)
  await authorizeRequest(request('/app/x'), routed(policy, '/app/x'), all.signer.sign('sid-a'), returnTo, { ...all.deps, decisions: { kind: 'all' } })
  await authorizeRequest(request('/app/x'), routed(policy, '/app/x'), undefined, returnTo, { ...all.deps, decisions: { kind: 'all' } })
  const records = all.audited.filter(a => a.event === 'access.decision').map(a => a.fields)
  t.match(records, [{ decision: 'allow', user: 'alice', credential: 'session' }, { decision: 'signin', user: undefined, identity: null, credential: null }])
  const text = JSON.stringify(records)
  t.notMatch(text, /secret_claim|gatehouse=abc|cookie/, 'no claim that no condition reads, no cookie')
})

t.test('sample:<fraction> records every denial and that fraction of the rest', async t => {
  const sample = { kind: 'sample', fraction: 0.25 } as const
  t.equal(shouldRecord(sample, 'deny', () => 0.99), true)
  t.equal(shouldRecord(sample, 'allow', () => 0.2), true)
  t.equal(shouldRecord(sample, 'allow', () => 0.3), false)
  t.equal(shouldRecord(sample, 'signin', () => 0.1), true)
  t.equal(shouldRecord({ kind: 'denied' }, 'allow', () => 0), false)
  t.equal(shouldRecord({ kind: 'all' }, 'signin', () => 0.99), true)
})
