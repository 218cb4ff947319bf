import { createHash, X509Certificate } from 'node:crypto'
import { connect as h2connect, type IncomingHttpHeaders as H2Headers } from 'node:http2'
import { Agent, request as httpsRequest } from 'node:https'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { readDecisionRecords } from '../../src/replay/read-records.js'
import { emptySummary, replayRecord } from '../../src/replay/replay-records.js'
import t from 'tap'
import { policyDir } from '../helpers/policy-files.js'
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js'
import { startStack, type Stack } from '../helpers/stack.js'
import { createTestPki, type Issued, type TestPki } from '../helpers/tls-certs.js'

const POLICY = (upstream: string): string => `
upstreams:
  app: { url: ${upstream} }
routes:
  - name: batch
    match: { path: /batch/** }
    upstream: app
    allow:
      - client_certificate: { san_uri: [spiffe://example.test/batch] }
  - name: reports
    match: { path: /reports/** }
    upstream: app
    allow:
      - client_certificate: { subject: ["CN=reporter, O=Example"], issuer_cn: [Gatehouse Test CA] }
  - name: people-or-reporter
    match: { path: /mixed/** }
    upstream: app
    allow:
      - groups: [admins]
      - client_certificate: { subject_cn: [reporter] }
  - name: no-reporter
    match: { path: /closed/** }
    upstream: app
    allow: anyone
    deny:
      - client_certificate: { subject_cn: [reporter] }
  - name: open
    match: { path: /** }
    upstream: app
    allow: anyone
`

interface Teardown { teardown (fn: () => unknown): void }

interface CertStack { stack: Stack, pki: TestPki, upstream: RecordingUpstream }

async function startCertStack (t: Teardown, mode: 'optional' | 'required' = 'optional', env: Record<string, string> = {}): Promise<CertStack> {
  const pki = createTestPki(t)
  const server = pki.server()
  const upstream = await startRecordingUpstream(t)
  const { file } = policyDir(t, POLICY(upstream.url))
  const stack = await startStack(t, {
    redis: 'memory',
    https: true,
    env: {
      GATEHOUSE_POLICIES: file,
      GATEHOUSE_TLS_CERT_FILE: server.certFile,
      GATEHOUSE_TLS_KEY_FILE: server.keyFile,
      GATEHOUSE_TLS_CLIENT_CA_FILE: pki.caFile,
      GATEHOUSE_TLS_CLIENT_CERTIFICATES: mode,
      ...env,
    },
  })
  return { stack, pki, upstream }
}

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** One HTTP/1.1 request on a connection of its own, with the client certificate given (or none). */
async function get (stack: Stack, pki: TestPki, path: string, client: Issued | undefined, headers: Record<string, string> = { accept: 'application/json' }): Promise<Answer> {
  const agent = new Agent({ ca: pki.ca, ...(client === undefined ? {} : { cert: client.cert, key: client.key }), maxSockets: 1 })
  try {
    return await new Promise((resolve, reject) => {
      const req = httpsRequest(`${stack.url}${path}`, { agent, headers }, res => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { body += c })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
      })
      req.once('error', reject)
      req.end()
    })
  } finally {
    agent.destroy()
  }
}

function thumbprint (pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url')
}

t.test('a verified certificate lets a service in without a token, and the upstream is told who it is', async t => {
  const { stack, pki, upstream } = await startCertStack(t)
  const batch = pki.client('batch-job', 'URI:spiffe://example.test/batch,DNS:batch.internal')
  const res = await get(stack, pki, '/batch/run', batch, { accept: 'application/json', 'x-gatehouse-client-cert-subject': 'CN=admin', 'x-gatehouse-user': 'admin' })
  t.equal(res.status, 200)
  const seen = await upstream.waitFor(r => r.url === '/batch/run')
  t.equal(seen.headers['x-gatehouse-kind'], 'certificate')
  t.equal(seen.headers['x-gatehouse-user'], 'spiffe://example.test/batch', 'the id is the URI SAN')
  t.equal(seen.headers['x-gatehouse-name'], 'batch-job')
  t.same(upstream.values(seen, 'x-gatehouse-client-cert-subject'), ['O=Example%2C CN=batch-job'], 'the client\'s own value is replaced')
  t.equal(seen.headers['x-gatehouse-client-cert-issuer'], 'CN=Gatehouse Test CA')
  t.equal(seen.headers['x-gatehouse-client-cert-san'], 'DNS:batch.internal,URI:spiffe://example.test/batch')
  t.equal(seen.headers['x-gatehouse-client-cert-thumbprint'], thumbprint(batch.cert))
  const assertion = decodeJwt(String(seen.headers['x-gatehouse-assertion']))
  t.match(assertion, {
    sub: 'spiffe://example.test/batch',
    kind: 'certificate',
    cnf: { 'x5t#S256': thumbprint(batch.cert) },
    client_cert: { subject: 'O=Example, CN=batch-job', issuer: 'CN=Gatehouse Test CA', san_dns: ['batch.internal'], san_uri: ['spiffe://example.test/batch'] },
  })

  const reporter = pki.client('reporter')
  t.equal((await get(stack, pki, '/reports/q1', reporter)).status, 200, 'a subject DN written in another order matches')
  t.equal((await upstream.waitFor(r => r.url === '/reports/q1')).headers['x-gatehouse-user'], 'reporter', 'without SANs the id is the CN')
})

