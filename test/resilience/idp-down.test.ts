import t from 'tap'
import { loadConfig } from '../../src/config/load.js'
import { createLogger } from '../../src/log/logger.js'
import { startGateway } from '../../src/server/start.js'
import { startAttackStack } from '../helpers/attack-stack.js'
import { Browser } from '../helpers/browserless.js'
import { Load } from '../helpers/load.js'
import { LogCapture } from '../helpers/log-capture.js'
import { freePort } from '../helpers/ports.js'
import { idpCallback } from '../helpers/signin-steps.js'

/**
 * The IdP goes away (connections reset) and comes back. Signed-in people
 * keep working throughout; a sign-in that reaches the gateway's callback
 * while the IdP is away gets the sign-in failed page with a way to try
 * again; a gateway that starts during the outage is not ready and answers
 * sign-ins with 503, yet serves existing sessions; when the IdP returns,
 * sign-ins work again without restarting anything.
 */
const POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: app
    match: { path: /** }
    upstream: app
    allow: authenticated
`

t.test('the IdP down and back', async t => {
  const s = await startAttackStack(t, POLICY, { idpProxy: true, env: { GATEHOUSE_LOG_LEVEL: 'warn' } })
  const { stack } = s
  const proxy = stack.idpProxy
  if (proxy === undefined) throw new Error('no IdP proxy')
  const alice = await s.cookie('alice')
  // Bob's sign-in gets as far as the IdP's answer before the outage.
  const bob = new Browser()
  const bobCallback = await idpCallback(bob, `${stack.url}/.gatehouse/login?return=%2Freports`, `${stack.url}/.gatehouse/callback`, { user: 'bob', password: 'bob-pass' })

  const load = new Load()
  for (let i = 0; i < 2; i++) {
    load.loop('alice', async signal => (await fetch(`${stack.url}/api/x`, { signal, headers: { cookie: alice, accept: 'application/json' } })).status)
  }
  t.teardown(() => load.stop())
  load.phase = 'up'
  await load.until(() => load.count('alice', 'up') >= 10)

  proxy.mode = 'reset'
  load.phase = 'down'

  t.test('a sign-in that comes back while the IdP is away fails with a way to try again', async t => {
    const page = await bob.request(bobCallback, { followRedirects: false })
    t.equal(page.status, 502)
    t.match(page.body, 'GH_SIGNIN_FAILED')
    t.match(page.body, /href="\/\.gatehouse\/login\?return=%2Freports">Try again/)
    t.equal(stack.sessionCookie(bob), undefined, 'no session')
    t.ok(stack.logs.records().some(r => r.event === 'signin.failure'), 'audited')
  })

  t.test('a new sign-in is sent to the IdP, which cannot be reached', async t => {
    const carol = new Browser()
    const start = await carol.request(`${stack.url}/reports`, { followRedirects: false })
    t.equal(start.status, 302, 'the gateway knows where the IdP is')
    const location = start.headers.get('location') ?? ''
    t.ok(location.startsWith(proxy.url), 'to the IdP')
    await t.rejects(fetch(location), 'the IdP does not answer')
    t.equal(s.up.seen.filter(r => r.url === '/reports').length, 0, 'the upstream was not reached')
  })

  const port = await freePort()
  const logs = new LogCapture()
  const late = (await startGateway({ loaded: loadConfig({ env: { ...stack.env, GATEHOUSE_LISTEN: `127.0.0.1:${port}` } }), log: createLogger({ level: 'debug', destination: logs }) })).gateway
  t.teardown(() => late.close())
  const lateUrl = `http://127.0.0.1:${port}`

  t.test('a gateway started during the outage', async t => {
    const ready = await fetch(`${lateUrl}/.gatehouse/readyz`)
    t.equal(ready.status, 503, 'is not ready')
    t.match(await ready.text(), /"idp_metadata":"not_loaded"/)
    const signin = await new Browser().request(`${lateUrl}/reports`, { followRedirects: false })
    t.equal(signin.status, 503, 'answers a sign-in with 503')
    t.match(signin.body, 'GH_IDP_NOT_READY')
    const existing = await fetch(`${lateUrl}/api/x`, { headers: { cookie: alice, accept: 'application/json' } })
    t.equal(existing.status, 200, 'and serves existing sessions')
  })

  await load.until(() => load.count('alice', 'down') >= 20)
  proxy.mode = 'pass'
  load.phase = 'back'

  t.test('when the IdP is back', async t => {
    await late.oidc.whenReady()
    t.equal((await fetch(`${lateUrl}/.gatehouse/readyz`)).status, 200, 'the late gateway becomes ready by itself')
    const again = await bob.get(`${stack.url}/.gatehouse/login?return=%2Freports`)
    t.equal(again.status, 200, 'trying again signs bob in')
    t.equal(again.url, `${stack.url}/reports`)
    const carol = new Browser()
    const page = await stack.signIn('carol', '/reports', carol)
    t.equal(page.page.url, `${stack.url}/reports`, 'a new person signs in')
    const viaLate = await new Browser().request(`${lateUrl}/reports`, { followRedirects: false })
    t.equal(viaLate.status, 302, 'the late gateway sends sign-ins to the IdP')
    t.ok(viaLate.headers.get('location')?.startsWith(proxy.url))
  })

  t.test('signed-in people were served throughout', async t => {
    await load.until(() => load.count('alice', 'back') >= 10)
    await load.stop()
    t.same(load.describe('alice'), { 200: load.count('alice') }, 'every request of a signed-in person passed')
    t.ok(load.count('alice', 'down') >= 20, 'also while the IdP was away')
  })
})
