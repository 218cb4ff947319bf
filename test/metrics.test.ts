import { writeFileSync } from 'node:fs'
import t from 'tap'
import { loadConfig } from '../src/config/load.js'
import { createLogger } from '../src/log/logger.js'
import { startGateway } from '../src/server/start.js'
import { isAccessLine, LogCapture } from './helpers/log-capture.js'
import { scrape, valueOf } from './helpers/metrics-text.js'
import { policyDir } from './helpers/policy-files.js'
import { TestRedis } from './helpers/redis-server.js'
import { startStack, type Stack } from './helpers/stack.js'

const POLICY = `routes:
  - name: public
    match: { path: /public/** }
    allow: anyone
  - name: admin
    match: { path: /admin/** }
    allow:
      - groups: [admins]
  - name: app
    match: { path: /app/** }
    allow: authenticated
`

/** GET through the gateway; resolves once the gateway has logged the request as completed (its metrics are counted by then). */
async function get (stack: Stack, path: string, cookie?: string): Promise<number> {
  const res = await fetch(`${stack.url}${path}`, { redirect: 'manual', headers: { accept: 'application/json', ...(cookie === undefined ? {} : { cookie }) } })
  await res.arrayBuffer()
  const id = res.headers.get('x-request-id')
  await stack.logs.waitFor(r => r.reqId === id && isAccessLine(r))
  return res.status
}

