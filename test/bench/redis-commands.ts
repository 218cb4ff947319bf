/**
 * Redis commands per steady-state authenticated request (goal: 0), measured
 * from Redis' own INFO commandstats around a run of requests through a real
 * gateway with a real sign-in. Run with `npm run bench:redis`.
 */
import { benchRedis } from './bench-redis.js'
import { startStack } from '../helpers/stack.js'
import { saveResult } from './save-result.js'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000)
const teardowns: Array<() => unknown> = []
const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }

async function commandCounts (redis: import('ioredis').Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats')
  return Object.fromEntries([...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].map(m => [m[1] ?? '', Number(m[2])]))
}

try {
  const redis = await benchRedis()
  t.teardown(() => redis.stop())
  const stack = await startStack(t, { redis: redis.url, env: { GATEHOUSE_LOG_LEVEL: 'warn' } })
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  await fetch(`${stack.url}/api/warm`, { headers: { cookie } })
  const client = stack.redis
  if (client === undefined) throw new Error('no Redis client')
  const before = await commandCounts(client)
  const started = Date.now()
  for (let i = 0; i < REQUESTS; i++) {
    const res = await fetch(`${stack.url}/api/x`, { headers: { cookie, accept: 'application/json' } })
    if (res.status !== 200) throw new Error(`request ${i}: ${res.status}`)
    await res.arrayBuffer()
  }
  const seconds = (Date.now() - started) / 1000
  const after = await commandCounts(client)
  // The heartbeat (PING once a second per gateway) and this script's own INFO are not request work.
  const perCommand = Object.fromEntries(Object.keys(after).map(k => [k, (after[k] ?? 0) - (before[k] ?? 0)]).filter(([k, v]) => v !== 0 && k !== 'ping' && k !== 'info'))
  const total = Object.values(perCommand).reduce((a: number, b) => a + Number(b), 0)
  const result = { benchmark: 'redis-commands-per-request', requests: REQUESTS, seconds, heartbeat_pings: (after.ping ?? 0) - (before.ping ?? 0), commands: perCommand, commands_per_request: total / REQUESTS, goal: 0 }
  process.stdout.write(`Redis commands per steady-state authenticated request: ${result.commands_per_request} (goal 0) over ${REQUESTS} requests in ${seconds.toFixed(1)} s\nsaved ${saveResult('redis-commands', result)}\n`)
} finally {
  for (const fn of teardowns.reverse()) await fn()
}
