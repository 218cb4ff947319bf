import { createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { ATTACK_USERS } from '../helpers/attack-stack.js'
import { Browser } from '../helpers/browserless.js'
import { FaultProxy } from '../helpers/fault-proxy.js'
import { Load } from '../helpers/load.js'
import { policyDir } from '../helpers/policy-files.js'
import { TestRedis } from '../helpers/redis-server.js'
import { startStack } from '../helpers/stack.js'

/**
 * A soak: mixed traffic (three long-lived sessions, anonymous, denied and
 * public requests, the gateway's own endpoints, sign-in and sign-out cycles)
 * while faults come and go: the upstream resetting and never answering,
 * Redis frozen, Redis killed and started again. Every outcome is one that
 * its kind of request may have under the faults (never a 500, a 401 for a
 * signed-in person, or a hang), no session is lost, and the heap, measured
 * after a forced garbage collection once warmed up and again at the end,
 * does not grow beyond a generous bound.
 *
 * 20 seconds by default; GATEHOUSE_SOAK_SECONDS=600 for a long run.
 */
const SECONDS = Number(process.env.GATEHOUSE_SOAK_SECONDS ?? 20)
const USERS = ['alice', 'bob', 'nina']

/** What each kind of request may answer while faults come and go. */
const ALLOWED: Record<string, number[]> = {
  'api:alice': [200, 502, 503, 504],
  'api:bob': [200, 502, 503, 504],
  'api:nina': [200, 502, 503, 504],
  public: [200, 502, 504],
  denied: [403, 503],
  anonymous: [401],
  healthz: [200],
  signin: [200, 502, 503, 504],
}

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapAfterGc (): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

t.test(`soak: ${SECONDS} s of mixed traffic with faults`, async t => {
  if (!Number.isFinite(SECONDS) || SECONDS < 10) throw new Error(`GATEHOUSE_SOAK_SECONDS must be a number of seconds, 10 or more (got ${process.env.GATEHOUSE_SOAK_SECONDS ?? ''})`)
  const redis = await TestRedis.start({ persistent: true })
  t.teardown(async () => { redis.thaw(); await redis.stop() })
  // An upstream that keeps nothing per request, behind a proxy that injects its faults.
  const sockets = new Set<Socket>()
  const backend = createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')) })
  backend.on('connection', s => { sockets.add(s); s.once('close', () => sockets.delete(s)) })
  await new Promise<void>(resolve => backend.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); backend.close() })
  const proxy = await FaultProxy.start(t, { host: '127.0.0.1', port: (backend.address() as AddressInfo).port })
  const { file } = policyDir(t, `
upstreams:
  app: { url: ${proxy.url}, timeout: 500ms }
routes:
  - { name: public, match: { path: /public/** }, upstream: app, allow: anyone }
  - { name: admin, match: { path: /admin/** }, upstream: app, allow: [{ groups: [admins] }] }
  - { name: api, match: { path: /** }, upstream: app, allow: authenticated }
`)
  const stack = await startStack(t, { redis: redis.url, users: ATTACK_USERS, logLevel: 'warn', keepLogLines: 200, env: { GATEHOUSE_POLICIES: file } })
  const cookies = new Map<string, string>()
  for (const user of USERS) {
    const { browser } = await stack.signIn(user, '/.gatehouse/login?return=%2Fpublic%2Fx')
    cookies.set(user, `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`)
  }

  const load = new Load()
  const get = async (path: string, signal: AbortSignal, cookie?: string): Promise<number> => {
    const res = await fetch(`${stack.url}${path}`, { signal, headers: { accept: 'application/json', ...(cookie === undefined ? {} : { cookie }) } })
    await res.arrayBuffer()
    return res.status
  }
  for (const user of USERS) load.loop(`api:${user}`, async signal => await get('/api/x', signal, cookies.get(user)))
  load.loop('public', async signal => await get('/public/x', signal))
  load.loop('denied', async signal => await get('/admin/x', signal, cookies.get('bob')))
  load.loop('anonymous', async signal => await get('/api/x', signal))
  load.loop('healthz', async signal => await get('/.gatehouse/healthz', signal))
  // Sign in, use the session, sign out; paced by the other traffic, so the IdP's own memory stays small.
  load.loop('signin', async () => {
    const mark = load.count('public')
    await load.until(() => load.count('public') >= mark + 40)
    if (load.stopped) return undefined
    const browser = new Browser()
    const { page } = await stack.signIn('carol', '/api/landing', browser)
    const cookie = stack.sessionCookie(browser)
    if (cookie !== undefined) {
      const out = await fetch(`${stack.url}/.gatehouse/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: `${stack.gateway.cookies.session}=${cookie}`, origin: stack.url } })
      await out.arrayBuffer()
      if (out.status !== 303 && out.status !== 503) return out.status
    }
    return page.status
  })
  t.teardown(() => load.stop())

  /** Waits until `label` has `n` more outcomes equal to `outcome` than now. */
  const more = async (label: string, outcome: number, n: number): Promise<void> => {
    const from = load.count(label, undefined, outcome)
    await load.until(() => load.count(label, undefined, outcome) >= from + n)
  }
  const healthy = async (): Promise<void> => { await Promise.all(USERS.map(async u => { await more(`api:${u}`, 200, 20) })) }

  const faults = { reset: 0, blackhole: 0, freeze: 0, kill: 0 }
  const end = Date.now() + SECONDS * 1000
  const warmUntil = Date.now() + Math.max(5_000, SECONDS * 250)
  let baseline: number | undefined
  load.phase = 'faults'
  for (let cycle = 0; Date.now() < end; cycle++) {
    await healthy()
    proxy.mode = 'reset'
    await more('public', 502, 5)
    proxy.mode = 'pass'
    faults.reset++
    await healthy()
    proxy.mode = 'blackhole'
    await more('public', 504, 3)
    proxy.mode = 'pass'
    faults.blackhole++
    await healthy()
    if (cycle % 2 === 0) {
      redis.freeze()
      await more('api:alice', 503, 5)
      redis.thaw()
      faults.freeze++
    } else {
      await redis.kill()
      await more('api:alice', 503, 5)
      await redis.restart()
      faults.kill++
    }
    if (baseline === undefined && Date.now() >= warmUntil) {
      await healthy()
      baseline = heapAfterGc()
    }
  }
  load.phase = 'recovery'
  await load.until(() => USERS.every(u => load.count(`api:${u}`, 'recovery', 200) >= 1))
  load.phase = 'after'
  await load.until(() => Object.keys(ALLOWED).filter(l => l !== 'signin').every(l => load.count(l, 'after') >= 20))
  await load.stop()

  t.comment(`faults injected: ${JSON.stringify(faults)}`)
  for (const label of Object.keys(ALLOWED)) t.comment(`${label}: ${JSON.stringify(load.describe(label))}`)
  for (const [label, allowed] of Object.entries(ALLOWED)) {
    const unexpected = [...load.outcomes(label).keys()].filter(o => typeof o !== 'number' || !allowed.includes(o))
    t.same(unexpected, [], `${label}: only ${allowed.join(', ')}`)
  }
  t.ok(faults.reset > 0 && faults.blackhole > 0 && faults.freeze > 0, 'every kind of fault was injected')
  t.ok(load.count('signin', undefined, 200) > 0, 'sign-ins completed')
  for (const user of USERS) t.same(load.describe(`api:${user}`, 'after'), { 200: load.count(`api:${user}`, 'after') }, `${user}: the session outlived every fault`)
  t.same(load.describe('denied', 'after'), { 403: load.count('denied', 'after') }, 'denials still denied')

  const heapEnd = heapAfterGc()
  const start = baseline ?? heapEnd
  const bound = Math.max(32 * 1024 * 1024, start * 0.5)
  t.comment(`heap after GC: ${(start / 2 ** 20).toFixed(1)} MB after warm-up, ${(heapEnd / 2 ** 20).toFixed(1)} MB at the end; rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`)
  t.ok(baseline !== undefined, 'measured after warm-up')
  t.ok(heapEnd - start < bound, `heap growth ${((heapEnd - start) / 2 ** 20).toFixed(1)} MB stays under ${(bound / 2 ** 20).toFixed(0)} MB`)
})
