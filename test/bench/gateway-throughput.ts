/**
 * `npm run bench`: an authenticated GET through Gatehouse against a bare
 * @fastify/http-proxy in front of the same trivial upstream, the two
 * interleaved so that machine noise hits both. Gatehouse runs with Redis
 * sessions, a real sign-in against the test IdP, a 20-route policy with
 * groups and IP conditions, identity headers and the signed assertion.
 *
 * Every part is a process of its own: the upstream, the bare proxy, the
 * gateway and the load generator (wrk when installed, else autocannon), so no
 * server shares an event loop with the load. Where taskset exists and there
 * are 2 CPUs or more, the proxy under test gets the last CPU to itself and
 * everything else (load generator, upstream, Redis, IdP) the others
 * (BENCH_PIN=0 turns this off). Each proxy's own CPU time per request is
 * read from /proc, which does not depend on who else was busy.
 *
 * Then, latency at a fixed offered load: half the requests per second the
 * bare proxy managed above, offered to each in turn (autocannon at a fixed
 * rate, latency counted from when each request was due), so that p50 and p99
 * are those a person feels when the gateway is not saturated. And requests/s
 * with 1 and with 2 worker processes (`workers`): the load generator pinned
 * to CPU 0, the gateway's processes on any CPU (BENCH_SCALING=0 skips it).
 *
 * Then: RSS with 100,000 sessions in Redis and after serving many different
 * ones, and a soak (GATEHOUSE_BENCH_SOAK_SECONDS, default 30; 600 for the
 * 10-minute run) that samples the gateway's RSS under load across 1,000
 * sessions. Prints one table and saves every figure as JSON in bench-results/.
 * Ratios only: nothing here is a pass/fail threshold.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { Signer } from '@fastify/cookie'
import { DEMO_USERS, startDevIdp } from '../../src/devidp/provider.js'
import { identityFromClaims } from '../../src/identify/build-identity.js'
import { SessionCipher } from '../../src/session/session-cipher.js'
import { Browser, signInThroughIdp } from '../helpers/browserless.js'
import { freePort } from '../helpers/ports.js'
import { benchRedis } from './bench-redis.js'
import { loadTool, runLoad, type LoadResult } from './load-generator.js'
import { cpuMs, rssMb } from './proc-stats.js'
import { saveResult } from './save-result.js'

const DURATION = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SOAK_SECONDS = Number(process.env.GATEHOUSE_BENCH_SOAK_SECONDS ?? 30)
const SESSIONS_IN_REDIS = Number(process.env.BENCH_SESSIONS ?? 100_000)
const DISTINCT_SERVED = Math.min(SESSIONS_IN_REDIS, Number(process.env.BENCH_DISTINCT_SESSIONS ?? 10_000))
const SOAK_SESSIONS = 1000
/** Seconds of each fixed-load run and of each workers run (default BENCH_SECONDS). */
const FIXED_SECONDS = Number(process.env.BENCH_FIXED_SECONDS ?? DURATION)
const SCALING_SECONDS = Number(process.env.BENCH_SCALING_SECONDS ?? DURATION)
const SCALING = process.env.BENCH_SCALING !== '0'
/**
 * Node options for the gateway process: by default those of the container
 * image's ENTRYPOINT (the gateway as it ships), else BENCH_NODE_FLAGS, e.g.
 * BENCH_NODE_FLAGS='' for Node's defaults or '--max-old-space-size=96 --max-semi-space-size=4'.
 */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? imageNodeFlags()).split(' ').filter(Boolean)

/** The options between `node` and `dist/cli.js` in the ENTRYPOINT of the Dockerfile's last stage (the runtime image). */
function imageNodeFlags (): string {
  const entrypoint = [...readFileSync('Dockerfile', 'utf8').matchAll(/^ENTRYPOINT (\[.*\])$/gm)].at(-1)?.[1]
  const argv = entrypoint === undefined ? [] : JSON.parse(entrypoint) as string[]
  const script = argv.indexOf('dist/cli.js')
  return script === -1 ? '' : argv.slice(1, script).join(' ')
}
const cleanups: Array<() => unknown> = []

interface Pinning { server: string | undefined, rest: string | undefined }

