import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t from 'tap'

/** The repository's example and demo policies keep their promises: `gatehouse test` on their test files, as CI runs it. */
function gatehouse (args: string[]): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

t.test('policies/example.yaml passes policies/example.test.yaml, reaching every route and entry', async t => {
  const result = gatehouse(['test', '--policies', 'policies/example.yaml', '--require-coverage'])
  t.equal(result.status, 0, result.stdout + result.stderr)
  t.match(result.stdout, /^16 passed, 0 failed$/m)
  t.match(result.stdout, 'coverage: every route and every allow/deny entry is reached')
})

t.test('the demo policy passes its tests under a gateway config that names the default upstream', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-demo-tests-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = join(dir, 'gateway.yaml')
  writeFileSync(config, `public_url: https://app.example.com
policies: ${resolve('policies/demo')}
oidc: { issuer: https://idp.example.com, client_id: c, client_secret: s }
session: { secret: ${'z'.repeat(32)} }
upstream: { url: http://127.0.0.1:3000 }
`)
  const result = gatehouse(['test', '--config', config, '--policies', 'policies/demo', '--require-coverage'])
  t.equal(result.status, 0, result.stdout + result.stderr)
  t.match(result.stdout, /^7 passed, 0 failed$/m)
})
