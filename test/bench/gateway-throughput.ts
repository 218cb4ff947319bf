/**
 * `npm run bench`: an authenticated GET through Gatehouse against a bare
 * @fastify/http-proxy in front of the same trivial upstream, measured in one
 * run with autocannon, the two interleaved so that machine noise hits both.
 * Gatehouse runs as its own process with Redis sessions, a real sign-in
 * against the test IdP, a 20-route policy with groups and IP conditions,
 * identity headers and the signed assertion. Prints one table, Redis commands
 * per request and RSS, and saves the figures as JSON in bench-results/.
 * Ratios only: nothing here is a pass/fail threshold.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import { DEMO_USERS, startDevIdp } from '../../src/devidp/provider.js'
import { identityFromClaims } from '../../src/identify/identity.js'
import { SessionCipher } from '../../src/session/session-cipher.js'
import { Signer } from '@fastify/cookie'
import { Browser, signInThroughIdp } from '../helpers/browserless.js'
import { freePort } from '../helpers/ports.js'
import { TestRedis } from '../helpers/redis-server.js'

const DURATION = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const cleanups: Array<() => unknown> = []

/** Starts a child process and resolves once `url` answers (or rejects if the process exits first). */
async function child (args: string[], env: Record<string, string>, url: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  cleanups.push(async () => {
    proc.kill('SIGTERM')
    await new Promise(resolve => { const timer = setTimeout(() => { proc.kill('SIGKILL'); resolve(undefined) }, 3000); proc.once('exit', () => { clearTimeout(timer); resolve(undefined) }) })
  })
  let out = ''
  proc.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  proc.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`${args.join(' ')} exited ${String(proc.exitCode)}: ${out}`)
    if (await fetch(url).then(() => true, () => false)) return proc
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`${args.join(' ')} did not answer at ${url}: ${out}`)
}

