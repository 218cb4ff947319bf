import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { freePort } from './helpers/ports.js'
import { startStack } from './helpers/stack.js'

t.test('an upstream that is down gives 502 with a short page, quickly', async t => {
  const closedPort = await freePort()
  const stack = await startStack(t, { env: { GATEHOUSE_UPSTREAM_URL: `http://127.0.0.1:${closedPort}` } })
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const page = await browser.get(`${stack.url}/anything`)
  t.equal(page.status, 502)
  t.match(page.body, /The application behind the gateway is not answering/)
  const api = await fetch(`${stack.url}/api`, { headers: { accept: 'application/json', cookie: `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}` } })
  t.equal(api.status, 502)
  t.equal((await api.json() as { error: { code: string } }).error.code, 'GH_UPSTREAM_UNAVAILABLE')
})

t.test('an upstream slower than the timeout gives 504, never a hang', async t => {
  const pending = new Set<import('node:http').ServerResponse>()
  const slow = createServer((_req, res) => { pending.add(res) })
  await new Promise<void>(resolve => slow.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const r of pending) r.destroy(); slow.closeAllConnections(); slow.close() })
  const stack = await startStack(t, { env: { GATEHOUSE_UPSTREAM_URL: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`, GATEHOUSE_UPSTREAM_TIMEOUT: '300ms' } })
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const res = await fetch(`${stack.url}/slow`, { headers: { accept: 'application/json', cookie: `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}` } })
  t.equal(res.status, 504)
  t.equal((await res.json() as { error: { code: string } }).error.code, 'GH_UPSTREAM_TIMEOUT')
  const health = await fetch(`${stack.url}/.gatehouse/healthz`)
  t.equal(health.status, 200, 'the gateway stays healthy')
})
