import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadPolicy } from '../../src/policy/load-policy.js'
import { runPolicyTests } from '../../src/policy-test/run-tests.js'
import { loadTestFiles } from '../../src/policy-test/test-files.js'

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-tests-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const POLICY = `upstreams:
  app: { url: http://127.0.0.1:3000 }
  api: { url: http://127.0.0.1:3001 }
routes:
  - name: public
    match: { path: /public/** }
    upstream: app
    allow: anyone
  - name: tenant-admin
    match: { host: admin.example.com, path: /** }
    upstream: app
    allow:
      - claims: { department: ops }
  - name: api
    match: { path: /api/**, methods: [GET, POST] }
    upstream: api
    credentials: [bearer]
    allow:
      - scopes: [orders.read]
  - name: live
    match: { path: /live/** }
    upstream: app
    websockets: false
    allow: authenticated
  - name: staff
    match: { path: /** }
    upstream: app
    allow:
      - groups: [staff]
    deny:
      - users: [mallory]
`
const policyFile = join(dir, 'policy.yaml')
writeFileSync(policyFile, POLICY)
const policy = loadPolicy(policyFile, { defaultUpstream: undefined, bearerConfigured: true }).policy

function write (name: string, text: string): string {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

function gatehouse (args: string[]): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

t.test('every expect form is decided by the gateway code, and holds', async t => {
  const file = write('forms.test.yaml', `cases:
  - name: allow
    request: { url: /public/a }
    expect: allow
  - name: deny by a deny entry
    request: { url: /x }
    identity: { user: mallory, groups: [staff] }
    expect: { decision: deny, route: staff, reason: denied_by_rule, rule: policy.yaml:31 }
  - name: signin
    request: { url: /x }
    expect: signin
  - name: not_found (the gateway's own paths, in any spelling)
    request: { url: /.GATEHOUSE;x/me }
    expect: not_found
  - name: bad_request (an encoded slash)
    request: { url: /public/a%2f..%2f..%2fx }
    expect: bad_request
  - name: method_not_allowed
    request: { method: PROPFIND, url: /public/a }
    expect: method_not_allowed
  - name: host routes match absolute URLs
    request: { url: https://admin.example.com/x }
    identity: { user: ops1, claims: { department: ops } }
    expect: { decision: allow, route: tenant-admin, upstream: app }
  - name: or a Host header
    request: { url: /x, headers: { Host: admin.example.com } }
    identity: { user: dev1, claims: { department: dev } }
    expect: { decision: deny, route: tenant-admin, reason: claim_mismatch }
  - name: a session is not read on a bearer-only route
    request: { url: /api/orders }
    identity: { user: app1, scopes: [orders.read] }
    expect: { decision: signin, route: api }
  - name: a bearer token is
    request: { url: /api/orders }
    identity: { user: app1, scopes: [orders.read], credentials: bearer, kind: application, client_id: c1 }
    expect: { decision: allow, route: api, upstream: api }
  - name: a WebSocket handshake on a route without websockets
    request: { url: /live/feed, headers: { upgrade: websocket } }
    identity: { user: bob, groups: [staff] }
    expect: { decision: deny, route: live, reason: websockets_disabled }
`)
  const loaded = loadTestFiles([file])
  t.same(loaded.problems, [])
  const run = runPolicyTests(policy, loaded.cases)
  for (const r of run.results) t.ok(r.ok, `${r.case.name}: ${JSON.stringify(r.actual)}`)
  t.equal(run.passed, 11)
  t.equal(loaded.cases[0]?.where, `${file}:2`)
})

t.test('a failing case says what was expected, what happened, the route and the rule; exit 1', async t => {
  const file = write('fail.test.yaml', `cases:
  - name: mallory is let in
    request: { url: /x }
    identity: { user: mallory, groups: [staff] }
    expect: { decision: allow, route: staff }
  - name: the logo is public
    request: { url: /public/logo.png }
    expect: allow
`)
  const result = gatehouse(['test', '--policies', policyFile, file])
  t.equal(result.status, 1)
  t.match(result.stdout, `not ok  ${file}:2  mallory is let in: expected allow (route staff), got deny (route staff, reason denied_by_rule, rule ${policyFile}:31)`)
  t.match(result.stdout, `ok      ${file}:6  the logo is public`)
  t.match(result.stdout, /^1 passed, 1 failed$/m)
})

t.test('--coverage lists what no case reached; --require-coverage fails on it', async t => {
  const file = write('partial.test.yaml', 'cases:\n  - name: public\n    request: { url: /public/a }\n    expect: allow\n')
  const listed = gatehouse(['test', '--policies', policyFile, '--coverage', file])
  t.equal(listed.status, 0)
  t.match(listed.stdout, 'coverage: 8 not reached by any case:')
  t.match(listed.stdout, `  route of api at ${policyFile}:14`)
  t.match(listed.stdout, `  allow entry of staff at ${policyFile}:29`)
  t.match(listed.stdout, `  deny entry of staff at ${policyFile}:31`)
  t.equal(gatehouse(['test', '--policies', policyFile, '--require-coverage', file]).status, 1)
})

t.test('--reporter junit and tap for CI systems', async t => {
  const file = write('fail2.test.yaml', `cases:
  - name: "staff <get> in & out"
    request: { url: /x }
    identity: { user: bob, groups: [staff] }
    expect: deny
`)
  const junit = gatehouse(['test', '--policies', policyFile, '--reporter', 'junit', file])
  t.equal(junit.status, 1)
  t.match(junit.stdout, '<testsuites name="gatehouse policy tests" tests="1" failures="1">')
  t.match(junit.stdout, `<testcase classname="${file}" name="staff &lt;get&gt; in &amp; out" file="${file}" line="2">`)
  t.match(junit.stdout, '<failure message="expected deny, got allow (route staff, reason allowed')
  const tap = gatehouse(['test', '--policies', policyFile, '--reporter', 'tap', '--require-coverage', file])
  t.equal(tap.status, 1)
  t.match(tap.stdout, /^TAP version 14\n1\.\.2\nnot ok 1 - staff <get> in & out \(.*fail2\.test\.yaml:2\)\n {2}---\n {2}message: "expected deny, got allow/)
  t.match(tap.stdout, /^not ok 2 - coverage$/m)
  t.equal(gatehouse(['test', '--policies', policyFile, '--reporter', 'xml', file]).status, 2)
})

t.test('bad test files: every problem as file:line:col, exit 2, no case run', async t => {
  const cases: Array<[string, string, string]> = [
    ['unknown key', 'cases:\n  - name: a\n    request: { url: /a }\n    expct: allow\n', ':4:5: error: unknown key "cases.0.expct" (did you mean "expect"?)'],
    ['unknown expectation', 'cases:\n  - name: a\n    request: { url: /a }\n    expect: maybe\n', ':4:13: error:'],
    ['bad ip', 'cases:\n  - name: a\n    request: { url: /a, ip: 300.1.1.1 }\n    expect: allow\n', ':3:29: error: request.ip: "300.1.1.1" is not an IP address'],
    ['relative url', 'cases:\n  - name: a\n    request: { url: a/b }\n    expect: allow\n', ':3:21: error: cases.0.request.url has the wrong form'],
    ['yaml syntax', 'cases:\n  - name: a\n    request: { url: /a\n', ':'],
  ]
  for (const [what, text, message] of cases) {
    const file = write(`bad-${what.replace(/ /g, '-')}.test.yaml`, text)
    const result = gatehouse(['test', '--policies', policyFile, file])
    t.equal(result.status, 2, what)
    t.match(result.stderr, `${file}${message}`, `${what}: ${result.stderr}`)
    t.equal(result.stdout, '', `${what}: no case run`)
  }
})

t.test('without file names, the *.test.yaml files of the policy folder', async t => {
  const folder = mkdtempSync(join(dir, 'folder-'))
  writeFileSync(join(folder, 'policy.yaml'), POLICY)
  writeFileSync(join(folder, 'policy.test.yaml'), 'cases:\n  - name: public\n    request: { url: /public/a }\n    expect: allow\n')
  const result = gatehouse(['test', '--policies', folder])
  t.equal(result.status, 0, result.stderr)
  t.match(result.stdout, /^1 passed, 0 failed$/m)
  t.equal(gatehouse(['check', '--policies', folder]).status, 0, 'test files beside the policies are not read as policies')
})

t.test('a WebSocket handshake with an Origin is checked as the gateway checks it', async t => {
  const chatFile = write('chat-policy.yaml', `routes:
  - name: chat
    match: { path: /chat/** }
    upstream: default
    websocket_origins: [https://embed.example.com]
    allow: authenticated
`)
  const chat = loadPolicy(chatFile, { defaultUpstream: { url: 'http://127.0.0.1:3000', timeoutMs: 5000 } }).policy
  const file = write('chat.test.yaml', `cases:
  - name: the gateway's own origin (the URL's)
    request: { url: https://app.example.com/chat/s, headers: { upgrade: websocket, origin: https://app.example.com } }
    identity: { user: bob }
    expect: allow
  - name: a listed origin
    request: { url: /chat/s, headers: { upgrade: websocket, origin: https://embed.example.com } }
    identity: { user: bob }
    expect: allow
  - name: another site
    request: { url: https://app.example.com/chat/s, headers: { upgrade: websocket, origin: https://evil.example.com } }
    identity: { user: bob }
    expect: { decision: deny, reason: websocket_origin }
  - name: another site, nobody signed in
    request: { url: /chat/s, headers: { upgrade: websocket, origin: https://evil.example.com } }
    expect: signin
`)
  const loaded = loadTestFiles([file])
  t.same(loaded.problems, [])
  const run = runPolicyTests(chat, loaded.cases)
  for (const r of run.results) t.ok(r.ok, `${r.case.name}: ${JSON.stringify(r.actual)}`)
  t.equal(run.passed, 4)
})

t.test('a case may come with a verified client certificate, for client_certificate conditions', async t => {
  const certPolicyFile = write('certs.yaml', `upstreams:
  app: { url: http://127.0.0.1:3000 }
routes:
  - name: batch
    match: { path: /batch/** }
    upstream: app
    allow:
      - client_certificate: { san_uri: [spiffe://example.test/batch], issuer_cn: [Internal CA] }
  - name: reports
    match: { path: /reports/** }
    upstream: app
    allow:
      - groups: [finance]
      - client_certificate: { subject: ["CN=reporter, O=Example"] }
`)
  const certPolicy = loadPolicy(certPolicyFile, { defaultUpstream: undefined }).policy
  const file = write('certs.test.yaml', `cases:
  - name: the batch service by its certificate
    request: { url: /batch/run }
    certificate: { subject: "CN=batch", issuer: "CN=Internal CA", san_uri: [spiffe://example.test/batch] }
    expect: allow
  - name: another CA's
    request: { url: /batch/run }
    certificate: { subject: "CN=batch", issuer: "CN=Other CA", san_uri: [spiffe://example.test/batch] }
    expect: { decision: deny, reason: certificate_not_accepted }
  - name: no certificate on a certificate-only route
    request: { url: /batch/run }
    expect: { decision: deny, reason: certificate_not_accepted }
  - name: no certificate where people pass too
    request: { url: /reports/q1 }
    expect: signin
  - name: the reporter
    request: { url: /reports/q1 }
    certificate: { subject: "O=Example, CN=reporter" }
    expect: { decision: allow, route: reports }
`)
  const loaded = loadTestFiles([file])
  t.same(loaded.problems, [])
  const run = runPolicyTests(certPolicy, loaded.cases)
  for (const r of run.results) t.ok(r.ok, `${r.case.name}: ${JSON.stringify(r.actual)}`)
  t.equal(run.passed, 5)
})