t.test('over HTTP/2 the certificate of the connection counts for every stream', async t => {
  const { stack, pki, upstream } = await startCertStack(t)
  const batch = pki.client('batch-job', 'URI:spiffe://example.test/batch')
  const session = h2connect(stack.url, { ca: pki.ca, cert: batch.cert, key: batch.key })
  t.teardown(() => session.close())
  for (const path of ['/batch/one', '/batch/two']) {
    const req = session.request({ ':path': path, accept: 'application/json' })
    req.resume()
    const headers = await new Promise<H2Headers>((resolve, reject) => { req.once('response', resolve); req.once('error', reject) })
    t.equal(headers[':status'], 200, path)
  }
  t.equal((await upstream.waitFor(r => r.url === '/batch/two')).headers['x-gatehouse-user'], 'spiffe://example.test/batch')
})

t.test('certificates refused: another subject, and any certificate that did not verify', async t => {
  const { stack, pki, upstream } = await startCertStack(t)
  const rogue = createTestPki(t, 'Gatehouse Test CA')
  const cases: Array<[string, Issued]> = [
    ['a verified certificate with another SAN', pki.client('batch-job', 'URI:spiffe://example.test/other')],
    ['a certificate from another CA with the same name and the right SAN', rogue.client('batch-job', 'URI:spiffe://example.test/batch')],
  ]
  for (const [name, cert] of cases) {
    const res = await get(stack, pki, '/batch/run', cert)
    t.equal(res.status, 403, name)
    t.match(JSON.parse(res.body), { error: { code: 'GH_FORBIDDEN', reason: 'certificate_not_accepted' } }, name)
  }
  t.equal((await get(stack, pki, '/reports/x', rogue.client('reporter'))).status, 403, 'an unverified certificate never counts, whatever its subject')
  t.equal((await get(stack, pki, '/closed/x', rogue.client('reporter'))).status, 200, 'nor does it match a deny entry')
  t.equal((await get(stack, pki, '/closed/x', pki.client('reporter'))).status, 403, 'a verified one does')
  t.equal(upstream.seen.filter(r => r.url.startsWith('/batch') || r.url.startsWith('/reports')).length, 0, 'nothing refused reached the upstream')
})

t.test('no certificate: a certificate-only route answers 403, never a sign-in; a route that also takes people asks them to sign in', async t => {
  const { stack, pki } = await startCertStack(t)
  const api = await get(stack, pki, '/batch/run', undefined)
  t.equal(api.status, 403)
  t.match(JSON.parse(api.body), { error: { reason: 'certificate_not_accepted' } })
  const navigation = await get(stack, pki, '/batch/run', undefined, { accept: 'text/html', 'sec-fetch-mode': 'navigate' })
  t.equal(navigation.status, 403, 'a browser is not sent to sign in: signing in would not help')
  const mixed = await get(stack, pki, '/mixed/page', undefined, { accept: 'text/html', 'sec-fetch-mode': 'navigate' })
  t.equal(mixed.status, 302, 'where people may pass too, a browser is sent to sign in')
  t.ok(String(mixed.headers.location).startsWith(stack.idp.issuer), 'to the IdP')
  t.equal((await get(stack, pki, '/mixed/page', undefined)).status, 401, 'and an API client gets 401')
  t.equal((await get(stack, pki, '/mixed/page', pki.client('reporter'))).status, 200, 'the certificate lets the service in')
  t.equal((await get(stack, pki, '/open', undefined)).status, 200, 'routes that ask for no certificate are unchanged')
})

t.test('client_certificates: required refuses a connection without a verified certificate at the handshake', async t => {
  const { stack, pki } = await startCertStack(t, 'required')
  await t.rejects(get(stack, pki, '/open', undefined), 'no certificate: no connection')
  await t.rejects(get(stack, pki, '/open', createTestPki(t).client('stranger')), 'a certificate of another CA: no connection')
  t.equal((await get(stack, pki, '/open', pki.client('anyone'))).status, 200)
})

t.test('decision records keep the certificate, and gatehouse replay decides them the same', async t => {
  const { stack, pki } = await startCertStack(t, 'optional', { GATEHOUSE_LOG_DECISIONS: 'all' })
  t.equal((await get(stack, pki, '/batch/run', pki.client('batch-job', 'URI:spiffe://example.test/batch'))).status, 200)
  t.equal((await get(stack, pki, '/batch/run', pki.client('intruder', 'URI:spiffe://example.test/other'))).status, 403)
  t.equal((await get(stack, pki, '/batch/run', undefined)).status, 403)
  const records = stack.logs.records().filter(r => r.event === 'access.decision' && r.path === '/batch/run')
  t.equal(records.length, 3)
  t.match(records[0], { decision: 'allow', certificate: { subject: 'O=Example, CN=batch-job', issuer: 'CN=Gatehouse Test CA', san_uri: ['spiffe://example.test/batch'] } })
  t.notOk('certificate' in (records[2] ?? {}), 'no certificate, no field')
  const file = join(pki.dir, 'decisions.jsonl')
  writeFileSync(file, records.map(r => JSON.stringify(r)).join('\n') + '\n')
  const summary = emptySummary()
  for await (const record of readDecisionRecords([file], undefined, new Map())) replayRecord(stack.gateway.policies.current, record, summary)
  t.equal(summary.records, 3)
  t.equal(summary.changed, 0, 'the same policy decides every record the same way')
})
