import t from 'tap'
import { PUBLIC_AND_API_POLICY, startAttackStack } from '../helpers/attack-stack.js'
import { Load } from '../helpers/load.js'
import { TestRedis } from '../helpers/redis-server.js'

/**
 * Redis stopped and started again while request loops run: requests that
 * need a session answer 503 while it is down (never 401, never a hang),
 * public routes keep answering 200, and service comes back without
 * restarting the gateway, with every session intact (Redis keeps its data
 * on disk, as a production Redis with persistence would).
 */

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
