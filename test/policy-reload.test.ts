import { createServer, type ServerResponse } from 'node:http'
import { writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { policyDir } from './helpers/policy-files.js'
import { startStack } from './helpers/stack.js'

const OPEN = (path: string): string => `routes:\n  - name: docs\n    match: { path: ${path} }\n    allow: anyone\n`
const CLOSED = 'routes:\n  - name: docs\n    match: { path: /** }\n    allow: authenticated\n'

async function status (url: string): Promise<number> {
  return (await fetch(url, { headers: { accept: 'application/json' } })).status
}

t.test('a valid edit is picked up; a bad edit keeps the last good policy and says where it is wrong', async t => {
  const { dir, file } = policyDir(t, OPEN('/**'))
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: dir } })
  const reloaded = async (): Promise<boolean> => await new Promise(resolve => { const off = stack.gateway.policies.onReload(ok => { off(); resolve(ok) }) })
  t.equal(await status(`${stack.url}/doc`), 200, 'open at first')

  let next = reloaded()
  writeFileSync(file, CLOSED)
  t.equal(await next, true, 'the edit was loaded')
  t.equal(await status(`${stack.url}/doc`), 401, 'now needs sign-in')
  const hash = stack.gateway.policies.status.hash

  next = reloaded()
  writeFileSync(file, 'routes:\n  - name: docs\n    match: { path: /** }\n    allow: evryone\n')
  t.equal(await next, false, 'the bad edit was refused')
  t.equal(await status(`${stack.url}/doc`), 401, 'the last good policy is still in force')
  const ready = await (await fetch(`${stack.url}/.gatehouse/readyz`)).json() as { checks: { policy: string }, policy: { hash: string, errors: number, failed_reloads: number } }
  t.equal(ready.checks.policy, 'reload_failed')
  t.equal(ready.policy.hash, hash)
  t.equal(ready.policy.failed_reloads, 1)
  t.equal(ready.policy.errors, 1, 'readiness counts the problems; the log has them')
  t.match(stack.gateway.policies.status.errors[0], { where: `${file}:4:12`, message: /^routes\.0\.allow has the wrong form/ })
  t.ok(stack.logs.records().some(r => r.event === 'policy.not_reloaded' && r.problem === 'routes.0.allow has the wrong form: `anyone` (no sign-in), `authenticated` (any signed-in user), or a list of alternatives' && r.where === `${file}:4:12`), 'logged with file:line:col')
  t.ok(stack.logs.records().some(r => r.audit === true && r.event === 'policy.reload_failed'), 'audited')

  // SIGHUP reloads too (here after a fix written while the watcher is told nothing new).
  writeFileSync(file, OPEN('/**'))
  await reloaded()
  next = reloaded()
  process.kill(process.pid, 'SIGHUP')
  t.equal(await next, true, 'SIGHUP reloaded')
  t.equal(await status(`${stack.url}/doc`), 200)
  t.equal(stack.gateway.policies.status.ok, true)
})

t.test('requests in flight finish under the policy they started with', async t => {
  const held: ServerResponse[] = []
  let arrived: () => void = () => {}
  const upstream = createServer((_req, res) => { held.push(res); arrived() })
  await new Promise<void>(resolve => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { upstream.closeAllConnections(); upstream.close() })
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  const { file } = policyDir(t, `upstreams: { slow: { url: "${url}" } }\n${OPEN('/**').replace('allow: anyone', 'upstream: slow\n    allow: anyone')}`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file } })
  const reached = new Promise<void>(resolve => { arrived = resolve })
  const inFlight = fetch(`${stack.url}/long-report`)
  await reached
  const reloaded = new Promise<boolean>(resolve => { const off = stack.gateway.policies.onReload(ok => { off(); resolve(ok) }) })
  writeFileSync(file, `upstreams: { slow: { url: "${url}" } }\n${CLOSED.replace('allow: authenticated', 'upstream: slow\n    allow: authenticated')}`)
  t.equal(await reloaded, true)
  t.equal(await status(`${stack.url}/long-report`), 401, 'new requests get the new policy')
  held[0]?.end('done')
  const res = await inFlight
  t.equal(res.status, 200, 'the request that started under the old policy completes')
  t.equal(await res.text(), 'done')
})

t.test('a policy that is invalid at start-up stops the gateway from starting, naming every problem', async t => {
  const { file } = policyDir(t, 'routes:\n  - name: a\n    match: { path: /a/**/b }\n    allow: anyone\n  - name: a\n    match: { path: /x }\n    upstream: nowhere\n    allow: [{ ip: [10.0.0.0/33] }]\n')
  let problems: Array<{ where: string, message: string }> = []
  try {
    await startStack(t, { env: { GATEHOUSE_POLICIES: file } })
  } catch (err) {
    problems = (err as { problems?: typeof problems }).problems ?? []
  }
  const text = problems.map(p => `${p.where}: ${p.message}`).join('\n')
  t.match(text, `${file}:3:20: "**" may only end a path pattern`)
  t.match(text, `${file}:5:11: route name "a" is already used`)
  t.match(text, `${file}:7:15: unknown upstream "nowhere"`)
  t.match(text, `${file}:8:20: "10.0.0.0/33" is not an IP address or range`)
})

t.test('routes that never need the user keep working while Redis is down', async t => {
  const { TestRedis } = await import('./helpers/redis-server.js')
  const redis = await TestRedis.start()
  t.teardown(() => redis.stop())
  const { file } = policyDir(t, 'routes:\n  - name: public\n    match: { path: /public/** }\n    allow: anyone\n  - name: app\n    match: { path: /** }\n    allow: authenticated\n')
  const stack = await startStack(t, { redis: redis.url, env: { GATEHOUSE_POLICIES: file } })
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  await redis.stop()
  const get = async (path: string): Promise<number> => (await fetch(`${stack.url}${path}`, { headers: { cookie, accept: 'application/json' } })).status
  t.equal(await get('/public/style.css'), 200, 'a public route with a session cookie: served')
  t.equal(await get('/app'), 503, 'a route that needs the user: 503')
})