function rssMb (pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid ?? 0}/status`, 'utf8')
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024)
}

async function load (url: string, headers: Record<string, string>): Promise<autocannon.Result> {
  return await autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers, pipelining: 1 })
}

async function commandCount (redis: Redis): Promise<number> {
  const info = await redis.info('commandstats')
  return [...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].filter(m => m[1] !== 'ping' && m[1] !== 'info').reduce((sum, m) => sum + Number(m[2]), 0)
}

try {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const upstream = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok') })
  await new Promise<void>(resolve => upstream.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => { upstream.closeAllConnections(); upstream.close() })
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  const redisServer = await TestRedis.start()
  cleanups.push(() => redisServer.stop())

  const gwPort = await freePort()
  const gwUrl = `http://127.0.0.1:${gwPort}`
  const secret = randomBytes(16).toString('hex')
  const idp = await startDevIdp({ users: DEMO_USERS, clients: [{ client_id: 'bench', client_secret: secret, redirect_uris: [`${gwUrl}/.gatehouse/callback`] }] })
  cleanups.push(() => idp.close())
  const keyFile = join(dir, 'key.pem')
  writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  // 20 routes: the request matches the last specific one, after groups and IP conditions elsewhere.
  const routes = Array.from({ length: 18 }, (_, i) => `  - name: team${i}\n    match: { path: /team${i}/** }\n    allow: [{ groups: [team${i}] }, { ip: [10.${i}.0.0/16], anonymous: true }]\n    deny: [{ ip: [192.0.2.0/24] }]\n`).join('')
  const policy = join(dir, 'policy.yaml')
  writeFileSync(policy, `routes:\n${routes}  - name: app\n    match: { path: /app/** }\n    allow: [{ groups: [staff, admins] }]\n    deny: [{ ip: [192.0.2.0/24] }]\n  - name: rest\n    match: { path: /** }\n    allow: authenticated\n`)
  const prefix = `bench-${randomBytes(4).toString('hex')}:`
  const sessionSecret = randomBytes(32).toString('hex')
  // BENCH_PROFILE=dir writes a CPU profile of the gateway (node --cpu-prof) for the closing analysis.
  const profile = process.env.BENCH_PROFILE === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
  const gateway = await child([...profile, 'dist/cli.js', 'serve'], {
    GATEHOUSE_LISTEN: `127.0.0.1:${gwPort}`, GATEHOUSE_PUBLIC_URL: gwUrl, GATEHOUSE_OIDC_ISSUER: idp.issuer, GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
    GATEHOUSE_OIDC_CLIENT_ID: 'bench', GATEHOUSE_OIDC_CLIENT_SECRET: secret, GATEHOUSE_SESSION_SECRET: sessionSecret,
    GATEHOUSE_SIGNING_KEY_FILE: keyFile, GATEHOUSE_UPSTREAM_URL: upstreamUrl, GATEHOUSE_POLICIES: policy, GATEHOUSE_REDIS_URL: redisServer.url,
    GATEHOUSE_REDIS_KEY_PREFIX: prefix, GATEHOUSE_LOG_LEVEL: 'warn', GATEHOUSE_ADMIN_LISTEN: '127.0.0.1:0',
  }, `${gwUrl}/.gatehouse/healthz`)
  const barePort = await freePort()
  const bareUrl = `http://127.0.0.1:${barePort}`
  const bare = await child(['--import', 'tsx', 'test/bench/bare-proxy.ts'], { UPSTREAM: upstreamUrl, PORT: String(barePort) }, `${bareUrl}/`)
  // Wait until the gateway has loaded the IdP's metadata, then sign in for real.
  for (let i = 0; i < 100 && (await fetch(`${gwUrl}/.gatehouse/readyz`)).status !== 200; i++) await new Promise(resolve => setTimeout(resolve, 100))
  const browser = new Browser()
  const landed = await signInThroughIdp(browser, `${gwUrl}/.gatehouse/login?return=/.gatehouse/healthz`, 'alice', 'alice-pass')
  if (landed.status !== 200) throw new Error(`sign-in failed: ${landed.status}`)
  const cookie = `gatehouse=${browser.cookies(gwUrl).get('gatehouse') ?? ''}`
  const check = await fetch(`${gwUrl}/app/home`, { headers: { cookie } })
  if (check.status !== 200) throw new Error(`authenticated request failed: ${check.status}`)
  const redis = new Redis(redisServer.url)
  cleanups.push(() => redis.disconnect())

  // Warm both, then interleave: bare, gatehouse, gatehouse, bare, ...
  await load(`${bareUrl}/app/home`, {})
  await load(`${gwUrl}/app/home`, { cookie })
  const results: Record<'bare' | 'gatehouse', autocannon.Result[]> = { bare: [], gatehouse: [] }
  let redisCommands = 0
  let gatehouseRequests = 0
  const rss: number[] = [rssMb(gateway.pid)]
  for (let round = 0; round < ROUNDS; round++) {
    const order: Array<'bare' | 'gatehouse'> = round % 2 === 0 ? ['bare', 'gatehouse'] : ['gatehouse', 'bare']
    for (const target of order) {
      if (target === 'bare') {
        results.bare.push(await load(`${bareUrl}/app/home`, {}))
      } else {
        const before = await commandCount(redis)
        const r = await load(`${gwUrl}/app/home`, { cookie })
        redisCommands += await commandCount(redis) - before
        gatehouseRequests += r.requests.total
        results.gatehouse.push(r)
        rss.push(rssMb(gateway.pid))
      }
      process.stderr.write(`${target}: ${Math.round(results[target].at(-1)?.requests.average ?? 0)} req/s\n`)
    }
  }
  const summary = (list: autocannon.Result[]): { rps: number, p50: number, p99: number, errors: number, non2xx: number } => ({
    rps: Math.round(list.reduce((a, r) => a + r.requests.average, 0) / list.length),
    p50: Number((list.reduce((a, r) => a + r.latency.p50, 0) / list.length).toFixed(2)),
    p99: Number((list.reduce((a, r) => a + r.latency.p99, 0) / list.length).toFixed(2)),
    errors: list.reduce((a, r) => a + r.errors + r.timeouts, 0),
    non2xx: list.reduce((a, r) => a + r.non2xx, 0),
  })
  const b = summary(results.bare)
  const g = summary(results.gatehouse)
  const result = {
    benchmark: 'authenticated-get',
    date: new Date().toISOString(),
    node: process.version,
    duration_s: DURATION, connections: CONNECTIONS, rounds: ROUNDS,
    bare: b,
    gatehouse: g,
    ratio_rps: Number((g.rps / b.rps).toFixed(3)),
    p99_delta_ms: Number((g.p99 - b.p99).toFixed(2)),
    redis_commands_per_request: Number((redisCommands / Math.max(1, gatehouseRequests)).toFixed(5)),
    gatehouse_rss_mb: { start: rss[0], max: Math.max(...rss), end: rss.at(-1), ...(await manySessions()) },
    bare_rss_mb: rssMb(bare.pid),
    goals: { ratio_rps: '>= 0.9', p99_delta_ms: '<= 1', redis_commands_per_request: '0' },
  }
  /** RSS with 100,000 sessions in Redis, and after 10,000 different ones were used through the gateway. */
  async function manySessions (): Promise<{ sessions_in_redis: number, with_100k_sessions_in_redis: number, after_10k_distinct_sessions: number, distinct_sessions_served: number }> {
    const cipher = new SessionCipher(sessionSecret)
    const signer = new Signer(sessionSecret)
    const now = Date.now()
    const ids: string[] = []
    for (let batch = 0; batch < 100; batch++) {
      const pipeline = redis.pipeline()
      for (let i = 0; i < 1000; i++) {
        const id = randomBytes(24).toString('base64url')
        ids.push(id)
        const n = batch * 1000 + i
        const identity = identityFromClaims({ iss: idp.issuer, sub: `user${n}`, email: `user${n}@example.test`, name: `User ${n}`, groups: ['staff', `team${n % 50}`], roles: [] }, { groupsClaim: 'groups', rolesClaim: 'roles' })
        const record = { cookie: { originalMaxAge: 43_200_000, expires: new Date(now + 43_200_000).toISOString(), httpOnly: true, path: '/', sameSite: 'lax', secure: false }, identity, createdAt: now, lastSeenAt: now, tokens: { idToken: randomBytes(600).toString('base64url'), accessToken: randomBytes(300).toString('base64url'), refreshToken: randomBytes(40).toString('base64url'), expiresAt: now + 3_600_000 } }
        pipeline.set(`${prefix}session:{${id}}`, cipher.encrypt(id, JSON.stringify(record)), 'PX', 3_600_000)
      }
      await pipeline.exec()
    }
    const withSessions = rssMb(gateway.pid)
    let served = 0
    const distinct = ids.slice(0, 10_000)
    for (let i = 0; i < distinct.length; i += 50) {
      const statuses = await Promise.all(distinct.slice(i, i + 50).map(async id => (await fetch(`${gwUrl}/app/home`, { headers: { cookie: `gatehouse=${encodeURIComponent(signer.sign(id))}` } })).status))
      served += statuses.filter(s => s === 200).length
    }
    return { sessions_in_redis: ids.length, with_100k_sessions_in_redis: withSessions, after_10k_distinct_sessions: rssMb(gateway.pid), distinct_sessions_served: served }
  }

  const row = (name: string, s: typeof b, ratio: string): string => `| ${name.padEnd(27)} | ${String(s.rps).padStart(7)} | ${s.p50.toFixed(2).padStart(7)} | ${s.p99.toFixed(2).padStart(7)} | ${String(s.errors + s.non2xx).padStart(6)} | ${ratio.padStart(6)} |`
  process.stdout.write(`\nAuthenticated GET, ${CONNECTIONS} connections, ${ROUNDS} x ${DURATION} s per target, interleaved (${process.version}):\n\n`)
  process.stdout.write('| target                      |   req/s | p50 ms  | p99 ms  | errors |  ratio |\n|-----------------------------|---------|---------|---------|--------|--------|\n')
  process.stdout.write(`${row('bare @fastify/http-proxy', b, '1.000')}\n${row('Gatehouse (session, policy)', g, result.ratio_rps.toFixed(3))}\n\n`)
  process.stdout.write(`p99 difference: ${result.p99_delta_ms} ms (goal <= 1); Redis commands per request: ${result.redis_commands_per_request} (goal 0)\nGatehouse RSS: ${result.gatehouse_rss_mb.start} MB at start, ${result.gatehouse_rss_mb.max} MB under load, ${result.gatehouse_rss_mb.with_100k_sessions_in_redis} MB with 100,000 sessions in Redis, ${result.gatehouse_rss_mb.after_10k_distinct_sessions} MB after serving ${result.gatehouse_rss_mb.distinct_sessions_served} different sessions (goal < 150 MB); bare proxy ${result.bare_rss_mb} MB\n`)
  mkdirSync('bench-results', { recursive: true })
  const out = join('bench-results', `authenticated-get-${result.date.replace(/[:.]/g, '-')}.json`)
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`saved ${out}\n`)
} finally {
  for (const fn of cleanups.reverse()) await fn()
}
