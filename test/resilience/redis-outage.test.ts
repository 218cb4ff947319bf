import t from 'tap'
import { PUBLIC_AND_API_POLICY, startAttackStack } from '../helpers/attack-stack.js'
import { Load } from '../helpers/load.js'
import { TestRedis } from '../helpers/redis-server.js'
import { startStack } from '../helpers/stack.js'

/**
 * Redis away, stopped or frozen: requests that need a session answer 503
 * quickly (never 401, never a redirect into sign-in, never a hang), public
 * routes keep answering 200, readiness turns false while liveness stays
 * true, and service comes back without restarting the gateway, with every
 * session intact (Redis keeps its data on disk, as a production Redis with
 * persistence would).
 */

/** Asks readyz until it answers `wanted` (at most 100 times, 50 ms apart); the last answer. */
async function readiness (url: string, wanted: number): Promise<number> {
  let status = 0
  for (let i = 0; i < 100 && status !== wanted; i++) {
    status = (await fetch(`${url}/.gatehouse/readyz`)).status
    if (status !== wanted) await new Promise(resolve => setTimeout(resolve, 50))
  }
  return status
}

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

t.test('Redis stopped and restarted under load', async t => {
  const redis = await TestRedis.start({ persistent: true })
  t.teardown(() => redis.stop())
  const s = await startAttackStack(t, PUBLIC_AND_API_POLICY, { redis: redis.url, env: { GATEHOUSE_LOG_LEVEL: 'warn' } })
  const users = ['alice', 'bob', 'nina']
  const cookies = Object.fromEntries(await Promise.all(users.map(async u => [u, await s.cookie(u)] as const)))
  const codes = new Set<string>()
  const load = new Load()
  for (const user of users) {
    load.loop(user, async signal => {
      const res = await fetch(`${s.stack.url}/api/x`, { signal, headers: { cookie: cookies[user] ?? '', accept: 'application/json' } })
      const body = await res.text()
      if (res.status === 503) codes.add((JSON.parse(body) as { error: { code: string } }).error.code)
      return res.status
    })
  }
  load.loop('public', async signal => (await fetch(`${s.stack.url}/public/x`, { signal })).status)
  t.teardown(() => load.stop())
  const each = (phase: string, n: number, outcome?: number): () => boolean => () => [...users, 'public'].every(l => load.count(l, phase, outcome) >= n)

  load.phase = 'up'
  await load.until(each('up', 10))
  await redis.kill()
  load.phase = 'down'
  await load.until(() => users.every(u => load.count(u, 'down', 503) >= 20) && load.count('public', 'down') >= 20)
  const downReady = await fetch(`${s.stack.url}/.gatehouse/readyz`)
  t.equal(downReady.status, 503, 'not ready while Redis is down')
  t.equal((await fetch(`${s.stack.url}/.gatehouse/healthz`)).status, 200, 'still alive')
  const started = Date.now()
  const down = await fetch(`${s.stack.url}/api/x`, { headers: { cookie: cookies.alice ?? '', accept: 'application/json' } })
  t.equal(down.status, 503)
  t.equal((await down.json() as { error: { code: string } }).error.code, 'GH_SESSION_STORE_UNAVAILABLE')
  const elapsed = Date.now() - started
  // Not a threshold (the machine may be slow): a request that waited for Redis would never be answered at all.
  t.comment(`answered in ${elapsed} ms`)
  const page = await fetch(`${s.stack.url}/api/page`, { redirect: 'manual', headers: { cookie: cookies.alice ?? '', accept: BROWSER_ACCEPT } })
  await page.arrayBuffer()
  t.equal(page.status, 503, 'a browser gets the 503 page, not a redirect loop into sign-in')
  t.equal(page.headers.get('location'), null, 'no redirect')
  await redis.restart()
  load.phase = 'recovering'
  await load.until(() => users.every(u => load.count(u, 'recovering', 200) >= 1))
  load.phase = 'after'
  await load.until(each('after', 10))
  await load.stop()

  for (const user of users) {
    t.same([...load.outcomes(user).keys()].filter(o => o !== 200 && o !== 503), [], `${user}: only 200 or 503, never 401, 5xx or a hang (${JSON.stringify(load.describe(user))})`)
    t.ok(load.count(user, 'down', 503) >= 20, `${user}: 503 while Redis was down`)
    t.same(load.describe(user, 'after'), { 200: load.count(user, 'after') }, `${user}: every request passes again, the session was not lost`)
  }
  t.same(load.describe('public'), { 200: load.count('public') }, 'the public route answered 200 throughout')
  t.same([...codes], ['GH_SESSION_STORE_UNAVAILABLE'], 'every 503 says the session store is unavailable')
  t.equal((await fetch(`${s.stack.url}/.gatehouse/readyz`)).status, 200, 'ready again, without a restart of the gateway')
})

t.test('Redis frozen: protected paths answer 503 quickly, readiness turns false, service resumes', async t => {
  const redis = await TestRedis.start({ persistent: true })
  t.teardown(async () => { redis.thaw(); await redis.stop() })
  const stack = await startStack(t, { redis: redis.url })
  const { browser } = await stack.signIn('alice')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const get = async (path: string, headers: Record<string, string> = {}): Promise<Response> => await fetch(`${stack.url}${path}`, { redirect: 'manual', headers: { cookie, accept: 'application/json', ...headers } })
  t.equal((await get('/api/x')).status, 200, 'works while Redis is up')

  redis.freeze()
  // A frozen Redis keeps its sockets open: the gateway notices within a second (its heartbeat).
  t.equal(await readiness(stack.url, 503), 503, 'readiness turns false')

  const started = Date.now()
  const down = await get('/api/x')
  t.equal(down.status, 503)
  t.equal((await down.json() as { error: { code: string } }).error.code, 'GH_SESSION_STORE_UNAVAILABLE')
  const elapsed = Date.now() - started
  // Not a threshold (the machine may be slow): a request that waited for Redis would never be answered at all.
  t.comment(`answered in ${elapsed} ms`)
  const page = await browser.get(`${stack.url}/page`)
  t.equal(page.status, 503, 'a browser gets the 503 page, not a redirect loop into sign-in')
  t.equal(page.history.length, 1, 'no redirect')
  t.equal((await fetch(`${stack.url}/.gatehouse/readyz`)).status, 503, 'not ready')
  t.equal((await fetch(`${stack.url}/.gatehouse/healthz`)).status, 200, 'still alive')

  redis.thaw()
  t.equal(await readiness(stack.url, 200), 200, 'ready again without a restart')
  const after = await get('/api/x')
  t.equal(after.status, 200, 'service resumes and no session was lost')
})
