/**
 * Policy matching cost for 10 and for 10,000 routes, measured in one run with
 * the two interleaved so that machine noise hits both alike. Prints the ratio;
 * the goal is 10,000 routes <= 1.2x the time of 10. Nothing here asserts
 * timings: run it with `npm run bench:routes`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { decide } from '../../src/authorize/decision.js'
import { identityFromClaims } from '../../src/identify/build-identity.js'
import { parseAddress } from '../../src/net/address.js'
import { canonicalizeTarget } from '../../src/policy/canonical-path.js'
import { loadPolicy, type Policy } from '../../src/policy/load-policy.js'
import { saveResult } from './save-result.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20)
const LOOKUPS_PER_ROUND = Number(process.env.BENCH_LOOKUPS ?? 50_000)

function policyWith (count: number, dir: string): { policy: Policy, loadMs: number } {
  const routes: string[] = []
  for (let i = 0; i < count - 2; i++) {
    const kind = i % 4
    if (kind === 0) routes.push(`  - name: svc${i}\n    match: { path: /svc${i}/** }\n    allow: [{ groups: [team${i % 50}] }, { roles: [App.Admin] }]\n`)
    else if (kind === 1) routes.push(`  - name: api${i}\n    match: { path: /api/v1/items${i}/*/detail, methods: [GET, POST] }\n    allow: authenticated\n`)
    else if (kind === 2) routes.push(`  - name: host${i}\n    match: { host: app${i}.example.com, path: /** }\n    allow: [{ ip: [10.${i % 250}.0.0/16], anonymous: true }]\n`)
    else routes.push(`  - name: exact${i}\n    match: { path: /pages/p${i} }\n    allow: anyone\n    deny: [{ ip: [192.0.2.0/24] }]\n`)
  }
  routes.push('  - name: public\n    match: { path: /public/** }\n    allow: anyone\n')
  routes.push('  - name: rest\n    match: { path: /** }\n    allow: authenticated\n')
  const file = join(dir, `p${count}.yaml`)
  writeFileSync(file, `routes:\n${routes.join('')}`)
  const started = performance.now()
  const { policy } = loadPolicy(file, { defaultUpstream: { url: 'http://127.0.0.1:3000', timeoutMs: 30_000 } })
  return { policy, loadMs: performance.now() - started }
}

// The same request mix for both tables: paths that exist in the small one, and
// paths that fall through to the catch-all in both.
const TARGETS = ['/svc0/a/b?x=1', '/api/v1/items1/42/detail', '/pages/p3', '/public/app.css', '/home', '/reports/2026/q3', '/svc4/../public/x', '/a/b/c/d/e/f']
const identity = identityFromClaims({ iss: 'bench', sub: 'alice', groups: ['team7', 'staff'], roles: ['App.Admin'], amr: ['pwd', 'mfa'] }, { groupsClaim: 'groups', rolesClaim: 'roles' })
const clientIp = parseAddress('10.3.4.5')

function run (policy: Policy, n: number): number {
  let allowed = 0
  const started = performance.now()
  for (let i = 0; i < n; i++) {
    const target = TARGETS[i % TARGETS.length] as string
    const canonical = canonicalizeTarget(target)
    if (!canonical.ok) continue
    const lookup = policy.table.lookup('app.example.com', 'GET', canonical.value.matchPath)
    if (lookup.kind !== 'route') continue
    if (decide(lookup.route, { identity, clientIp }).allow) allowed++
  }
  const elapsed = performance.now() - started
  if (allowed === 0) throw new Error('nothing was allowed: the benchmark is not measuring what it should')
  return (elapsed * 1e6) / n
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'))
try {
  const small = policyWith(10, dir)
  const large = policyWith(10_000, dir)
  run(small.policy, LOOKUPS_PER_ROUND)
  run(large.policy, LOOKUPS_PER_ROUND)
  const a: number[] = []
  const b: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) { a.push(run(small.policy, LOOKUPS_PER_ROUND)); b.push(run(large.policy, LOOKUPS_PER_ROUND)) } else { b.push(run(large.policy, LOOKUPS_PER_ROUND)); a.push(run(small.policy, LOOKUPS_PER_ROUND)) }
  }
  const ratio = median(b) / median(a)
  const result = {
    benchmark: 'policy-match',
    rounds: ROUNDS,
    lookups_per_round: LOOKUPS_PER_ROUND,
    ns_per_request_10_routes: Math.round(median(a)),
    ns_per_request_10000_routes: Math.round(median(b)),
    ratio: Number(ratio.toFixed(3)),
    goal: '<= 1.2',
    load_ms_10_routes: Math.round(small.loadMs),
    load_ms_10000_routes: Math.round(large.loadMs),
  }
  process.stdout.write(`policy match (canonical path + route lookup + decision), median of ${ROUNDS} interleaved rounds:\n`)
  process.stdout.write(`  10 routes      ${result.ns_per_request_10_routes} ns/request\n`)
  process.stdout.write(`  10,000 routes  ${result.ns_per_request_10000_routes} ns/request\n`)
  process.stdout.write(`  ratio          ${result.ratio}x (goal <= 1.2x)\n`)
  process.stdout.write(`  load + compile: ${result.load_ms_10_routes} ms for 10 routes, ${result.load_ms_10000_routes} ms for 10,000\n`)
  process.stdout.write(`saved ${saveResult('policy-match', result)}\n`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
