import t from 'tap'
import { forwardPlan, upstreamTarget } from '../../src/pipeline/forward-plan.js'
import { IDENTITY_HEADER_WARN_BYTES, UpstreamIdentity } from '../../src/pipeline/upstream-identity.js'
import { WebSocketSlots } from '../../src/proxy/websocket-slots.js'
import { AssertionSigner } from '../../src/sign/assertion.js'
import { generateSigningKey } from '../../src/sign/keys.js'
import type { Allowed } from '../../src/pipeline/authorize-request.js'
import type { Caller } from '../../src/pipeline/caller.js'
import { alice, routed, testPolicy } from '../helpers/pipeline-fixtures.js'
import { EventEmitter } from 'node:events'

const key = await generateSigningKey('ES256')
const now = Date.now()

async function upstreamIdentity (forwardGroups: 'all' | 'mentioned'): Promise<UpstreamIdentity> {
  const signer = new AssertionSigner(key, 'https://app.example.com', 60_000)
  return new UpstreamIdentity({ signer, forwardGroups, clock: () => now })
}

function collectingLog (): { log: Parameters<UpstreamIdentity['context']>[0], warnings: object[] } {
  const warnings: object[] = []
  const log = { debug () {}, info () {}, error () {}, warn (obj: object) { warnings.push(obj) }, child () { return log } }
  return { log, warnings }
}

const allowed = (identity = alice): Allowed => ({ allow: true, identity, reason: 'authenticated', rule: undefined })

t.test('forward_groups: mentioned sends only the groups policies name, the same identity object each time', async t => {
  const policy = testPolicy(t)
  const { log } = collectingLog()
  const caller: Caller = { kind: 'session', identity: alice, session: undefined }
  const cut = await upstreamIdentity('mentioned')
  const first = await cut.context(log, routed(policy, '/app/x'), allowed(), caller)
  const second = await cut.context(log, routed(policy, '/app/y'), allowed(), caller)
  t.same(first.identity?.groups, ['admins'], '"staff" is named by no policy')
  t.equal(first.identity, second.identity, 'cut once per identity')
  t.equal(typeof first.assertion, 'string')
  const all = await (await upstreamIdentity('all')).context(log, routed(policy, '/app/x'), allowed(), caller)
  t.same(all.identity?.groups, ['staff', 'admins'])
})

t.test('the access token goes upstream only where the route passes it', async t => {
  const policy = testPolicy(t)
  const { log } = collectingLog()
  const steps = await upstreamIdentity('all')
  const bearer: Caller = { kind: 'bearer', identity: alice, token: 'tok-123' }
  t.equal((await steps.context(log, routed(policy, '/old/x'), allowed(), bearer)).accessToken, 'tok-123', 'pass_access_token: true')
  t.equal((await steps.context(log, routed(policy, '/app/x'), allowed(), bearer)).accessToken, undefined, 'not passed by default')
})

t.test('identity headers over the warning size are logged once per identity', async t => {
  const policy = testPolicy(t)
  const { log, warnings } = collectingLog()
  const steps = await upstreamIdentity('all')
  const big = Object.freeze({ ...alice, groups: Array.from({ length: 400 }, (_, i) => `group-with-a-long-name-${i}`) })
  const caller: Caller = { kind: 'session', identity: big, session: undefined }
  await steps.context(log, routed(policy, '/app/x'), allowed(big), caller)
  await steps.context(log, routed(policy, '/app/y'), allowed(big), caller)
  t.equal(warnings.length, 1)
  t.ok((warnings[0] as { bytes: number }).bytes > IDENTITY_HEADER_WARN_BYTES)
})

t.test('the forward plan: upstream, timeout, client address, and the caller\'s Authorization consumed', async t => {
  const policy = testPolicy(t)
  const who = { identity: alice, assertion: 'a.b.c', headerNames: {}, accessToken: undefined }
  const facts = { who, peerAddress: '10.0.0.9', requestId: 'r', trace: { traceId: 't'.repeat(32), traceparent: 'p', tracestate: undefined, incoming: false }, publicParts: { protocol: 'https', host: 'app.example.com' }, defaultTimeoutMs: 7000, returnTo: '/old/x?a=1' } as const
  const plan = forwardPlan({ ...facts, routed: routed(policy, '/api/x'), caller: { kind: 'bearer', identity: alice, token: 't' } })
  t.equal(plan.dropAuthorization, true, 'a consumed bearer token is not forwarded')
  t.equal(plan.upstream, 'http://127.0.0.1:3000')
  t.equal(plan.timeoutMs, 5000, 'the upstream\'s timeout')
  t.equal(plan.clientIp, '203.0.113.7')
  const unknownClient = forwardPlan({ ...facts, routed: { ...routed(policy, '/old/x'), clientIp: undefined }, caller: { kind: 'bearer', identity: alice, token: 't' } })
  t.equal(unknownClient.dropAuthorization, false, 'pass_access_token keeps it')
  t.equal(unknownClient.clientIp, '10.0.0.9', 'the socket peer when the client address is unknown')
  t.equal(unknownClient.upstreamStepUp, undefined, 'a bearer caller\'s 401 from the upstream is not looked at')
})

