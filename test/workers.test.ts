import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect as h2connect } from 'node:http2'
import { request as httpsRequest } from 'node:https'
import t, { type Test } from 'tap'
import { loadConfig } from '../src/config/load.js'
import { parseMetrics, valueOf, type Sample } from './helpers/metrics-text.js'
import { policyDir } from './helpers/policy-files.js'
import { freePort } from './helpers/ports.js'
import { startStack } from './helpers/stack.js'
import { createTestPki } from './helpers/tls-certs.js'

/**
 * `workers: 2`: one `gatehouse serve` whose two worker processes share the
 * public listener. Each worker keeps its own exact session cache, the one
 * admin listener adds up every worker, a crashed worker is replaced, one
 * SIGTERM stops them all.
 */

interface Served {
  child: ChildProcess
  url: string
  adminUrl: string
  records: () => Array<Record<string, unknown>>
  saw: (match: (r: Record<string, unknown>) => boolean, count?: number) => Promise<void>
  stderr: () => string
}

/** `gatehouse serve` with `env`, resolved once every worker listens and the admin listener is up. */
async function serveWorkers (t: Test, env: Record<string, string>): Promise<Served> {
  const port = await freePort()
  const adminPort = await freePort()
  const child = spawn(process.execPath, ['dist/cli.js', 'serve'], {
    env: { PATH: process.env.PATH ?? '', ...env, GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_ADMIN_LISTEN: `127.0.0.1:${adminPort}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  // The primary forwards SIGTERM; SIGKILL of the primary alone would leave workers that exit when they notice.
  t.teardown(async () => {
    if (child.exitCode !== null) return
    child.kill('SIGTERM')
    await once(child, 'exit')
  })
  const records: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  let partial = ''
  child.stdout?.on('data', (c: Buffer) => {
    const lines = (partial + c.toString()).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      try { records.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not a log line */ }
    }
    for (const w of [...waiters]) w()
  })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const saw = async (match: (r: Record<string, unknown>) => boolean, count = 1): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (records.filter(match).length >= count) {
          waiters.splice(waiters.indexOf(check), 1)
          resolve()
        }
      }
      waiters.push(check)
      child.once('exit', code => { reject(new Error(`serve exited ${String(code)}: ${stderr}`)) })
      check()
    })
  }
  await saw(r => r.module === 'admin' && typeof r.msg === 'string' && r.msg.startsWith('Server listening'))
  return { child, url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}`, records: () => records, saw, stderr: () => stderr }
}

/** A GET on a connection of its own (so that node:cluster hands it to the next worker), with a request id to find in the log. */
async function get (url: string, cookie: string, requestId: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { cookie, accept: 'application/json', 'x-request-id': requestId } }, res => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
    })
    req.on('error', reject)
    req.end()
  })
}

/** Which worker answered each request id (from its access log line). */
function workersOf (served: Served, ids: readonly string[]): Set<unknown> {
  return new Set(served.records().filter(r => ids.includes(r.reqId as string) && r.msg === 'request completed').map(r => r.worker))
}

async function scrape (served: Served): Promise<Sample[]> {
  return parseMetrics(await (await fetch(`${served.adminUrl}/metrics`)).text())
}

async function readyz (served: Served): Promise<{ status: number, body: { status: string, checks: Record<string, string>, policy: { hash: string | null, reloads: number }, workers: Array<{ worker: number, pid: number, status: string, policy_hash: string }> } }> {
  const res = await fetch(`${served.adminUrl}/readyz`)
  return { status: res.status, body: await res.json() as never }
}

