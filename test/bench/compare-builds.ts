/**
 * `npm run bench:compare -- DIR [MINE]`: the gateway's CPU time per
 * authenticated proxied request for this build (dist/, or MINE/dist/) and for
 * another build (DIR/dist/, e.g. a checkout of an earlier commit after
 * `npm run build`), measured in one
 * process that alternates between the two in short batches, so that whatever
 * else the machine is doing hits both alike. On a shared machine, separate
 * runs (or even two processes side by side) differ by more than most single
 * optimisations are worth; this comparison does not.
 *
 * Each build gets its own gateway with the same config and 20-route policy,
 * in-memory sessions holding one signed-in session, in front of the same
 * upstream (a process of its own). Requests go through Fastify's inject, so
 * the figure is the gateway's own work per request without client sockets.
 * Ratios only: nothing here is a pass/fail threshold.
 */
import { spawn } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Signer } from '@fastify/cookie'
import { freePort } from '../helpers/ports.js'

const BATCHES = Number(process.env.BENCH_BATCHES ?? 100)
const PER_BATCH = Number(process.env.BENCH_BATCH_REQUESTS ?? 200)
const CONCURRENCY = Number(process.env.BENCH_CONNECTIONS ?? 20)

type GatewayModule = typeof import('../../src/server/gateway.js')
type StartModule = typeof import('../../src/server/start.js')
type LoadModule = typeof import('../../src/config/load.js')
type LoggerModule = typeof import('../../src/log/logger.js')
type KeysModule = typeof import('../../src/sign/keys.js')
type Inject = (opts: { method: 'GET', url: string, headers: Record<string, string> }) => Promise<{ statusCode: number }>

interface Build { name: string, run: () => Promise<void>, close: () => Promise<void> }

const other = process.argv[2]
const mine = process.argv[3] ?? '.'
if (other === undefined) throw new Error('usage: npm run bench:compare -- DIR [MINE] (checkouts of two builds, with DIR/dist built)')
const cleanups: Array<() => unknown> = []

async function build (name: string, dist: string, env: Record<string, string>): Promise<Build> {
  const at = (file: string): string => pathToFileURL(join(dist, file)).href
  const { loadConfig } = await import(at('config/load.js')) as LoadModule
  const { createSessionStore } = await import(at('server/start.js')) as StartModule
  const { buildGateway } = await import(at('server/gateway.js')) as GatewayModule
  const { createLogger } = await import(at('log/logger.js')) as LoggerModule
  const { loadSigningKey } = await import(at('sign/keys.js')) as KeysModule
  const { config } = loadConfig({ env })
  const log = createLogger({ level: 'warn' })
  const store = createSessionStore(config, log)
  const signingKey = await loadSigningKey(config.signing.keyFile ?? '', config.signing.algorithm)
  const gateway = await buildGateway({ config, log, store, signingKey })
  await gateway.app.ready()
  const id = randomBytes(24).toString('base64url')
  const now = Date.now()
  const identity = { id: 'alice', iss: 'http://idp.test', sub: 'alice', email: 'alice@example.test', name: 'Alice', groups: ['staff', 'admins'], roles: [], amr: ['pwd'], sid: randomBytes(8).toString('hex') }
  const tokens = { idToken: randomBytes(600).toString('base64url'), accessToken: randomBytes(300).toString('base64url'), refreshToken: randomBytes(40).toString('base64url'), expiresAt: now + 3_600_000 }
  const cookieData = { originalMaxAge: config.session.maxLifetimeMs, expires: new Date(now + config.session.maxLifetimeMs).toISOString(), httpOnly: true, path: '/', sameSite: 'lax', secure: false }
  await store.set(id, { cookie: cookieData, identity, createdAt: now, lastSeenAt: now, tokens } as never, 3_600_000)
  const headers = { cookie: `${gateway.cookies.session}=${encodeURIComponent(new Signer(config.session.secret).sign(id))}`, host: '127.0.0.1' }
  const inject = gateway.app.inject.bind(gateway.app) as unknown as Inject
  const check = await inject({ method: 'GET', url: '/app/home', headers })
  if (check.statusCode !== 200) throw new Error(`${name}: the authenticated request answered ${check.statusCode}`)
  return {
    name,
    async run () {
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        for (let i = 0; i < PER_BATCH / CONCURRENCY; i++) {
          const res = await inject({ method: 'GET', url: '/app/home', headers })
          if (res.statusCode !== 200) throw new Error(`${name}: ${res.statusCode}`)
        }
      }))
    },
    async close () { await gateway.close() },
  }
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

