import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

/** The built CLI, as operators run it (npm test builds first). */
function gatehouse (args: string[], env: Record<string, string> = {}): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
// Each case runs the CLI as a process of its own (a few dozen in all), each start ~0.5 s on a quiet machine and several seconds on a loaded one.
t.setTimeout(600_000)

/** A complete configuration with this signing key, and these extra lines. */
const configWith = (key: string, extra = ''): string => `public_url: https://app.example.com
oidc: { issuer: https://idp.example.com, client_id: c, client_secret: s }
session: { secret: ${'z'.repeat(32)} }
signing: { key_file: ${key} }
upstream: { url: http://127.0.0.1:3000 }
redis: { url: redis://127.0.0.1:6379 }
${extra}`

t.test('check: a valid configuration exits 0', async t => {
  const key = join(dir, 'k.pem')
  t.equal(gatehouse(['keygen', '--out', key]).status, 0)
  const file = join(dir, 'ok.yaml')
  writeFileSync(file, configWith(key))
  const result = gatehouse(['check', '--config', file])
  t.equal(result.status, 0, result.stderr)
  t.match(result.stdout, `configuration OK: ${file}`)
})

t.test('check: every problem is printed as file:line:col, exit 1', async t => {
  const file = join(dir, 'bad.yaml')
  writeFileSync(file, 'public_url: https://app.example.com\noidc:\n  isuer: https://idp\nsession:\n  secret: short\n')
  const result = gatehouse(['check', '--config', file])
  t.equal(result.status, 1)
  t.match(result.stderr, `${file}:3:3: error: unknown key "oidc.isuer" (did you mean "issuer"?)`)
  t.match(result.stderr, /error\(s\); not valid/)
})

