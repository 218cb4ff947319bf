import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { decide, routeNeedsIdentity } from '../../src/authorize/decision.js'
import { identityFromClaims } from '../../src/identify/build-identity.js'
import { certificateIdentity, withCertificate } from '../../src/identify/client-certificate.js'
import type { ClientCertificate } from '../../src/identify/identity.js'
import { loadPolicy } from '../../src/policy/load-policy.js'
import type { Route } from '../../src/policy/types.js'

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cert-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const YAML = `routes:
  - name: by-san
    match: { path: /san }
    allow:
      - client_certificate: { san_dns: [Batch.Internal], san_uri: [spiffe://example.test/batch] }
  - name: by-dn
    match: { path: /dn }
    allow:
      - client_certificate: { subject: ["cn=reporter, O=Example"], issuer: ["CN=Internal CA"] }
  - name: by-email
    match: { path: /email }
    allow:
      - client_certificate: { san_email: [Robot@Example.test], issuer_cn: [Internal CA] }
  - name: people-or-cert
    match: { path: /mixed }
    allow:
      - groups: [admins]
      - client_certificate: { subject_cn: [reporter] }
  - name: device-and-person
    match: { path: /both }
    allow:
      - client_certificate: { issuer_cn: [Internal CA] }
        groups: [admins]
  - name: not-reporter
    match: { path: /deny }
    allow: anyone
    deny:
      - client_certificate: { subject_cn: [reporter] }
`
const file = join(dir, 'policy.yaml')
writeFileSync(file, YAML)
const loaded = loadPolicy(file, { defaultUpstream: { url: 'http://127.0.0.1:9', timeoutMs: 1000 } })
const route = (name: string): Route => {
  const r = loaded.policy.routes.find(x => x.name === name)
  if (r === undefined) throw new Error(name)
  return r
}

function cert (over: Partial<ClientCertificate> = {}): ClientCertificate {
  return { subject: 'O=Example, CN=reporter', subjectCn: 'reporter', issuer: 'CN=Internal CA', issuerCn: 'Internal CA', dns: [], uris: [], emails: [], thumbprint: 'abc', serial: '01', ...over }
}
const admin = identityFromClaims({ iss: 'https://idp', sub: 'u-1', groups: ['admins'] }, { groupsClaim: 'groups', rolesClaim: 'roles' })

t.test('each test of the condition, and every test written must hold', async t => {
  const batch = cert({ subject: 'CN=batch', subjectCn: 'batch', dns: ['batch.internal'], uris: ['spiffe://example.test/batch'] })
  t.match(decide(route('by-san'), { identity: undefined, clientIp: undefined, clientCertificate: batch }), { allow: true, identity: { kind: 'certificate', id: 'spiffe://example.test/batch' } }, 'DNS SANs compare without case')
  t.match(decide(route('by-san'), { identity: undefined, clientIp: undefined, clientCertificate: cert({ dns: ['batch.internal'] }) }), { allow: false, kind: 'forbidden', reason: 'certificate_not_accepted' }, 'both SAN tests must hold')
  t.match(decide(route('by-dn'), { identity: undefined, clientIp: undefined, clientCertificate: cert() }), { allow: true }, 'a DN matches in any order and attribute case')
  t.match(decide(route('by-dn'), { identity: undefined, clientIp: undefined, clientCertificate: cert({ subject: 'O=Example, OU=Ops, CN=reporter' }) }), { allow: false }, 'a DN with another attribute is another DN')
  t.match(decide(route('by-email'), { identity: undefined, clientIp: undefined, clientCertificate: cert({ emails: ['robot@example.test'] }) }), { allow: true })
  t.match(decide(route('by-email'), { identity: undefined, clientIp: undefined, clientCertificate: cert({ emails: ['robot@example.test'], issuerCn: 'Other CA' }) }), { allow: false })
})

t.test('without a certificate: 403 where only certificates pass, sign in where people pass too', async t => {
  t.match(decide(route('by-san'), { identity: undefined, clientIp: undefined }), { allow: false, kind: 'forbidden', reason: 'certificate_not_accepted', message: /requires a client certificate with san_dns Batch.Internal, san_uri spiffe/ })
  t.match(decide(route('people-or-cert'), { identity: undefined, clientIp: undefined }), { allow: false, kind: 'unauthenticated', reason: 'not_signed_in' })
  t.match(decide(route('people-or-cert'), { identity: admin, clientIp: undefined }), { allow: true, identity: admin })
  t.match(decide(route('people-or-cert'), { identity: undefined, clientIp: undefined, clientCertificate: cert() }), { allow: true, identity: { kind: 'certificate', id: 'reporter' } })
  t.match(decide(route('people-or-cert'), { identity: admin, clientIp: undefined, clientCertificate: cert() }), { allow: true, identity: admin }, 'who signed in is who is asking')
})

t.test('a certificate and a person together', async t => {
  t.match(decide(route('device-and-person'), { identity: admin, clientIp: undefined, clientCertificate: cert() }), { allow: true, identity: admin })
  t.match(decide(route('device-and-person'), { identity: admin, clientIp: undefined }), { allow: false, kind: 'forbidden', reason: 'certificate_not_accepted' })
  t.match(decide(route('device-and-person'), { identity: undefined, clientIp: undefined, clientCertificate: cert() }), { allow: false, kind: 'unauthenticated' }, 'a certificate is not a sign-in')
})

t.test('deny entries match a verified certificate only', async t => {
  t.match(decide(route('not-reporter'), { identity: undefined, clientIp: undefined, clientCertificate: cert() }), { allow: false, kind: 'forbidden', reason: 'denied_by_rule' })
  t.match(decide(route('not-reporter'), { identity: undefined, clientIp: undefined }), { allow: true })
})

t.test('a route whose entries take certificates alone does not read sessions', async t => {
  t.equal(routeNeedsIdentity(route('by-san')), false)
  t.equal(routeNeedsIdentity(route('people-or-cert')), true)
  t.equal(routeNeedsIdentity(route('device-and-person')), true)
})

t.test('identities from certificates: the id chosen, one object per certificate and per pair', async t => {
  t.equal(certificateIdentity(cert({ uris: ['spiffe://a/b'], dns: ['x.internal'] })).id, 'spiffe://a/b')
  t.equal(certificateIdentity(cert({ dns: ['x.internal'], emails: ['r@example.test'] })).id, 'x.internal')
  t.equal(certificateIdentity(cert({ emails: ['r@example.test'] })).id, 'r@example.test')
  t.equal(certificateIdentity(cert({ subjectCn: undefined, subject: 'O=Example' })).id, 'x5t#S256:abc')
  const c = cert()
  t.equal(certificateIdentity(c), certificateIdentity(c))
  t.equal(withCertificate(admin, c), withCertificate(admin, c))
  t.equal(withCertificate(admin, c).certificate, c)
  t.equal(withCertificate(admin, c).id, admin.id)
})

t.test('a distinguished name that is not one is a policy error', async t => {
  const bad = join(dir, 'bad.yaml')
  writeFileSync(bad, 'routes:\n  - name: r\n    match: { path: /x }\n    allow:\n      - client_certificate: { subject: [reporter] }\n')
  t.throws(() => loadPolicy(bad, { defaultUpstream: { url: 'http://127.0.0.1:9', timeoutMs: 1000 } }), { name: 'ConfigError', message: /bad\.yaml:5:\d+: "reporter" is not a distinguished name/ })
})
