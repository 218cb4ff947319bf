/**
 * Part of `npm run bench`: what serving HTTPS costs. Two gateway processes
 * with the same configuration in front of the same trivial upstream, one on
 * plain HTTP and one with tls.cert_file, driven in turn (interleaved, so that
 * machine noise hits both) over keep-alive connections by the same load
 * generator; then new TLS handshakes per second against the HTTPS one, with
 * session resumption (a returning client offering its ticket) and without.
 * The route allows anyone, so that the figures are the listener's and not
 * the session store's. Short runs: BENCH_SECONDS, BENCH_ROUNDS,
 * BENCH_CONNECTIONS, as for the gateway benchmark. Ratios only: nothing here
 * is a pass/fail threshold.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startDevIdp } from '../../src/devidp/provider.js'
import { freePort } from '../helpers/ports.js'
import { createTestPki } from '../helpers/tls-certs.js'
import { loadTool, runLoad, type LoadResult } from './load-generator.js'
import { saveResult } from './save-result.js'

const DURATION = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const HANDSHAKE_CONCURRENCY = Number(process.env.BENCH_HANDSHAKE_CONCURRENCY ?? 16)

const cleanups: Array<() => unknown> = []

async function waitFor (url: string, proc: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`exited ${String(proc.exitCode)}: ${output()}`)
    if (await fetch(url).then(async r => { await r.arrayBuffer(); return r.ok }, () => false)) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`no answer at ${url}: ${output()}`)
}

/** A child process, stopped at the end; resolves once `readyUrl` answers. */
async function child (args: string[], env: Record<string, string>, readyUrl: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  proc.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  proc.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  cleanups.push(async () => {
    if (proc.exitCode !== null) return
    proc.kill('SIGTERM')
    await new Promise(resolve => { const timer = setTimeout(() => { proc.kill('SIGKILL'); resolve(undefined) }, 3000); proc.once('exit', () => { clearTimeout(timer); resolve(undefined) }) })
  })
  await waitFor(readyUrl, proc, () => out)
  return proc
}

