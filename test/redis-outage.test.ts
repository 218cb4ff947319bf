import t from 'tap'
import { TestRedis } from './helpers/redis-server.js'
import { startStack } from './helpers/stack.js'

for (const mode of ['stopped', 'frozen'] as const) {
  t.test(`Redis ${mode}: protected paths answer 503 quickly, readiness turns false, service resumes`, async t => {
    const redis = await TestRedis.start({ persistent: true })
    t.teardown(async () => { redis.thaw(); await redis.stop() })
    const stack = await startStack(t, { redis: redis.url })
    const { browser } = await stack.signIn('alice')
    const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
    const get = async (path: string, headers: Record<string, string> = {}): Promise<Response> => await fetch(`${stack.url}${path}`, { redirect: 'manual', headers: { cookie, accept: 'application/json', ...headers } })
    t.equal((await get('/api/x')).status, 200, 'works while Redis is up')

    if (mode === 'stopped') await redis.kill()
    else redis.freeze()
    // The gateway notices at once when the connection drops, and within a second (its heartbeat) when Redis freezes.
    let readyStatus = 200
    for (let i = 0; i < 100 && readyStatus !== 503; i++) {
      readyStatus = (await fetch(`${stack.url}/.gatehouse/readyz`)).status
      if (readyStatus !== 503) await new Promise(resolve => setTimeout(resolve, 50))
    }
    t.equal(readyStatus, 503, 'readiness turns false')

    const started = Date.now()
    const down = await get('/api/x')
    t.equal(down.status, 503)
    t.equal((await down.json() as { error: { code: string } }).error.code, 'GH_SESSION_STORE_UNAVAILABLE')
    const elapsed = Date.now() - started
    t.ok(elapsed < 3000, `answered without hanging (${elapsed} ms)`)
    const page = await browser.get(`${stack.url}/page`)
    t.equal(page.status, 503, 'a browser gets the 503 page, not a redirect loop into sign-in')
    t.equal(page.history.length, 1, 'no redirect')
    t.equal((await fetch(`${stack.url}/.gatehouse/readyz`)).status, 503, 'not ready')
    t.equal((await fetch(`${stack.url}/.gatehouse/healthz`)).status, 200, 'still alive')

    if (mode === 'stopped') await redis.restart()
    else redis.thaw()
    let ready = 503
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = (await fetch(`${stack.url}/.gatehouse/readyz`)).status
      if (ready !== 200) await new Promise(resolve => setTimeout(resolve, 50))
    }
    t.equal(ready, 200, 'ready again without a restart')
    const after = await get('/api/x')
    t.equal(after.status, 200, 'service resumes and no session was lost')
  })
}