async function signedIn (stack: Stack, user: string): Promise<string> {
  const { browser } = await stack.signIn(user, '/.gatehouse/login?return=/.gatehouse/healthz')
  return `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
}

t.test('requests are counted by route, decision and status; sign-ins, the session cache and the upstream are measured', async t => {
  const { dir, file } = policyDir(t, POLICY)
  // The shared Redis is up throughout, so no Redis error may be counted: a command timeout longer than a
  // loaded machine ever makes one wait keeps a slow answer from counting as one.
  const stack = await startStack(t, { admin: true, env: { GATEHOUSE_POLICIES: dir, GATEHOUSE_REDIS_COMMAND_TIMEOUT: '10s' } })
  t.ok(stack.adminUrl, 'the admin listener is up')

  t.equal(await get(stack, '/public/a'), 200)
  t.equal(await get(stack, '/app/x'), 401)
  t.equal(await get(stack, '/nowhere/at/all?x=1'), 404)
  const alice = await signedIn(stack, 'alice')
  const bob = await signedIn(stack, 'bob')
  t.equal(await get(stack, '/admin/x', bob), 403)
  t.equal(await get(stack, '/admin/x', alice), 200)
  t.equal(await get(stack, '/app/one', alice), 200)
  t.equal(await get(stack, '/app/two', alice), 200)
  t.equal((await fetch(`${stack.url}/.gatehouse/callback?code=forged&state=forged`)).status, 400)

  const samples = await scrape(stack.adminUrl)
  const requests = (labels: Record<string, string>): number => valueOf(samples, 'gatehouse_requests_total', labels)
  t.equal(requests({ route: 'public', decision: 'allow', status: '200' }), 1, 'public, allowed')
  t.equal(requests({ route: 'app', decision: 'unauthenticated', status: '401' }), 1, 'not signed in')
  t.equal(requests({ route: 'admin', decision: 'deny', status: '403' }), 1, 'bob denied')
  t.equal(requests({ route: 'admin', decision: 'allow', status: '200' }), 1, 'alice allowed')
  t.equal(requests({ route: 'app', decision: 'allow', status: '200' }), 2)
  t.equal(requests({ route: '(none)', decision: 'none', status: '404' }), 1, 'no route: counted under (none)')
  t.ok(requests({ route: '(gateway)', decision: 'none', status: '302' }) >= 2, 'the gateway\'s own endpoints are counted under (gateway)')
  const routes = new Set(samples.filter(s => s.name === 'gatehouse_requests_total').map(s => s.labels.route))
  t.same([...routes].sort(), ['(gateway)', '(none)', 'admin', 'app', 'public'], 'route labels are route names, never raw paths')

  t.equal(valueOf(samples, 'gatehouse_upstream_duration_seconds_count', { route: 'app' }), 2, 'upstream latency observed per route')
  t.equal(valueOf(samples, 'gatehouse_upstream_duration_seconds_count', { route: 'admin' }), 1, 'a denied request never reaches the upstream')
  t.equal(valueOf(samples, 'gatehouse_upstream_duration_seconds_bucket', { route: 'app', le: '+Inf' }), 2)
  const buckets = samples.filter(s => s.name === 'gatehouse_upstream_duration_seconds_bucket' && s.labels.route === 'app').map(s => s.value)
  t.same(buckets, [...buckets].sort((a, b) => a - b), 'buckets are cumulative')
  t.equal(buckets.length, 13, '12 bounds and +Inf')
  t.ok(valueOf(samples, 'gatehouse_upstream_duration_seconds_sum', { route: 'app' }) > 0)

  t.equal(valueOf(samples, 'gatehouse_signins_total'), 2, 'two sign-ins through the IdP')
  t.equal(valueOf(samples, 'gatehouse_signin_failures_total', { reason: 'GH_SIGNIN_STATE_INVALID' }), 1, 'the forged callback, by error code')
  const cache = stack.gateway.store.cacheStats
  t.ok(cache.hits >= 3, 'signed-in requests were served from the session cache')
  t.equal(valueOf(samples, 'gatehouse_session_cache_hits_total'), cache.hits)
  t.equal(valueOf(samples, 'gatehouse_session_cache_misses_total'), cache.misses)
  t.equal(valueOf(samples, 'gatehouse_redis_errors_total'), 0)
  t.equal(valueOf(samples, 'gatehouse_policy_info', { hash: stack.gateway.policies.status.hash }), 1, 'the policy in force, by hash')
  t.equal(valueOf(samples, 'gatehouse_policy_reloads_total', { result: 'success' }), 0)
  t.ok(valueOf(samples, 'process_cpu_user_seconds_total') > 0, 'process metrics are included')
  t.ok(valueOf(samples, 'nodejs_heap_size_used_bytes') > 0)

  // Policy reloads: a good edit, then a bad one.
  const reloaded = async (): Promise<boolean> => await new Promise(resolve => { const off = stack.gateway.policies.onReload(ok => { off(); resolve(ok) }) })
  const oldHash = stack.gateway.policies.status.hash
  let next = reloaded()
  writeFileSync(file, POLICY.replace('name: app', 'name: application'))
  t.equal(await next, true)
  const newHash = stack.gateway.policies.status.hash
  next = reloaded()
  writeFileSync(file, 'routes: [ { name: broken } ]\n')
  t.equal(await next, false)
  const after = await scrape(stack.adminUrl)
  t.equal(valueOf(after, 'gatehouse_policy_reloads_total', { result: 'success' }), 1)
  t.equal(valueOf(after, 'gatehouse_policy_reloads_total', { result: 'failure' }), 1)
  t.equal(valueOf(after, 'gatehouse_policy_info', { hash: newHash }), 1, 'the hash of the policy in force')
  t.equal(after.filter(s => s.name === 'gatehouse_policy_info').length, 1, 'and only that one')
  t.not(newHash, oldHash)
})

t.test('metrics are on the admin listener only, never on the public one', async t => {
  const stack = await startStack(t, { admin: true })
  const admin = stack.adminUrl ?? ''
  const metrics = await fetch(`${admin}/metrics`)
  t.equal(metrics.status, 200)
  t.match(metrics.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await metrics.text()
  t.match(text, /# TYPE gatehouse_requests_total counter/)
  t.match(text, /# HELP gatehouse_upstream_duration_seconds .+\n# TYPE gatehouse_upstream_duration_seconds histogram/)
  t.equal((await fetch(`${admin}/healthz`)).status, 200, 'admin healthz')
  const ready = await fetch(`${admin}/readyz`)
  t.equal(ready.status, 200, 'admin readyz')
  t.match(await ready.json(), { status: 'ready', checks: { session_store: 'ok', idp_metadata: 'ok' } })
  t.equal((await fetch(`${admin}/anything-else`)).status, 404)

  const publicMetrics = await fetch(`${stack.url}/.gatehouse/metrics`)
  t.equal(publicMetrics.status, 404, 'the gateway\'s prefix has no metrics')
  t.notMatch(await publicMetrics.text(), /gatehouse_requests_total/)
  // /metrics on the public listener is an ordinary path: the policy decides (here: sign in first), the gateway serves nothing there.
  const path = await fetch(`${stack.url}/metrics`, { headers: { accept: 'application/json' } })
  t.equal(path.status, 401)
  t.notMatch(await path.text(), /gatehouse_requests_total/)
  t.not(stack.adminUrl, stack.url)
})

t.test('two gateways in one process keep their own counts', async t => {
  const one = await startStack(t, { admin: true, redis: 'memory' })
  const two = await startStack(t, { admin: true, redis: 'memory' })
  t.equal(await get(one, '/x'), 401)
  t.equal(await get(one, '/y'), 401)
  t.equal(await get(two, '/x'), 401)
  t.equal(valueOf(await scrape(one.adminUrl), 'gatehouse_requests_total', { decision: 'unauthenticated' }), 2)
  t.equal(valueOf(await scrape(two.adminUrl), 'gatehouse_requests_total', { decision: 'unauthenticated' }), 1)
})

t.test('token refreshes are counted', async t => {
  let offset = 0
  const stack = await startStack(t, { admin: true, clock: () => Date.now() + offset })
  const alice = await signedIn(stack, 'alice')
  offset = 600_000 // the access token has expired: the next request refreshes it
  t.equal(await get(stack, '/api/x', alice), 200)
  t.equal(stack.idp.grants.refresh_token, 1)
  const samples = await scrape(stack.adminUrl)
  t.equal(valueOf(samples, 'gatehouse_token_refreshes_total', { result: 'success' }), 1)
  t.equal(valueOf(samples, 'gatehouse_token_refreshes_total', { result: 'rejected' }), 0)
})

t.test('Redis errors are counted, by command and for the connection', async t => {
  const redis = await TestRedis.start()
  t.teardown(async () => { await redis.stop() })
  const stack = await startStack(t, { admin: true, redis: redis.url })
  const alice = await signedIn(stack, 'alice')
  t.equal(await get(stack, '/api/x', alice), 200)
  t.equal(valueOf(await scrape(stack.adminUrl), 'gatehouse_redis_errors_total'), 0)
  await redis.kill()
  await stack.logs.waitFor(r => r.event === 'store.unavailable' && r.connection === 'redis')
  t.equal(await get(stack, '/api/x', alice), 503, 'the session cannot be read')
  const samples = await scrape(stack.adminUrl)
  t.ok(valueOf(samples, 'gatehouse_redis_errors_total', { command: 'connection' }) >= 1, 'connection errors')
  t.ok(valueOf(samples, 'gatehouse_redis_errors_total', { command: 'GET' }) >= 1, 'the failed session read')
  t.equal(valueOf(samples, 'gatehouse_requests_total', { route: 'default', status: '503' }), 1, 'and the request, by its status')
})

t.test('admin.listen: off serves no admin listener; a taken admin port stops the start and says which listener', async t => {
  const off = await startStack(t, {})
  t.equal(off.adminUrl, undefined)
  t.equal(off.gateway.adminAddress, undefined)

  const on = await startStack(t, { admin: true })
  const taken = on.gateway.adminAddress
  const env = { ...on.env, GATEHOUSE_LISTEN: '127.0.0.1:0', GATEHOUSE_ADMIN_LISTEN: `127.0.0.1:${taken?.port ?? 0}` }
  const logs = new LogCapture()
  await t.rejects(startGateway({ loaded: loadConfig({ env }), log: createLogger({ level: 'silent', destination: logs }) }), { code: 'EADDRINUSE', message: /admin listener \(admin\.listen 127\.0\.0\.1:\d+\)/ })
})
