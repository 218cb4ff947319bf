import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { decisionLine } from '../helpers/decision-records.js'

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replay-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

function gatehouse (args: string[]): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

const OLD = `upstreams: { app: { url: http://127.0.0.1:3000 } }
routes:
  - name: reports
    match: { path: /reports/** }
    upstream: app
    allow:
      - groups: [staff, finance]
  - name: admin
    match: { path: /admin/** }
    upstream: app
    allow:
      - groups: [admins]
`
// reports: staff no longer; admin: helpdesk may now read.
const NEW = `upstreams: { app: { url: http://127.0.0.1:3000 } }
routes:
  - name: reports
    match: { path: /reports/** }
    upstream: app
    allow:
      - groups: [finance]
  - name: admin
    match: { path: /admin/** }
    upstream: app
    allow:
      - groups: [admins]
      - groups: [helpdesk]
`
const oldPolicy = join(dir, 'old.yaml')
const newPolicy = join(dir, 'new.yaml')
writeFileSync(oldPolicy, OLD)
writeFileSync(newPolicy, NEW)

const hourAgo = new Date(Date.now() - 3_600_000).toISOString()
const lastWeek = new Date(Date.now() - 7 * 86_400_000).toISOString()
const lines = [
  decisionLine({ path: '/reports/q1', route: 'reports', decision: 'allow', reason: 'allowed', user: 'bob', groups: ['staff'], time: hourAgo }),
  decisionLine({ path: '/reports/q2', route: 'reports', decision: 'allow', reason: 'allowed', user: 'bob', groups: ['staff'], time: hourAgo }),
  decisionLine({ path: '/reports/q1', route: 'reports', decision: 'allow', reason: 'allowed', user: 'carol', groups: ['finance'], time: hourAgo }),
  decisionLine({ path: '/admin/users', route: 'admin', decision: 'deny', reason: 'group_required', user: 'hana', groups: ['helpdesk'], time: hourAgo }),
  decisionLine({ path: '/admin/users', route: 'admin', decision: 'signin', reason: 'not_signed_in', time: hourAgo }),
  decisionLine({ path: '/reports/old', route: 'reports', decision: 'allow', reason: 'allowed', user: 'dave', groups: ['staff'], time: lastWeek }),
  '{"level":30,"event":"signin.success","audit":true}',
  'not json at all',
  '{"event":"access.decision","path":"/x"}',
]
const plain = join(dir, 'audit.log')
writeFileSync(plain, `${lines.join('\n')}\n`)
const gz = join(dir, 'audit.log.1.gz')
writeFileSync(gz, gzipSync(`${lines.slice(0, 3).join('\n')}\n`))

t.test('under the same policy nothing changes: exit 0', async t => {
  const result = gatehouse(['replay', '--policies', oldPolicy, '--decisions', plain])
  t.equal(result.status, 0, result.stderr)
  t.match(result.stdout, 'replayed 6 decision record(s); 0 would change')
  t.match(result.stdout, 'skipped 3 line(s): 1 incomplete decision record, 1 not a decision record (other log line), 1 not JSON')
})

t.test('changes both ways are found, with rules, examples and newly denied users; exit 1', async t => {
  const result = gatehouse(['replay', '--policies', newPolicy, '--decisions', plain, '--decisions', gz, '--since', '24h'])
  t.equal(result.status, 1, result.stderr)
  t.match(result.stdout, 'replayed 8 decision record(s); 5 would change')
  t.match(result.stdout, 'skipped 4 line(s):')
  t.match(result.stdout, '1 older than --since')
  t.match(result.stdout, /changes:\n {2}allow -> deny: 4\n {2}deny -> allow: 1\n/)
  t.match(result.stdout, /by route \(as recorded\):\n {2}reports: 4 of 6\n {2}admin: 1 of 2\n/)
  t.match(result.stdout, `  ${newPolicy}:7: 4`)
  t.match(result.stdout, `  ${newPolicy}:13: 1`)
  t.match(result.stdout, 'GET //app.example.com/reports/q1 user bob from 203.0.113.7: requires group finance [group_required]')
  t.match(result.stdout, 'users newly denied (1): bob')
  t.notMatch(result.stdout, /newly denied.*carol/)
})

t.test('--allow-changes exits 0; --json is for tools', async t => {
  const result = gatehouse(['replay', '--policies', newPolicy, '--decisions', plain, '--allow-changes', '--json'])
  t.equal(result.status, 0, result.stderr)
  const summary = JSON.parse(result.stdout) as Record<string, unknown>
  t.equal(summary.records, 6)
  t.equal(summary.changed, 4)
  t.same(summary.changes, { 'allow -> deny': 3, 'deny -> allow': 1 })
  t.same(summary.newly_denied_users, ['bob', 'dave'])
  t.same(summary.skipped, { 'not a decision record (other log line)': 1, 'not JSON': 1, 'incomplete decision record': 1 })
})

t.test('usage: no --decisions, a missing file, a bad --since: exit 2', async t => {
  t.equal(gatehouse(['replay', '--policies', newPolicy]).status, 2)
  t.equal(gatehouse(['replay', '--policies', newPolicy, '--decisions', join(dir, 'missing.log')]).status, 2)
  t.equal(gatehouse(['replay', '--policies', newPolicy, '--decisions', plain, '--since', 'yesterday-ish']).status, 2)
})