function pinning (): Pinning {
  const cpus = availableParallelism()
  if (process.env.BENCH_PIN === '0' || cpus < 2) return { server: undefined, rest: undefined }
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
  } catch {
    return { server: undefined, rest: undefined }
  }
  return { server: String(cpus - 1), rest: cpus === 2 ? '0' : `0-${cpus - 2}` }
}

function pinned (cpus: string | undefined, args: string[]): [string, string[]] {
  return cpus === undefined ? [process.execPath, args] : ['taskset', ['-c', cpus, process.execPath, ...args]]
}

/** Starts a child process and resolves once `url` answers (or rejects if the process exits first). */
async function child (cpus: string | undefined, args: string[], env: Record<string, string>, url: string): Promise<ChildProcess> {
  const [cmd, argv] = pinned(cpus, args)
  const proc = spawn(cmd, argv, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  cleanups.push(async () => {
    if (proc.exitCode !== null) return
    proc.kill('SIGTERM')
    await new Promise(resolve => { const timer = setTimeout(() => { proc.kill('SIGKILL'); resolve(undefined) }, 3000); proc.once('exit', () => { clearTimeout(timer); resolve(undefined) }) })
  })
  let out = ''
  proc.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  proc.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`${args.join(' ')} exited ${String(proc.exitCode)}: ${out}`)
    if (await fetch(url).then(async r => { await r.arrayBuffer(); return true }, () => false)) return proc
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`${args.join(' ')} did not answer at ${url}: ${out}`)
}

/** Redis' own count of calls per command, without the heartbeat (PING) and this script's INFO. */
async function commandCounts (redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats')
  return new Map([...info.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)].filter(m => m[1] !== 'ping' && m[1] !== 'info').map(m => [m[1] as string, Number(m[2])]))
}