async function handshakes (port: number, ca: string, resume: boolean, seconds: number): Promise<{ handshakes: number, per_second: number, resumed: number, errors: number }> {
  const args = JSON.stringify({ port, ca, seconds, concurrency: HANDSHAKE_CONCURRENCY, resume })
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/bench/tls-handshakes.ts', args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stdout.on('data', (c: Buffer) => { out += c.toString() })
  proc.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const code = await new Promise<number | null>(resolve => { proc.once('exit', resolve) })
  if (code !== 0) throw new Error(`tls-handshakes exited ${String(code)}: ${err}`)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { handshakes: number, per_second: number, resumed: number, errors: number }
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

try {
  const pki = createTestPki({ teardown: fn => { cleanups.push(fn) } })
  const dir = pki.dir
  const server = pki.server()
  const tool = loadTool()

  const upstreamPort = await freePort()
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`
  await child(['--import', 'tsx', 'test/bench/upstream.ts'], { PORT: String(upstreamPort) }, `${upstreamUrl}/`)
  const idp = await startDevIdp({ users: [], clients: [{ client_id: 'bench', client_secret: 'bench-secret', redirect_uris: ['https://127.0.0.1/.gatehouse/callback'] }] })
  cleanups.push(() => idp.close())
  const keyFile = join(dir, 'signing.pem')
  writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const policy = join(dir, 'policy.yaml')
  writeFileSync(policy, 'routes:\n  - name: open\n    match: { path: /** }\n    allow: anyone\n')

  async function gateway (tls: boolean): Promise<{ url: string, port: number }> {
    const port = await freePort()
    const adminPort = await freePort()
    const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`
    await child(['dist/cli.js', 'serve'], {
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_PUBLIC_URL: url, GATEHOUSE_OIDC_ISSUER: idp.issuer, GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
      GATEHOUSE_OIDC_CLIENT_ID: 'bench', GATEHOUSE_OIDC_CLIENT_SECRET: 'bench-secret', GATEHOUSE_SESSION_SECRET: randomBytes(32).toString('hex'),
      GATEHOUSE_SIGNING_KEY_FILE: keyFile, GATEHOUSE_UPSTREAM_URL: upstreamUrl, GATEHOUSE_POLICIES: policy,
      GATEHOUSE_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error', GATEHOUSE_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
      ...(tls ? { GATEHOUSE_TLS_CERT_FILE: server.certFile, GATEHOUSE_TLS_KEY_FILE: server.keyFile } : {}),
    }, `http://127.0.0.1:${adminPort}/healthz`)
    return { url, port }
  }
  const plain = await gateway(false)
  const https = await gateway(true)

  const runs: Record<'plain' | 'tls', LoadResult[]> = { plain: [], tls: [] }
  // A short warm-up of each, then the rounds, alternating.
  for (const target of ['plain', 'tls'] as const) await runLoad(tool, { url: `${target === 'plain' ? plain.url : https.url}/app`, connections: CONNECTIONS, seconds: Math.min(2, DURATION), dir })
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of round % 2 === 0 ? ['plain', 'tls'] as const : ['tls', 'plain'] as const) {
      runs[target].push(await runLoad(tool, { url: `${target === 'plain' ? plain.url : https.url}/app`, connections: CONNECTIONS, seconds: DURATION, dir }))
    }
  }
  const resumedRun = await handshakes(https.port, pki.ca, true, DURATION)
  const fullRun = await handshakes(https.port, pki.ca, false, DURATION)

  const rps = { plain: median(runs.plain.map(r => r.rps)), tls: median(runs.tls.map(r => r.rps)) }
  const p99 = { plain: median(runs.plain.map(r => r.p99)), tls: median(runs.tls.map(r => r.p99)) }
  const failures = [...runs.plain, ...runs.tls].reduce((a, r) => a + r.errors + r.non2xx, 0)
  const result = {
    tool,
    connections: CONNECTIONS,
    seconds: DURATION,
    rounds: ROUNDS,
    keep_alive: { plain_rps: Math.round(rps.plain), tls_rps: Math.round(rps.tls), tls_vs_plain: Number((rps.tls / rps.plain).toFixed(2)), plain_p99_ms: p99.plain, tls_p99_ms: p99.tls, failures },
    handshakes: { concurrency: HANDSHAKE_CONCURRENCY, resumed_per_second: resumedRun.per_second, resumed_share: Number((resumedRun.resumed / Math.max(1, resumedRun.handshakes)).toFixed(2)), full_per_second: fullRun.per_second, errors: resumedRun.errors + fullRun.errors },
  }
  const file = saveResult('tls', result)
  process.stdout.write([
    '',
    `HTTPS (${tool}, ${CONNECTIONS} keep-alive connections, ${ROUNDS} x ${DURATION}s, median; an "allow: anyone" route)`,
    '| | requests/s | p99 ms |',
    '|---|---|---|',
    `| plain HTTP/1.1 | ${result.keep_alive.plain_rps} | ${p99.plain} |`,
    `| HTTPS (HTTP/1.1 over TLS) | ${result.keep_alive.tls_rps} | ${p99.tls} |`,
    `| HTTPS / plain | ${result.keep_alive.tls_vs_plain} | |`,
    '',
    `New TLS handshakes per second (${HANDSHAKE_CONCURRENCY} at a time, ${DURATION}s)`,
    `| with session resumption | ${result.handshakes.resumed_per_second} (${Math.round(result.handshakes.resumed_share * 100)}% resumed) |`,
    `| full handshakes | ${result.handshakes.full_per_second} |`,
    failures + result.handshakes.errors > 0 ? `failed requests or handshakes: ${failures + result.handshakes.errors}` : '',
    `saved to ${file}`,
    '',
  ].join('\n'))
} finally {
  for (const fn of cleanups.reverse()) await fn()
}
