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

t.test('check: a valid configuration exits 0', async t => {
  const key = join(dir, 'k.pem')
  t.equal(gatehouse(['keygen', '--out', key]).status, 0)
  const file = join(dir, 'ok.yaml')
  writeFileSync(file, `public_url: https://app.example.com
oidc: { issuer: https://idp.example.com, client_id: c, client_secret: s }
session: { secret: ${'z'.repeat(32)} }
signing: { key_file: ${key} }
upstream: { url: http://127.0.0.1:3000 }
redis: { url: redis://127.0.0.1:6379 }
`)
  const result = gatehouse(['check', '--config', file])
  t.equal(result.status, 0, result.stderr)
  t.match(result.stdout, `configuration OK: ${file}`)
})

t.test('check: every problem is printed as file:line:col, exit 1', async t => {
  const file = join(dir, 'bad.yaml')
  writeFileSync(file, 'public_url: https://app.example.com\noidc:\n  isuer: https://idp\nsession:\n  secret: short\n')
  const result = gatehouse(['check', '--config', file])
  t.equal(result.status, 1)
  t.match(result.stderr, `${file}:3:3: error: unknown key "oidc.isuer"`)
  t.match(result.stderr, /error\(s\); the configuration is not valid/)
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
