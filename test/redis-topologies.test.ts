import t, { type Test } from 'tap'
import { loadConfig } from '../src/config/load.js'
import type { Gateway } from '../src/server/gateway.js'
import { redisBinariesMissing, redisCli, startRedisCluster, startSentinelSet } from './helpers/redis-topologies.js'
import { startStack, type Stack } from './helpers/stack.js'

// Sessions on a real Sentinel set and a real Cluster, built from redis-server and redis-cli.
const missing = redisBinariesMissing()
const skip = missing === undefined ? false : `Redis Sentinel/Cluster tests need the Redis binaries: ${missing}`

/** readyz may say 200 on a Cluster before the Cluster client is ready (RedisBackend.ping() with no master known yet). */

async function waitFor (check: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function status (url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, init)
  await res.arrayBuffer()
  return res.status
}

/**
 * A gateway does not wait for Redis before it listens: it answers 503 until
 * its connection is ready, and a load balancer waits for readyz. Waits for
 * readyz 200, then checks that the session store really answers at that
 * moment, then waits until it does.
 */
async function untilServing (t: Test, name: string, url: string, gateway: Gateway): Promise<void> {
  const since = Date.now()
  t.ok(await waitFor(async () => await status(`${url}/.gatehouse/readyz`) === 200), `${name}: GET /.gatehouse/readyz turns 200`)
  const readyMs = Date.now() - since
  const probe = async (): Promise<boolean> => await gateway.store.backend.get('readiness-probe').then(() => true, () => false)
  t.ok(await probe(), `${name}: when readyz says 200, the session store answers`)
  t.ok(await waitFor(probe), `${name}: the session store answers`)
  t.comment(`${name}: readyz 200 after ${readyMs} ms, session store answering after ${Date.now() - since} ms`)
}

/**
 * Sign-in, a proxied request, the stored key, a second gateway on the same
 * Redis, and sign-out that reaches both gateways. `keyExists` looks the key
 * up where the topology keeps it.
 */
async function sessionLifecycle (t: Test, stack: Stack, keyExists: (key: string) => Promise<boolean>): Promise<void> {
  await untilServing(t, 'gateway', stack.url, stack.gateway)
  const { browser } = await stack.signIn('alice')
  const value = stack.sessionCookie(browser)
  t.ok(value, 'signed in through the gateway: a session cookie is set')
  const cookie = `${stack.gateway.cookies.session}=${value ?? ''}`
  const get = async (base: string): Promise<number> => await status(`${base}/api/x`, { redirect: 'manual', headers: { cookie, accept: 'application/json' } })

  const seen = stack.app.requests.length
  t.equal(await get(stack.url), 200, 'GET /api/x with the cookie is proxied')
  const forwarded = stack.app.requests.slice(seen).filter(r => r.url === '/api/x')
  t.equal(forwarded.length, 1, 'the upstream got the request')
  t.equal(forwarded[0]?.headers['x-gatehouse-user'], 'alice', 'the upstream saw x-gatehouse-user: alice')

  const key = stack.sessionKey(value ?? '')
  t.ok(await keyExists(key), `the session key ${key} is stored`)

  const replica = await stack.startReplica()
  await untilServing(t, 'second gateway', replica.url, replica.gateway)
  const before = stack.app.requests.length
  t.equal(await get(replica.url), 200, 'a second gateway on the same Redis accepts the cookie')
  t.equal(stack.app.requests.slice(before).find(r => r.url === '/api/x')?.headers['x-gatehouse-user'], 'alice', 'and forwards the same identity')

  const out = await fetch(`${stack.url}/.gatehouse/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: stack.url } })
  await out.arrayBuffer()
  t.equal(out.status, 303, 'signed out')
  t.notOk(await keyExists(key), 'the session key is gone')
  t.equal(await get(stack.url), 401, 'the gateway that signed out refuses the cookie')
  // The second gateway has the session in its cache (10 s by default): only the
  // pub/sub announcement makes it drop the session this quickly.
  let last = 0
  const since = Date.now()
  const dropped = await waitFor(async () => (last = await get(replica.url)) === 401, 2000)
  t.ok(dropped, `the second gateway refuses the cookie too (last answer ${last})`)
  t.comment(`second gateway dropped the session ${Date.now() - since} ms after sign-out`)
}

t.test('sessions on a Sentinel set (redis+sentinel://)', { skip }, async t => {
  const set = await startSentinelSet(t)
  t.comment(`Sentinel set (master, ${set.replicaPorts.length} replica, 1 sentinel) up in ${set.startupMs} ms`)
  t.equal((await redisCli(set.sentinelPort, 'sentinel', 'get-master-addr-by-name', set.masterName)).trim(), `127.0.0.1\n${set.masterPort}`, 'the sentinel names the master')
  const stack = await startStack(t, { redis: set.url })
  t.equal(stack.redis, undefined, 'no plain assertion client on a sentinel URL')
  await sessionLifecycle(t, stack, async key => (await redisCli(set.masterPort, 'exists', key)).trim() === '1')
})

t.test('sessions on a three-master Cluster (redis+cluster://)', { skip }, async t => {
  const cluster = await startRedisCluster(t)
  t.comment(`Cluster (${cluster.ports.length} masters) up in ${cluster.startupMs} ms`)
  const [first = 0] = cluster.ports
  const stack = await startStack(t, { redis: cluster.url() })
  t.equal(stack.redis, undefined, 'no plain assertion client on a cluster URL')
  await sessionLifecycle(t, stack, async key => (await redisCli(first, '-c', 'exists', key)).trim() === '1')
})


t.test('multi-host URLs, as documented, are accepted by the configuration', async t => {
  const env = {
    GATEHOUSE_LISTEN: '127.0.0.1:0',
    GATEHOUSE_PUBLIC_URL: 'http://127.0.0.1:1',
    GATEHOUSE_OIDC_ISSUER: 'http://127.0.0.1:2',
    GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
    GATEHOUSE_OIDC_CLIENT_ID: 'c',
    GATEHOUSE_OIDC_CLIENT_SECRET: 's',
    GATEHOUSE_SESSION_SECRET: 'a'.repeat(64),
    GATEHOUSE_SIGNING_KEY_FILE: '/dev/null',
    GATEHOUSE_UPSTREAM_URL: 'http://127.0.0.1:3',
  }
  for (const url of ['redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster', 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002']) {
    let message = ''
    try {
      loadConfig({ env: { ...env, GATEHOUSE_REDIS_URL: url } })
    } catch (err) {
      message = (err as Error).message
    }
    t.notMatch(message, /GATEHOUSE_REDIS_URL/, `${url} is accepted`)
  }
})