t.test('step_up_from_upstream: only a signed-in session on a route with the option has its upstream 401 looked at', async t => {
  const policy = testPolicy(t)
  const who = { identity: alice, assertion: 'a.b.c', headerNames: {}, accessToken: undefined }
  const facts = { who, peerAddress: '10.0.0.9', requestId: 'r', trace: { traceId: 't'.repeat(32), traceparent: 'p', tracestate: undefined, incoming: false }, publicParts: { protocol: 'https', host: 'app.example.com' }, defaultTimeoutMs: 7000, returnTo: '/old/x?a=1' } as const
  const session: Caller = { kind: 'session', identity: alice, session: undefined }
  t.same(forwardPlan({ ...facts, routed: routed(policy, '/old/x?a=1'), caller: session }).upstreamStepUp, { route: 'rewritten', upstreamName: 'default', returnTo: '/old/x?a=1', tried: undefined })
  t.equal(forwardPlan({ ...facts, routed: routed(policy, '/app/x'), caller: session }).upstreamStepUp, undefined, 'a route without the option')
  t.equal(forwardPlan({ ...facts, routed: routed(policy, '/old/x'), caller: { kind: 'anonymous' } }).upstreamStepUp, undefined, 'no session')
  t.equal(forwardPlan({ ...facts, routed: routed(policy, '/old/x'), caller: { kind: 'session', identity: undefined, session: undefined } }).upstreamStepUp, undefined, 'a session that has ended')
})

t.test('the upstream target: the route\'s prefix rewrite on the canonical path, query kept', async t => {
  const policy = testPolicy(t)
  t.equal(upstreamTarget(routed(policy, '/old/a/%2e%2e/b?x=1')), '/new/b?x=1')
  t.equal(upstreamTarget(routed(policy, '/app/x?y')), undefined, 'no rewrite: unchanged')
})

t.test('WebSocket slots: taken up to the limit, given back when the connection closes', async t => {
  const slots = new WebSocketSlots(2)
  const sockets = [new EventEmitter(), new EventEmitter(), new EventEmitter()]
  const closed: number[] = []
  t.equal(slots.take(sockets[0] as EventEmitter, open => closed.push(open)), true)
  t.equal(slots.take(sockets[1] as EventEmitter), true)
  t.equal(slots.take(sockets[2] as EventEmitter), false, 'over the limit')
  t.equal(slots.open, 2)
  sockets[0]?.emit('close')
  t.same(closed, [1])
  t.equal(slots.take(sockets[2] as EventEmitter), true, 'a closed socket frees its slot')
})

t.test('a signed-in caller with a verified client certificate: the upstream is told of both, one identity object per pair', async t => {
  const policy = testPolicy(t)
  const { log } = collectingLog()
  const steps = await upstreamIdentity('all')
  const caller: Caller = { kind: 'session', identity: alice, session: undefined }
  const clientCertificate = Object.freeze({ subject: 'O=Example, CN=laptop-17', subjectCn: 'laptop-17', issuer: 'CN=Device CA', issuerCn: 'Device CA', dns: ['laptop-17.devices.example'], uris: [], emails: [], thumbprint: 'dGh1bWI', serial: '0A' })
  const withCert = { ...routed(policy, '/app/x'), clientCertificate }
  const first = await steps.context(log, withCert, allowed(), caller)
  const second = await steps.context(log, withCert, allowed(), caller)
  t.equal(first.identity?.id, alice.id)
  t.equal(first.identity?.certificate, clientCertificate)
  t.equal(first.identity, second.identity, 'the same object: the assertion is signed once')
  t.equal(first.assertion, second.assertion)
  const claims = JSON.parse(Buffer.from(String(first.assertion).split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>
  t.match(claims, { sub: alice.id, kind: 'user', cnf: { 'x5t#S256': 'dGh1bWI' }, client_cert: { subject: 'O=Example, CN=laptop-17', san_dns: ['laptop-17.devices.example'] } })
  const without = await steps.context(log, routed(policy, '/app/x'), allowed(), caller)
  t.equal(without.identity?.certificate, undefined, 'without a certificate, nothing of one')
})