interface Run extends LoadResult {
  /** CPU time the proxy process used per request, in microseconds. */
  cpu_us_per_request: number
  /** Share of one CPU the proxy process used during the run. */
  cpu_busy: number
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Least-squares slope of y over x. */
function slope (points: Array<[number, number]>): number {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  return sxx === 0 ? 0 : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx
}

const round2 = (n: number): number => Number(n.toFixed(2))
const round3 = (n: number): number => Number(n.toFixed(3))

try {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const pin = pinning()
  const tool = loadTool()

  const upstreamPort = await freePort()
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`
  await child(pin.rest, ['--import', 'tsx', 'test/bench/upstream.ts'], { PORT: String(upstreamPort) }, `${upstreamUrl}/`)
  const redisServer = await benchRedis()
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

  /** The gateway process, signed in for real as alice; resolves with its session cookie. */
  /** The gateway's settings: every gateway of the run shares Redis, its key prefix and the session secret, so one sign-in serves them all. */
  const gatehouseEnv = (port: number): Record<string, string> => ({
    GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_PUBLIC_URL: gwUrl, GATEHOUSE_OIDC_ISSUER: idp.issuer, GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
    GATEHOUSE_OIDC_CLIENT_ID: 'bench', GATEHOUSE_OIDC_CLIENT_SECRET: secret, GATEHOUSE_SESSION_SECRET: sessionSecret,
    GATEHOUSE_SIGNING_KEY_FILE: keyFile, GATEHOUSE_UPSTREAM_URL: upstreamUrl, GATEHOUSE_POLICIES: policy, GATEHOUSE_REDIS_URL: redisServer.url,
    GATEHOUSE_REDIS_KEY_PREFIX: prefix, GATEHOUSE_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', GATEHOUSE_ADMIN_LISTEN: '127.0.0.1:0',
  })
  async function startGatehouse (port: number, profile: string[]): Promise<{ proc: ChildProcess, url: string, cookie: string }> {
    const url = `http://127.0.0.1:${port}`
    const proc = await child(pin.server, [...profile, ...NODE_FLAGS, 'dist/cli.js', 'serve'], gatehouseEnv(port), `${url}/.gatehouse/healthz`)
    // Wait until the gateway has loaded the IdP's metadata, then sign in for real.
    for (let i = 0; i < 100 && (await fetch(`${url}/.gatehouse/readyz`)).status !== 200; i++) await new Promise(resolve => setTimeout(resolve, 100))
    const browser = new Browser()
    const landed = await signInThroughIdp(browser, `${url}/.gatehouse/login?return=/.gatehouse/healthz`, 'alice', 'alice-pass')
    if (landed.status !== 200) throw new Error(`sign-in failed: ${landed.status}`)
    const cookie = `gatehouse=${browser.cookies(url).get('gatehouse') ?? ''}`
    const check = await fetch(`${url}/app/home`, { headers: { cookie } })
    if (check.status !== 200) throw new Error(`authenticated request failed: ${check.status}`)
    if (check.headers.get('x-request-id') === null) throw new Error('the authenticated request did not go through the gateway')
    return { proc, url, cookie }
  }
  // BENCH_PROFILE=dir writes CPU profiles (node --cpu-prof) of the gateway and of the bare proxy, in
  // dir/gatehouse and dir/bare, so that the two can be compared function by function.
  const profileOf = (name: string): string[] => process.env.BENCH_PROFILE === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_PROFILE, name)}`]
  const gw = await startGatehouse(gwPort, profileOf('gatehouse'))
  const gateway = gw.proc
  const barePort = await freePort()
  const bareUrl = `http://127.0.0.1:${barePort}`
  const bare = await child(pin.server, [...profileOf('bare'), '--import', 'tsx', 'test/bench/bare-proxy.ts'], { UPSTREAM: upstreamUrl, PORT: String(barePort) }, `${bareUrl}/`)
  const redis = new Redis(redisServer.url)
  cleanups.push(() => redis.disconnect())

  type Target = 'bare' | 'gatehouse'
  const targets: Record<Target, { url: string, headers: Record<string, string>, proc: ChildProcess }> = {
    bare: { url: `${bareUrl}/app/home`, headers: {}, proc: bare },
    gatehouse: { url: `${gwUrl}/app/home`, headers: { cookie: gw.cookie }, proc: gateway },
  }
  const measured: Target[] = ['bare', 'gatehouse']
  async function measure (target: Target, seconds: number): Promise<Run> {
    const { url, headers, proc } = targets[target]
    const cpuBefore = cpuMs(proc.pid)
    const r = await runLoad(tool, { url, headers, connections: CONNECTIONS, seconds, cpus: pin.rest, dir })
    const cpu = cpuMs(proc.pid) - cpuBefore
    return { ...r, cpu_us_per_request: round2((cpu * 1000) / Math.max(1, r.requests)), cpu_busy: round2(cpu / (seconds * 1000)) }
  }

  // Warm each, then interleave: bare, gatehouse, gatehouse, bare, ...
  for (const target of measured) await measure(target, Math.min(5, DURATION))
  const results: Record<Target, Run[]> = { bare: [], gatehouse: [] }
  const redisCommands = new Map<string, number>()
  let gatehouseRequests = 0
  const rss: number[] = [rssMb(gateway.pid)]
  for (let round = 0; round < ROUNDS; round++) {
    const order: Target[] = round % 2 === 0 ? measured : [...measured].reverse()
    for (const target of order) {
      const before = target === 'gatehouse' ? await commandCounts(redis) : new Map<string, number>()
      const r = await measure(target, DURATION)
      if (target === 'gatehouse') {
        for (const [name, calls] of await commandCounts(redis)) {
          const delta = calls - (before.get(name) ?? 0)
          if (delta > 0) redisCommands.set(name, (redisCommands.get(name) ?? 0) + delta)
        }
        gatehouseRequests += r.requests
        rss.push(rssMb(gateway.pid))
      }
      results[target].push(r)
      process.stderr.write(`${target}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms, ${r.cpu_us_per_request} us CPU/request (${Math.round(r.cpu_busy * 100)}% of a CPU)\n`)
    }
  }
  const summary = (list: Run[]): { rps: number, p50: number, p99: number, errors: number, non2xx: number, cpu_us_per_request: number, cpu_busy: number } => ({
    rps: Math.round(list.reduce((a, r) => a + r.rps, 0) / list.length),
    p50: round2(list.reduce((a, r) => a + r.p50, 0) / list.length),
    p99: round2(list.reduce((a, r) => a + r.p99, 0) / list.length),
    errors: list.reduce((a, r) => a + r.errors, 0),
    non2xx: list.reduce((a, r) => a + r.non2xx, 0),
    cpu_us_per_request: round2(list.reduce((a, r) => a + r.cpu_us_per_request, 0) / list.length),
    cpu_busy: round2(list.reduce((a, r) => a + r.cpu_busy, 0) / list.length),
  })
  const b = summary(results.bare)
  const g = summary(results.gatehouse)
  // Each round's bare and Gatehouse runs were next to each other: their ratio is one sample of the noise.
  const perRound = results.gatehouse.map((r, i) => r.rps / (results.bare[i]?.rps ?? r.rps))
  const p99PerRound = results.gatehouse.map((r, i) => r.p99 - (results.bare[i]?.p99 ?? r.p99))

  // A fixed offered load, half of what the bare proxy managed: the latency people feel when the gateway is not saturated.
  const rate = Math.max(1, Math.round(b.rps / 2))
  const fixed: Record<Target, LoadResult[]> = { bare: [], gatehouse: [] }
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of round % 2 === 0 ? measured : [...measured].reverse()) {
      const { url, headers } = targets[target]
      const r = await runLoad(tool, { url, headers, connections: CONNECTIONS, seconds: FIXED_SECONDS, cpus: pin.rest, dir, rate })
      fixed[target].push(r)
      process.stderr.write(`${target} at ${rate} req/s: p50 ${r.p50} ms, p99 ${r.p99} ms (${Math.round(r.rps)} req/s answered)\n`)
    }
  }
  const fixedSummary = (list: LoadResult[]): { rps: number, p50: number, p99: number, errors: number } => ({
    rps: Math.round(list.reduce((a, r) => a + r.rps, 0) / list.length),
    p50: round3(list.reduce((a, r) => a + r.p50, 0) / list.length),
    p99: round3(list.reduce((a, r) => a + r.p99, 0) / list.length),
    errors: list.reduce((a, r) => a + r.errors + r.non2xx, 0),
  })
  const fixedLoad = { offered_rps: rate, seconds: FIXED_SECONDS, bare: fixedSummary(fixed.bare), gatehouse: fixedSummary(fixed.gatehouse), runs: fixed, p99_delta_ms: 0 }
  fixedLoad.p99_delta_ms = round3(fixedLoad.gatehouse.p99 - fixedLoad.bare.p99)

  const scaling = SCALING ? await workersScaling() : undefined

  const sessions = await manySessions()
  const soak = SOAK_SECONDS > 0 ? await soakRun(sessions.cookies.length > 0 ? sessions.cookies : [gw.cookie]) : undefined

  const result = {
    benchmark: 'authenticated-get',
    date: new Date().toISOString(),
    node: process.version,
    load_generator: tool,
    gateway_node_flags: NODE_FLAGS.join(' '),
    cpus: availableParallelism(),
    pinning: pin.server === undefined ? 'none' : `proxy under test on CPU ${pin.server}; load generator, upstream, Redis and IdP on CPU ${pin.rest ?? ''}`,
    duration_s: DURATION, connections: CONNECTIONS, rounds: ROUNDS,
    bare: b,
    gatehouse: g,
    runs: results,
    ratio_rps: Number((g.rps / b.rps).toFixed(3)),
    ratio_rps_per_round: { median: Number(median(perRound).toFixed(3)), min: Number(Math.min(...perRound).toFixed(3)), max: Number(Math.max(...perRound).toFixed(3)) },
    ratio_cpu_per_request: Number((b.cpu_us_per_request / g.cpu_us_per_request).toFixed(3)),
    p99_delta_ms: round2(g.p99 - b.p99),
    p99_delta_ms_per_round: { median: round2(median(p99PerRound)), min: round2(Math.min(...p99PerRound)), max: round2(Math.max(...p99PerRound)) },
    fixed_load: fixedLoad,
    workers: scaling,
    redis_commands_per_request: Number(([...redisCommands.values()].reduce((a, n) => a + n, 0) / Math.max(1, gatehouseRequests)).toFixed(5)),
    redis_commands: Object.fromEntries(redisCommands),
    gatehouse_rss_mb: { start: rss[0], max: Math.max(...rss), end: rss.at(-1), ...sessions.rss },
    bare_rss_mb: rssMb(bare.pid),
    soak,
    goals: { ratio_rps: '>= 0.9', p99_delta_ms: '<= 1', fixed_load_p99_delta_ms: '<= 1', workers_2_vs_1: '> 1 (scaling on machines with more CPUs is measured there)', redis_commands_per_request: '0', rss_mb: '< 150, flat' },
  }

  /**
   * Requests/s of the gateway with 1 and with 2 worker processes, each run
   * interleaved with the other: the load generator pinned to CPU 0 (with the
   * upstream, Redis and the IdP), the gateway's processes free to run on any
   * CPU. Gateways started here are stopped when done.
   */
  async function workersScaling (): Promise<{ setup: string, seconds: number, rounds: number, runs: Record<string, LoadResult[]>, by_workers: Record<string, { rps: number, p50: number, p99: number, errors: number }>, ratio_2_to_1: number }> {
    const loadCpus = pin.rest === undefined ? undefined : '0'
    const gateways: Record<string, { url: string, proc: ChildProcess }> = {}
    for (const workers of ['1', '2']) {
      const port = await freePort()
      const url = `http://127.0.0.1:${port}`
      const proc = await child(undefined, [...NODE_FLAGS, 'dist/cli.js', 'serve'], { ...gatehouseEnv(port), GATEHOUSE_WORKERS: workers }, `${url}/.gatehouse/healthz`)
      // The session of the sign-in above, from the same Redis: every worker must serve it.
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${url}/app/home`, { headers: { cookie: gw.cookie } })
        await res.arrayBuffer()
        if (res.status !== 200) throw new Error(`workers ${workers}: authenticated request answered ${res.status}`)
      }
      gateways[workers] = { url, proc }
    }
    // Warm each (JIT, connections to Redis and the upstream), as above.
    for (const { url } of Object.values(gateways)) await runLoad(tool, { url: `${url}/app/home`, headers: { cookie: gw.cookie }, connections: CONNECTIONS, seconds: Math.min(5, SCALING_SECONDS), cpus: loadCpus, dir })
    const runs: Record<string, LoadResult[]> = { 1: [], 2: [] }
    for (let round = 0; round < ROUNDS; round++) {
      for (const workers of round % 2 === 0 ? ['1', '2'] : ['2', '1']) {
        const r = await runLoad(tool, { url: `${gateways[workers]?.url ?? ''}/app/home`, headers: { cookie: gw.cookie }, connections: CONNECTIONS, seconds: SCALING_SECONDS, cpus: loadCpus, dir })
        runs[workers]?.push(r)
        process.stderr.write(`workers ${workers}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms\n`)
      }
    }
    for (const { proc } of Object.values(gateways)) {
      proc.kill('SIGTERM')
      await new Promise(resolve => proc.once('exit', resolve))
    }
    const by = Object.fromEntries(Object.entries(runs).map(([n, list]) => [n, fixedSummary(list)]))
    return {
      setup: loadCpus === undefined ? 'nothing pinned' : `load generator, upstream, Redis and IdP on CPU 0; the gateway's primary and workers on any of the ${availableParallelism()} CPUs`,
      seconds: SCALING_SECONDS,
      rounds: ROUNDS,
      runs,
      by_workers: by,
      ratio_2_to_1: Number(((by['2']?.rps ?? 0) / Math.max(1, by['1']?.rps ?? 0)).toFixed(3)),
    }
  }

  /** RSS with many sessions in Redis, and after many different ones were used through the gateway. */
  async function manySessions (): Promise<{ cookies: string[], rss: { sessions_in_redis: number, with_sessions_in_redis: number, distinct_sessions_served: number, after_distinct_sessions: number } }> {
    const cipher = new SessionCipher(sessionSecret)
    const signer = new Signer(sessionSecret)
    const now = Date.now()
    const ids: string[] = []
    for (let batch = 0; batch * 1000 < SESSIONS_IN_REDIS; batch++) {
      const pipeline = redis.pipeline()
      for (let i = 0; i < 1000 && batch * 1000 + i < SESSIONS_IN_REDIS; i++) {
        const id = randomBytes(24).toString('base64url')
        ids.push(id)
        const n = batch * 1000 + i
        // Like a real sign-in: the identity, and ID, access and refresh tokens of realistic sizes.
        const identity = identityFromClaims({ iss: idp.issuer, sub: `user${n}`, email: `user${n}@example.test`, name: `User ${n}`, groups: ['staff', `team${n % 50}`], roles: [] }, { groupsClaim: 'groups', rolesClaim: 'roles' })
        const record = { cookie: { originalMaxAge: 43_200_000, expires: new Date(now + 43_200_000).toISOString(), httpOnly: true, path: '/', sameSite: 'lax', secure: false }, identity, createdAt: now, lastSeenAt: now, tokens: { idToken: randomBytes(600).toString('base64url'), accessToken: randomBytes(300).toString('base64url'), refreshToken: randomBytes(40).toString('base64url'), expiresAt: now + 3_600_000 } }
        pipeline.set(`${prefix}session:{${id}}`, cipher.encrypt(id, JSON.stringify(record)), 'PX', 3_600_000)
      }
      await pipeline.exec()
    }
    const withSessions = rssMb(gateway.pid)
    let served = 0
    const cookies = ids.map(id => `gatehouse=${encodeURIComponent(signer.sign(id))}`)
    for (let i = 0; i < DISTINCT_SERVED; i += 50) {
      const statuses = await Promise.all(cookies.slice(i, Math.min(i + 50, DISTINCT_SERVED)).map(async c => {
        const res = await fetch(`${gw.url}/app/home`, { headers: { cookie: c } })
        await res.arrayBuffer()
        return res.status
      }))
      served += statuses.filter(s => s === 200).length
    }
    process.stderr.write(`sessions: ${withSessions} MB with ${ids.length} in Redis, ${rssMb(gateway.pid)} MB after serving ${served} of them\n`)
    return { cookies: cookies.slice(0, SOAK_SESSIONS), rss: { sessions_in_redis: ids.length, with_sessions_in_redis: withSessions, distinct_sessions_served: served, after_distinct_sessions: rssMb(gateway.pid) } }
  }

  /** The gateway's RSS, sampled while it serves 1,000 sessions in turn for SOAK_SECONDS. */
  async function soakRun (cookies: string[]): Promise<{ seconds: number, sessions: number, requests: number, rps: number, errors: number, samples_mb: Array<[number, number]>, first_mb: number, last_mb: number, max_mb: number, slope_mb_per_min: number, slope_second_half_mb_per_min: number }> {
    const cookieFile = join(dir, 'soak-cookies.txt')
    writeFileSync(cookieFile, `${cookies.join('\n')}\n`)
    const samples: Array<[number, number]> = []
    const started = Date.now()
    const every = Math.max(1000, Math.round((SOAK_SECONDS * 1000) / 120))
    const sample = (): void => { samples.push([round2((Date.now() - started) / 1000), rssMb(gateway.pid)]) }
    sample()
    const timer = setInterval(sample, every)
    let load: LoadResult
    try {
      load = await runLoad(tool, { url: `${gw.url}/app/home`, connections: CONNECTIONS, seconds: SOAK_SECONDS, cookieFile, cpus: pin.rest, dir })
    } finally {
      clearInterval(timer)
    }
    sample()
    const mbs = samples.map(([, mb]) => mb)
    const half = samples.filter(([s]) => s >= SOAK_SECONDS / 2)
    const soak = {
      seconds: SOAK_SECONDS,
      sessions: cookies.length,
      requests: load.requests,
      rps: Math.round(load.rps),
      errors: load.errors + load.non2xx,
      samples_mb: samples,
      first_mb: mbs[0] as number,
      last_mb: mbs.at(-1) as number,
      max_mb: Math.max(...mbs),
      slope_mb_per_min: round2(slope(samples) * 60),
      slope_second_half_mb_per_min: round2(slope(half) * 60),
    }
    return soak
  }

  const row = (name: string, s: typeof b, ratio: string): string => `| ${name.padEnd(27)} | ${String(s.rps).padStart(7)} | ${s.p50.toFixed(2).padStart(7)} | ${s.p99.toFixed(2).padStart(7)} | ${String(s.errors + s.non2xx).padStart(6)} | ${s.cpu_us_per_request.toFixed(1).padStart(11)} | ${ratio.padStart(6)} |`
  const out: string[] = [
    '',
    `Authenticated GET, ${CONNECTIONS} connections, ${ROUNDS} x ${DURATION} s per target, interleaved; ${tool}; ${result.pinning} (${process.version}, ${result.cpus} CPUs; gateway Node options: ${NODE_FLAGS.length === 0 ? 'none' : NODE_FLAGS.join(' ')}):`,
    '',
    '| target                      |   req/s | p50 ms  | p99 ms  | errors | CPU us/req  |  ratio |',
    '|-----------------------------|---------|---------|---------|--------|-------------|--------|',
    row('bare @fastify/http-proxy', b, '1.000'),
    row('Gatehouse (session, policy)', g, result.ratio_rps.toFixed(3)),
    '',
    `req/s ratio per round: median ${result.ratio_rps_per_round.median}, ${result.ratio_rps_per_round.min}-${result.ratio_rps_per_round.max} (goal >= 0.9); CPU per request, bare/Gatehouse: ${result.ratio_cpu_per_request}`,
    `p99 difference: ${result.p99_delta_ms} ms, per round ${result.p99_delta_ms_per_round.min} to ${result.p99_delta_ms_per_round.max} (goal <= 1); Redis commands per request: ${result.redis_commands_per_request} (goal 0) ${JSON.stringify(result.redis_commands)}`,
    `Gatehouse RSS: ${result.gatehouse_rss_mb.start} MB at start, ${result.gatehouse_rss_mb.max} MB under load, ${result.gatehouse_rss_mb.with_sessions_in_redis} MB with ${result.gatehouse_rss_mb.sessions_in_redis} sessions in Redis, ${result.gatehouse_rss_mb.after_distinct_sessions} MB after serving ${result.gatehouse_rss_mb.distinct_sessions_served} different sessions (goal < 150 MB); bare proxy ${result.bare_rss_mb} MB`,
    '',
    `Fixed load: ${fixedLoad.offered_rps} req/s offered (half the bare proxy's capacity above), ${CONNECTIONS} connections, ${ROUNDS} x ${FIXED_SECONDS} s per target, evenly paced (latency from when each request was due):`,
    '',
    '| target                      | p50 ms  | p99 ms  | req/s answered | errors |',
    '|-----------------------------|---------|---------|----------------|--------|',
    ...(['bare', 'gatehouse'] as const).map(target => `| ${(target === 'bare' ? 'bare @fastify/http-proxy' : 'Gatehouse (session, policy)').padEnd(27)} | ${fixedLoad[target].p50.toFixed(3).padStart(7)} | ${fixedLoad[target].p99.toFixed(3).padStart(7)} | ${String(fixedLoad[target].rps).padStart(14)} | ${String(fixedLoad[target].errors).padStart(6)} |`),
    '',
    ...(['bare', 'gatehouse'] as const).filter(target => fixedLoad[target].rps < rate * 0.98).map(target => `NOTE: ${target} answered ${fixedLoad[target].rps} of ${rate} req/s offered: the load generator, or what shares its CPU, could not keep the rate, and its latencies include the queue`),
    `p99 difference at the fixed load: ${fixedLoad.p99_delta_ms} ms (goal <= 1); at saturation (above): ${result.p99_delta_ms} ms; p50 difference at the fixed load: ${round3(fixedLoad.gatehouse.p50 - fixedLoad.bare.p50)} ms`,
    ...(scaling === undefined
      ? []
      : [
          '',
          `Workers: ${CONNECTIONS} connections, ${ROUNDS} x ${SCALING_SECONDS} s each, interleaved; ${tool}; ${scaling.setup}:`,
          '',
          '| workers | req/s   | p50 ms  | p99 ms  | errors |',
          '|---------|---------|---------|---------|--------|',
          ...(['1', '2'] as const).map(n => { const w = scaling.by_workers[n] ?? { rps: 0, p50: 0, p99: 0, errors: 0 }; return `| ${n.padEnd(7)} | ${String(w.rps).padStart(7)} | ${w.p50.toFixed(2).padStart(7)} | ${w.p99.toFixed(2).padStart(7)} | ${String(w.errors).padStart(6)} |` }),
          '',
          `2 workers / 1 worker: ${scaling.ratio_2_to_1} (goal > 1 here; with ${availableParallelism()} CPUs the second worker shares a CPU with the load generator, upstream and Redis; scaling on larger machines is measured there)`,
        ]),
    '',
    ...(soak === undefined ? [] : [`soak, ${soak.seconds} s across ${soak.sessions} sessions (${soak.rps} req/s, ${soak.errors} errors): RSS first ${soak.first_mb} MB, last ${soak.last_mb} MB, max ${soak.max_mb} MB, slope ${soak.slope_mb_per_min} MB/min (second half ${soak.slope_second_half_mb_per_min} MB/min)`]),
  ]
  process.stdout.write(`${out.join('\n')}\n`)
  process.stdout.write(`saved ${saveResult('authenticated-get', result)}\n`)
} finally {
  for (const fn of cleanups.reverse()) await fn()
}