try {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-compare-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const upstreamPort = await freePort()
  const upstream = spawn(process.execPath, ['--import', 'tsx', 'test/bench/upstream.ts'], { env: { ...process.env, PORT: String(upstreamPort) }, stdio: ['ignore', 'pipe', 'inherit'] })
  cleanups.push(() => upstream.kill('SIGTERM'))
  await new Promise<void>((ok, fail) => { upstream.stdout.once('data', () => ok()); upstream.once('exit', code => fail(new Error(`upstream exited ${String(code)}`))) })
  const keyFile = join(dir, 'key.pem')
  writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const routes = Array.from({ length: 18 }, (_, i) => `  - name: team${i}\n    match: { path: /team${i}/** }\n    allow: [{ groups: [team${i}] }, { ip: [10.${i}.0.0/16], anonymous: true }]\n    deny: [{ ip: [192.0.2.0/24] }]\n`).join('')
  const policy = join(dir, 'policy.yaml')
  writeFileSync(policy, `routes:\n${routes}  - name: app\n    match: { path: /app/** }\n    allow: [{ groups: [staff, admins] }]\n    deny: [{ ip: [192.0.2.0/24] }]\n  - name: rest\n    match: { path: /** }\n    allow: authenticated\n`)
  const env = {
    GATEHOUSE_PUBLIC_URL: 'http://127.0.0.1', GATEHOUSE_OIDC_ISSUER: 'http://127.0.0.1:9/idp', GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
    GATEHOUSE_OIDC_CLIENT_ID: 'bench', GATEHOUSE_OIDC_CLIENT_SECRET: 'bench-secret', GATEHOUSE_SESSION_SECRET: randomBytes(32).toString('hex'),
    GATEHOUSE_SIGNING_KEY_FILE: keyFile, GATEHOUSE_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`, GATEHOUSE_POLICIES: policy,
  }
  const builds = [await build(mine, resolve(mine, 'dist'), env), await build(other, resolve(other, 'dist'), env)]
  for (const b of builds) cleanups.push(() => b.close())
  // Warm both (JIT, connection pools), then alternate which goes first.
  for (let i = 0; i < 5; i++) for (const b of builds) await b.run()
  const cpu: number[][] = builds.map(() => [])
  for (let batch = 0; batch < BATCHES; batch++) {
    const order = batch % 2 === 0 ? [0, 1] : [1, 0]
    for (const i of order) {
      const before = process.cpuUsage()
      await (builds[i] as Build).run()
      const used = process.cpuUsage(before)
      cpu[i]?.push((used.user + used.system) / PER_BATCH)
    }
  }
  const [ours, theirs] = cpu as [number[], number[]]
  const pairs = ours.map((m, i) => m / (theirs[i] as number))
  const result = {
    benchmark: 'compare-builds',
    date: new Date().toISOString(),
    this: mine,
    other,
    batches: BATCHES,
    requests_per_batch: PER_BATCH,
    concurrency: CONCURRENCY,
    this_build_us_per_request: { median: Number(median(ours).toFixed(1)), min: Number(Math.min(...ours).toFixed(1)) },
    other_build_us_per_request: { median: Number(median(theirs).toFixed(1)), min: Number(Math.min(...theirs).toFixed(1)) },
    ratio: { median: Number(median(pairs).toFixed(3)), min: Number(Math.min(...pairs).toFixed(3)), max: Number(Math.max(...pairs).toFixed(3)) },
  }
  process.stdout.write(`CPU per authenticated proxied request (this process: gateway + inject), ${BATCHES} alternating batches of ${PER_BATCH}:\n`)
  process.stdout.write(`  ${mine}  median ${result.this_build_us_per_request.median} us, min ${result.this_build_us_per_request.min} us\n`)
  process.stdout.write(`  ${other}  median ${result.other_build_us_per_request.median} us, min ${result.other_build_us_per_request.min} us\n`)
  process.stdout.write(`  ${mine} / ${other} per batch pair: median ${result.ratio.median} (${result.ratio.min}-${result.ratio.max})\n${JSON.stringify(result)}\n`)
} finally {
  for (const fn of cleanups.reverse()) await fn()
}
