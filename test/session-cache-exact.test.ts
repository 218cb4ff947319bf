import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import type { SessionChange, SessionStore } from '../src/session/session-store.js'
import { TestRedis } from './helpers/redis-server.js'
import { sessionIdOf, startStack, type Stack } from './helpers/stack.js'

/**
 * The session cache is exact: a session's key deleted in Redis by other
 * means than the gateway (an operator's DEL, FLUSHDB) is refused at once on
 * every gateway, though each holds it in a cache that would serve it for an
 * hour (session.cache_ttl).
 */

async function redisCli (port: number, ...args: string[]): Promise<void> {
  const child = spawn('redis-cli', ['-p', String(port), ...args], { stdio: 'ignore' })
  const [code] = await once(child, 'exit') as [number]
  if (code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited ${code}`)
}

/** Resolves when `store` hears that `id` changed (or that everything may have). */
async function heard (store: SessionStore, id: string): Promise<void> {
  await new Promise<void>(resolve => {
    store.onChange((change: SessionChange) => { if (change.kind === 'changed' && (change.ids === undefined || change.ids.includes(id))) resolve() })
  })
}

async function status (url: string, cookie: string): Promise<number> {
  const res = await fetch(`${url}/api/x`, { headers: { cookie, accept: 'application/json' } })
  await res.arrayBuffer()
  return res.status
}

async function signedIn (stack: Stack): Promise<{ cookie: string, id: string }> {
  const { browser } = await stack.signIn('alice')
  const value = stack.sessionCookie(browser) ?? ''
  return { cookie: `${stack.gateway.cookies.session}=${value}`, id: sessionIdOf(value) }
}

t.test('a session key deleted or flushed in Redis is refused at once on every gateway', async t => {
  const redis = await TestRedis.start()
  t.teardown(() => redis.stop())
  const stack = await startStack(t, { redis: redis.url, admin: true, env: { GATEHOUSE_SESSION_CACHE_TTL: '1h' } })
  const b = await stack.startReplica()
  await Promise.all([stack.logs.waitFor(r => r.event === 'session_cache.exact'), b.logs.waitFor(r => r.event === 'session_cache.exact')])
  const ready = await (await fetch(`${stack.adminUrl ?? ''}/readyz`)).json() as { checks: Record<string, string> }
  t.equal(ready.checks.session_cache, 'exact', '/readyz says the cache is exact, as the start-up log did')

  for (const [label, command] of [['DEL', (id: string) => ['DEL', `${stack.keyPrefix}session:{${id}}`]], ['FLUSHDB', () => ['FLUSHDB']]] as const) {
    const { cookie, id } = await signedIn(stack)
    for (const url of [stack.url, b.url]) t.equal(await status(url, cookie), 200, `${label}: served (and cached) by ${url === stack.url ? 'A' : 'B'}`)
    const both = Promise.all([heard(stack.gateway.store, id), heard(b.gateway.store, id)])
    const started = performance.now()
    await redisCli(redis.port, ...command(id))
    await both
    t.comment(`${label}: both gateways evicted the session ${(performance.now() - started).toFixed(1)} ms after redis-cli was started`)
    for (const url of [stack.url, b.url]) t.equal(await status(url, cookie), 401, `${label}: refused by ${url === stack.url ? 'A' : 'B'}`)
  }
})