async function sessionsCli (env: Record<string, string>, args: string[]): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, ['dist/cli.js', 'sessions', ...args], { env: { PATH: process.env.PATH ?? '', ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const [status] = await once(child, 'exit') as [number | null]
  return { status, stdout, stderr }
}

t.test('every worker refuses a revoked session at once, though each had it cached for an hour; the admin listener adds up all workers; SIGTERM stops them all', async t => {
  const stack = await startStack(t, { env: { GATEHOUSE_SESSION_CACHE_TTL: '1h' } })
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const served = await serveWorkers(t, { ...stack.env, GATEHOUSE_WORKERS: '2' })
  await served.saw(r => r.event === 'session_cache.exact', 2)
  await served.saw(r => r.msg === 'OpenID Provider metadata loaded', 2)

  const ready = await readyz(served)
  t.equal(ready.status, 200, 'ready once every worker is')
  t.equal(ready.body.checks.workers, '2/2 ready')
  t.equal(ready.body.checks.session_cache, 'exact', 'each worker\'s cache is exact')
  t.equal(new Set(ready.body.workers.map(w => w.pid)).size, 2, 'two worker processes answered')

  const before = ['w-before-1', 'w-before-2', 'w-before-3', 'w-before-4']
  for (const id of before) t.equal(await get(`${served.url}/api/x`, cookie, id), 200, `${id}: served (and cached by the worker that answered)`)
  await served.saw(r => before.includes(r.reqId as string) && r.msg === 'request completed', before.length)
  t.same([...workersOf(served, before)].sort(), [1, 2], 'both workers served the session')

  const revoked = await sessionsCli(stack.env, ['revoke', '--user', 'alice'])
  t.equal(revoked.stdout, 'revoked 1 session(s)\n', revoked.stderr)
  const after = ['w-after-1', 'w-after-2', 'w-after-3', 'w-after-4']
  for (const id of after) t.equal(await get(`${served.url}/api/x`, cookie, id), 401, `${id}: refused at once`)
  await served.saw(r => after.includes(r.reqId as string) && r.msg === 'request completed', after.length)
  t.same([...workersOf(served, after)].sort(), [1, 2], 'both workers refused it')

  const metrics = await scrape(served)
  t.equal(valueOf(metrics, 'gatehouse_requests_total', { status: '200' }), 4, 'the requests of both workers, added up')
  t.equal(valueOf(metrics, 'gatehouse_requests_total', { status: '401' }), 4)
  t.equal(valueOf(metrics, 'gatehouse_workers'), 2)
  t.equal(valueOf(metrics, 'gatehouse_policy_info'), 1, 'one policy in force, not one per worker')

  served.child.kill('SIGTERM')
  const [code] = await once(served.child, 'exit') as [number | null]
  t.equal(code, 0, 'exit 0')
  t.equal(served.records().filter(r => r.event === 'shutdown.started' && r.worker !== undefined).length, 2, 'each worker shut down gracefully')
})

t.test('a crashed worker is replaced; a policy edit reloads every worker, and /readyz and the metrics say it once', async t => {
  const { file } = policyDir(t, 'routes:\n  - name: open\n    match: { path: /** }\n    allow: anyone\n')
  const stack = await startStack(t)
  const served = await serveWorkers(t, { ...stack.env, GATEHOUSE_WORKERS: '2', GATEHOUSE_POLICIES: file })
  const first = await readyz(served)
  const victim = first.body.workers[0]?.pid ?? 0
  process.kill(victim, 'SIGKILL')
  await served.saw(r => r.event === 'worker.replaced')
  t.match(served.records().find(r => r.event === 'worker.exited'), { pid: victim, signal: 'SIGKILL', restartInMs: 100 }, 'the crash is logged, with when the worker is replaced')
  await served.saw(r => r.event === 'session_cache.exact', 3)
  const replaced = await readyz(served)
  t.equal(replaced.body.workers.length, 2, 'two workers again')
  t.notOk(replaced.body.workers.some(w => w.pid === victim), 'the crashed one is gone')
  t.equal(valueOf(await scrape(served), 'gatehouse_worker_restarts_total'), 1)

  writeFileSync(file, 'routes:\n  - name: closed\n    match: { path: /** }\n    allow: authenticated\n')
  await served.saw(r => r.event === 'policy.reloaded', 2)
  const reloaded = await readyz(served)
  t.equal(reloaded.body.checks.policy, 'ok')
  t.not(reloaded.body.policy.hash, first.body.policy.hash, 'the new policy is in force')
  t.same(new Set(reloaded.body.workers.map(w => w.policy_hash)), new Set([reloaded.body.policy.hash]), 'in every worker')
  const metrics = await scrape(served)
  t.equal(valueOf(metrics, 'gatehouse_policy_reloads_total', { result: 'success' }), 1, 'one reload, not one per worker')
  for (const id of ['p-1', 'p-2']) t.equal(await get(`${served.url}/x`, '', id), 401, `${id}: the new policy is applied`)
})

t.test('a worker that cannot start stops the start; in-memory sessions cannot be shared between workers', async t => {
  const { file } = policyDir(t, 'routes:\n  - name: broken\n    match: { path: /** }\n    allow: [{ nosuchcondition: true }]\n')
  const stack = await startStack(t)
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/cli.js', 'serve'], { env: { PATH: process.env.PATH ?? '', ...stack.env, GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_WORKERS: '2', GATEHOUSE_POLICIES: file }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 1, 'exit 1')
  t.match(stderr, /nosuchcondition/, 'the worker said what is wrong')
  t.match(stderr, /stopped before it listened .*; not starting/)

  const memory = Object.fromEntries(Object.entries(stack.env).filter(([name]) => !name.startsWith('GATEHOUSE_REDIS_')))
  const refused = (() => { try { loadConfig({ env: { ...memory, GATEHOUSE_WORKERS: '2' } }); return undefined } catch (err) { return err } })()
  t.match(refused, { problems: [{ where: 'env GATEHOUSE_WORKERS', message: /needs redis\.url: sessions kept in memory cannot be shared between worker processes/ }] }, 'workers: 2 without Redis is refused, naming where it was set')
  t.equal(loadConfig({ env: { ...stack.env, GATEHOUSE_WORKERS: 'auto' } }).config.workers, 'auto')
  t.equal(loadConfig({ env: memory }).config.workers, 1, 'one worker by default')
})

t.test('with HTTPS, every worker serves HTTP/2 and HTTP/1.1 on the shared listener', async t => {
  const { file } = policyDir(t, 'routes:\n  - name: open\n    match: { path: /** }\n    allow: anyone\n')
  const pki = createTestPki(t)
  const server = pki.server()
  const stack = await startStack(t)
  const served = await serveWorkers(t, { ...stack.env, GATEHOUSE_WORKERS: '2', GATEHOUSE_POLICIES: file, GATEHOUSE_PUBLIC_URL: 'https://localhost', GATEHOUSE_TLS_CERT_FILE: server.certFile, GATEHOUSE_TLS_KEY_FILE: server.keyFile })
  const url = served.url.replace('http:', 'https:')
  const h1 = async (id: string): Promise<{ status: number, alpn: string | false | null }> => await new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}/x`, { ca: pki.ca, agent: false, headers: { 'x-request-id': id } }, res => {
      res.resume()
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol }) })
    })
    req.on('error', reject)
    req.end()
  })
  const h2 = async (id: string): Promise<number> => {
    const session = h2connect(url, { ca: pki.ca })
    try {
      return await new Promise((resolve, reject) => {
        const stream = session.request({ ':path': '/x', 'x-request-id': id })
        stream.on('response', headers => { stream.resume(); stream.on('end', () => { resolve(Number(headers[':status'])) }) })
        stream.on('error', reject)
        stream.end()
      })
    } finally {
      session.close()
    }
  }
  const ids: string[] = []
  for (let i = 0; i < 4; i++) {
    const a = await h1(`tls-h1-${i}`)
    t.same(a, { status: 200, alpn: false }, `HTTP/1.1 request ${i}`)
    t.equal(await h2(`tls-h2-${i}`), 200, `HTTP/2 request ${i}`)
    ids.push(`tls-h1-${i}`, `tls-h2-${i}`)
  }
  await served.saw(r => ids.includes(r.reqId as string) && r.msg === 'request completed', ids.length)
  t.same([...workersOf(served, ids)].sort(), [1, 2], 'both workers answered over TLS')
})