t.test('check fails on everything serve fails on before it listens, every problem in one run, in file order', async t => {
  const { generateKeyPairSync } = await import('node:crypto')
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const keys: Array<[string, string | undefined, RegExp]> = [
    ['a missing key file', undefined, /missing\.pem: error: cannot read the signing key: ENOENT/],
    ['a file that is not a key', 'hello\n', /not-a-key\.pem: error: not a private key in PEM or JWK form/],
    ['a public key', String(pair.publicKey.export({ type: 'spki', format: 'pem' })), /a-public-key\.pem: error: not a private key in PEM or JWK form/],
    ['a key that cannot sign the algorithm', String(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' })), /a-key-that-cannot-sign-the-algorithm\.pem: error: a ed25519 key cannot sign ES256/],
  ]
  const policies = join(dir, 'policies-127-1.yaml')
  writeFileSync(policies, 'routes:\n  - name: a\n    match: { path: /a/** }\n    allow: [{ ip: [127.1] }]\n  - name: b\n    match: { path: /b/** }\n    allow: [{ grups: [x] }]\n  - name: c\n    match: { path: /c/** }\n    allow: [{ ip: [not-an-ip] }]\n')
  for (const [name, content, problem] of keys) {
    const key = join(dir, `${name.replaceAll(' ', '-')}.pem`.replace('a-missing-key-file', 'missing'))
    if (content !== undefined) writeFileSync(key, content)
    const file = join(dir, 'serve-refuses.yaml')
    writeFileSync(file, configWith(key, `policies: ${policies}\n`))
    const result = gatehouse(['check', '--config', file])
    t.equal(result.status, 1, name)
    t.match(result.stderr, problem, name)
    t.match(result.stderr, `${policies}:4:20: error: routes.0.allow.0.ip.0 must be string`, `${name}: with the policy problems`)
    t.notOk(result.stdout.includes('OK'), 'nothing is said to be OK')
  }
  // A config that fails on its own still has its key and policies checked; every problem, in file order.
  const file = join(dir, 'all-wrong.yaml')
  writeFileSync(file, `public_url: https://app.example.com
oidc: { issuer: https://idp.example.com, client_id: c, client_secret_file: ${join(dir, 'no-such-secret')} }
session: { secret_file: ${join(dir, 'no-such-session-secret')} }
signing: { key_file: ${join(dir, 'missing.pem')} }
upstream: { url: http://127.0.0.1:3000 }
redis: { url: redis://127.0.0.1:6379 }
policies: ${policies}
`)
  const all = gatehouse(['check', '--config', file])
  t.equal(all.status, 1)
  const lines = all.stderr.trim().split('\n')
  t.same(lines.map(l => l.replace(dir, 'DIR').replace(/: error: .*/, '')), [
    'DIR/all-wrong.yaml:2:56',
    'DIR/all-wrong.yaml:3:12',
    'DIR/missing.pem',
    'DIR/policies-127-1.yaml:4:20',
    'DIR/policies-127-1.yaml:7:15',
    'DIR/policies-127-1.yaml:10:20',
    '6 error(s); not valid',
  ])
})

t.test('check reads GATEHOUSE_CONFIG and the environment', async t => {
  const result = gatehouse(['check'], { GATEHOUSE_CONFIG: join(dir, 'missing.yaml') })
  t.equal(result.status, 1)
  t.match(result.stderr, /cannot read the config file/)
})

t.test('serve refuses to start with an invalid configuration and says why', async t => {
  const result = gatehouse(['serve'], { GATEHOUSE_PUBLIC_URL: 'not a url' })
  t.equal(result.status, 1)
  t.match(result.stderr, /env GATEHOUSE_PUBLIC_URL: error: "not a url" is not a URL/)
  t.match(result.stderr, /not starting/)
})

t.test('usage errors exit 2 with the usage text', async t => {
  for (const args of [[], ['frobnicate'], ['check', '--bogus'], ['keygen'], ['keygen', '--out', join(dir, 'x.pem'), '--alg', 'HS256']]) {
    const result = gatehouse(args)
    t.equal(result.status, 2, args.join(' '))
  }
  t.equal(gatehouse(['--help']).status, 0)
})

t.test('keygen writes a private key readable only by its owner, and --if-missing keeps an existing one', async t => {
  const key = join(dir, 'new.pem')
  t.equal(gatehouse(['keygen', '--out', key, '--alg', 'EdDSA']).status, 0)
  t.equal(statSync(key).mode & 0o777, 0o600)
  const before = readFileSync(key, 'utf8')
  t.match(before, /^-----BEGIN PRIVATE KEY-----/)
  const again = gatehouse(['keygen', '--out', key, '--if-missing'])
  t.equal(again.status, 0)
  t.match(again.stdout, /exists; kept/)
  t.equal(readFileSync(key, 'utf8'), before)
})

t.test('check validates policies too, with file:line:col and warnings', async t => {
  const ok = gatehouse(['check', '--policies', 'policies/example.yaml'])
  t.equal(ok.status, 0, ok.stderr)
  t.match(ok.stdout, 'policy OK: policies/example.yaml: 5 route(s), 2 upstream(s), 0 warning(s)')
  const file = join(dir, 'shadow.yaml')
  writeFileSync(file, 'upstreams: { a: { url: "http://127.0.0.1:1" } }\nroutes:\n  - name: all\n    match: { path: /** }\n    upstream: a\n    allow: authenticated\n  - name: admin\n    match: { path: /admin/** }\n    upstream: a\n    allow: [{ grups: [admins] }]\n')
  const bad = gatehouse(['check', '--policies', file])
  t.equal(bad.status, 1)
  t.match(bad.stderr, `${file}:10:15: error: unknown key "routes.1.allow.0.grups" (did you mean "groups"?)`)
  writeFileSync(file, 'upstreams: { a: { url: "http://127.0.0.1:1" } }\nroutes:\n  - name: all\n    match: { path: /** }\n    upstream: a\n    allow: authenticated\n  - name: admin\n    match: { path: /admin/** }\n    upstream: a\n    allow: [{ groups: [admins] }]\n')
  const shadowed = gatehouse(['check', '--policies', file])
  t.equal(shadowed.status, 0, 'warnings alone do not fail the check')
  t.match(shadowed.stderr, `${file}:7:5: warning: route "admin" can never match: route "all" (${file}:3:5) comes first`)
})

t.test('check --policies alone takes the default upstream from --upstream or GATEHOUSE_UPSTREAM_URL', async t => {
  const none = gatehouse(['check', '--policies', 'policies/demo'])
  t.equal(none.status, 1, 'routes on the default upstream need one')
  t.match(none.stderr, 'policies/demo/demo.yaml:7:5: error: upstream is required')
  t.match(none.stderr, 'hint: for policies checked without a config, give the default upstream with --upstream URL or GATEHOUSE_UPSTREAM_URL')
  const flag = gatehouse(['check', '--policies', 'policies/demo', '--upstream', 'http://127.0.0.1:3000'])
  t.equal(flag.status, 0, flag.stderr)
  t.match(flag.stdout, 'policy OK: policies/demo: 3 route(s), 1 upstream(s), 0 warning(s)')
  const env = gatehouse(['check', '--policies', 'policies/demo'], { GATEHOUSE_UPSTREAM_URL: 'http://app.internal:8080' })
  t.equal(env.status, 0, env.stderr)
  const bad = gatehouse(['check', '--policies', 'policies/demo', '--upstream', 'ftp://files'])
  t.equal(bad.status, 1)
  t.match(bad.stderr, '--upstream: error: "ftp://files" is not an http or https URL')
  const explained = gatehouse(['explain', '--policies', 'policies/demo', '--upstream', 'http://127.0.0.1:3000', '--user', 'bob', 'http://localhost:8080/public/'])
  t.equal(explained.status, 0, explained.stderr)
  t.match(explained.stdout, 'http://127.0.0.1:3000')
})

t.test('explain says which route and which condition decided', async t => {
  const bob = gatehouse(['explain', '--policies', 'policies/example.yaml', '--user', 'bob', '--groups', 'staff', 'https://app.example.com/admin/users'])
  t.equal(bob.status, 3, 'not allowed: exit 3')
  t.match(bob.stdout, 'route:    admin (policies/example.yaml:17:5) -> legacy http://127.0.0.1:9100')
  t.match(bob.stdout, 'decision: deny (403)')
  t.match(bob.stdout, 'because:  requires group admins, or requires app role App.Admin [group_required] (policies/example.yaml:21:9)')
  const alice = gatehouse(['explain', '--policies', 'policies/example.yaml', '--user', 'alice', '--groups', 'admins', '--amr', 'pwd,mfa', '/admin/users'])
  t.equal(alice.status, 0)
  t.match(alice.stdout, 'decision: allow')
  t.match(alice.stdout, 'because:  allow entry (policies/example.yaml:21:9) holds')
  const guest = gatehouse(['explain', '--policies', 'policies/example.yaml', '--ip', '192.0.2.9', '--user', 'alice', '--roles', 'App.Admin', '--json', '/admin/'])
  t.same(JSON.parse(guest.stdout), { outcome: 'forbidden', route: 'admin', route_at: 'policies/example.yaml:17:5', path: '/admin/', reason: 'network_denied', rule: 'policies/example.yaml:25:9', because: 'not available from your network [network_denied] (policies/example.yaml:25:9)' })
  const anonymous = gatehouse(['explain', '--policies', 'policies/example.yaml', '--ip', '10.9.9.9', '/internal/x'])
  t.match(anonymous.stdout, 'decision: allow')
  const tricky = gatehouse(['explain', '--policies', 'policies/example.yaml', '/public/..%2fadmin'])
  t.match(tricky.stdout, /decision: bad request \(400\)\nbecause:  the path is refused \(400, encoded_separator\)/)
  const usage = gatehouse(['explain', '--policies', 'policies/example.yaml', '--ip', 'nope', '/'])
  t.equal(usage.status, 2)
})

t.test('serve exits with an error, not a hang, when its port is taken', async t => {
  const { createServer } = await import('node:net')
  const blocker = createServer()
  await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { blocker.close() })
  const port = (blocker.address() as import('node:net').AddressInfo).port
  const key = join(dir, 'serve.pem')
  t.equal(gatehouse(['keygen', '--out', key]).status, 0)
  const result = gatehouse(['serve'], {
    GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
    GATEHOUSE_PUBLIC_URL: `http://127.0.0.1:${port}`,
    GATEHOUSE_OIDC_ISSUER: 'http://127.0.0.1:9/unreachable',
    GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
    GATEHOUSE_OIDC_CLIENT_ID: 'c',
    GATEHOUSE_OIDC_CLIENT_SECRET: 's',
    GATEHOUSE_SESSION_SECRET: 'q'.repeat(40),
    GATEHOUSE_SIGNING_KEY_FILE: key,
    GATEHOUSE_UPSTREAM_URL: 'http://127.0.0.1:9',
    GATEHOUSE_ADMIN_LISTEN: 'off',
    GATEHOUSE_REDIS_URL: 'redis://127.0.0.1:6379',
    GATEHOUSE_LOG_LEVEL: 'silent',
  })
  t.equal(result.status, 1, 'exit code 1')
  t.match(result.stderr, /EADDRINUSE/)
})
