import { isUpgradeHandshake } from '../../src/pipeline/request.js'
import t from 'tap'
import { authorizeRequest } from '../../src/pipeline/authorize-request.js'
import { alice, request, routed, steps, testPolicy } from '../helpers/pipeline-fixtures.js'

const returnTo = (): string => '/back'
const UPGRADE = { upgrade: 'websocket', connection: 'Upgrade' }

t.test('a WebSocket handshake that the session cookie authenticates must come from a trusted origin', async t => {
  const now = Date.now()
  const { deps, store, signer, audited } = steps(() => now)
  const policy = testPolicy(t)
  await store.set('sid-a', { identity: alice, createdAt: now, lastSeenAt: now }, 60_000)
  const cookie = signer.sign('sid-a')

  // [case, target, headers, cookie, verdict]
  const cases: Array<[string, string, Record<string, string | string[]>, string | undefined, string]> = [
    ['public_url\'s origin', '/chat/socket', { ...UPGRADE, origin: 'https://app.example.com' }, cookie, 'allow'],
    ['a listed origin, written in another case in the policy', '/chat/socket', { ...UPGRADE, origin: 'https://chat.example.com' }, cookie, 'allow'],
    ['a listed origin with its port', '/chat/socket', { ...UPGRADE, origin: 'http://localhost:8080' }, cookie, 'allow'],
    ['another site', '/chat/socket', { ...UPGRADE, origin: 'https://evil.example' }, cookie, 'refused'],
    ['a sibling subdomain (same site)', '/chat/socket', { ...UPGRADE, origin: 'https://evil.example.com' }, cookie, 'refused'],
    ['public_url\'s host over another scheme', '/chat/socket', { ...UPGRADE, origin: 'http://app.example.com' }, cookie, 'refused'],
    ['public_url\'s host on another port', '/chat/socket', { ...UPGRADE, origin: 'https://app.example.com:8443' }, cookie, 'refused'],
    ['a listed origin on another route', '/admin/socket', { ...UPGRADE, origin: 'https://chat.example.com' }, cookie, 'refused'],
    ['no Origin', '/chat/socket', { ...UPGRADE }, cookie, 'refused'],
    ['an opaque origin (null)', '/chat/socket', { ...UPGRADE, origin: 'null' }, cookie, 'refused'],
    ['two Origin headers', '/chat/socket', { ...UPGRADE, origin: ['https://app.example.com', 'https://evil.example'] }, cookie, 'refused'],
    ['control: not a handshake, from another site', '/chat/page', { origin: 'https://evil.example' }, cookie, 'allow'],
    ['anonymous, on a public route, from another site', '/public/socket', { ...UPGRADE, origin: 'https://evil.example' }, cookie, 'allow'],
    ['no session, from another site: sign in first', '/chat/socket', { ...UPGRADE, origin: 'https://evil.example' }, undefined, 'unauthenticated'],
    ['a forged cookie, from another site: sign in first', '/chat/socket', { ...UPGRADE, origin: 'https://evil.example' }, 'forged.cookie', 'unauthenticated'],
  ]
  for (const [label, target, headers, sent, expected] of cases) {
    audited.length = 0
    const verdict = await authorizeRequest(request(target, headers), routed(policy, target), sent, returnTo, deps)
    t.equal(verdict.kind, expected, label)
    if (verdict.kind !== 'refused') continue
    if (verdict.answer.kind !== 'error') { t.fail('an error answer'); continue }
    t.equal(verdict.answer.error.code, 'GH_FORBIDDEN', `${label}: 403`)
    t.same(verdict.answer.json, { route: target.startsWith('/admin') ? 'admin' : 'chat', reason: 'websocket_origin' }, `${label}: the reason`)
    const origin = typeof headers.origin === 'string' ? headers.origin : undefined
    t.match(audited.filter(a => a.event === 'access.denied'), [{ fields: { user: 'alice', reason: 'websocket_origin', origin } }], `${label}: audited`)
  }
})

t.test('an Upgrade header without Connection: upgrade is no handshake: an ordinary request, not checked for its origin', async t => {
  t.equal(isUpgradeHandshake({ headers: { upgrade: 'websocket' } }), false)
  t.equal(isUpgradeHandshake({ headers: { upgrade: 'websocket', connection: 'keep-alive' } }), false)
  t.equal(isUpgradeHandshake({ headers: { upgrade: 'websocket', connection: 'keep-alive, Upgrade' } }), true)
  t.equal(isUpgradeHandshake({ headers: { upgrade: 'websocket', connection: 'UPGRADE' } }), true)
  t.equal(isUpgradeHandshake({ headers: { connection: 'upgrade' } }), false)
})
