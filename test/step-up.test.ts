import t, { type Test } from 'tap'
import { decodeJwt } from 'jose'
import { DEMO_USERS, type DevUser } from '../src/devidp/provider.js'
import type { Page } from './helpers/browserless.js'
import { policyDir } from './helpers/policy-files.js'
import { startStack, type Stack } from './helpers/stack.js'

const ERIN: DevUser = { id: 'erin', password: 'erin-pass', name: 'Erin Stepup', email: 'erin@example.test', groups: ['staff'], roles: [], amr: ['pwd'], stepUpCode: '246810' }
const USERS = [...DEMO_USERS, ERIN]
const MFA_ACR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor'

const POLICY = `
routes:
  - name: admin
    match: { path: /admin/** }
    allow: [ { mfa: true } ]
  - name: fresh
    match: { path: /fresh/** }
    allow: authenticated
    reauth_after: 15m
  - name: app
    match: { path: /** }
    allow: authenticated
`

async function stepUpStack (t: Test, opts: { clock?: () => number } = {}): Promise<Stack> {
  const { file } = policyDir(t, POLICY)
  return await startStack(t, { users: USERS, env: { GATEHOUSE_POLICIES: file }, ...opts })
}

function idpTrips (page: Page, stack: Stack): number {
  return page.history.filter(h => h.url.startsWith(`${stack.idp.issuer}/auth`)).length
}

function auditEvents (stack: Stack, event: string): Array<Record<string, unknown>> {
  return stack.logs.lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.audit === true && l.event === event)
}

t.test('mfa: a password-only session is sent to the IdP for MFA and comes back to the same URL with a new session id', async t => {
  const stack = await stepUpStack(t)
  const { browser } = await stack.signIn('erin', '/')
  const before = stack.sessionCookie(browser) ?? ''

  const first = await browser.request(`${stack.url}/admin/users?tab=2`, { followRedirects: false })
  t.equal(first.status, 302, 'a navigation is redirected, not refused')
  const location = new URL(first.headers.get('location') ?? '')
  t.equal(location.origin, stack.idp.issuer)
  t.equal(location.searchParams.get('acr_values'), MFA_ACR, 'the provider is asked for a multi-factor sign-in')
  t.equal(stack.sessionCookie(browser), before, 'the session is kept while the person steps up')

  const login = await browser.get(location.href)
  t.match(login.body, /One-time code/, 'the IdP asks for the second factor')
  const landed = await browser.submitForm(login, { login: 'erin', password: 'erin-pass', code: '246810' })
  t.equal(landed.status, 200)
  t.equal(landed.url, `${stack.url}/admin/users?tab=2`, 'back on the URL first asked for')
  const after = stack.sessionCookie(browser) ?? ''
  t.not(after, before, 'the session id changed with the stronger sign-in')
  t.equal(await stack.redis?.exists(stack.sessionKey(before)), 0, 'the old session id is gone from Redis')

  const seen = stack.app.requests.find(r => r.url === '/admin/users?tab=2')
  const assertion = decodeJwt(String(seen?.headers['x-gatehouse-assertion']))
  t.same(assertion.amr, ['pwd', 'mfa'], 'the upstream is told of the stepped-up sign-in')
  t.equal(assertion.sub, 'erin')

  t.match(auditEvents(stack, 'session.step_up').map(e => e.outcome), ['requested', 'completed'])
  t.equal(auditEvents(stack, 'signin.success').length, 1, 'a step-up is not another sign-in')

  const replica = await stack.startReplica()
  const res = await fetch(`${replica.url}/admin/users`, { headers: { cookie: `${stack.gateway.cookies.session}=${after}`, accept: 'application/json' } })
  t.equal(res.status, 200, 'a second gateway on the same Redis sees the stepped-up session')
})

t.test('the IdP comes back without MFA: the 403 page names what is missing, and there is no second trip', async t => {
  const stack = await stepUpStack(t)
  const { browser } = await stack.signIn('bob', '/')
  const page = await browser.get(`${stack.url}/admin/users`)
  t.equal(page.status, 403)
  t.equal(idpTrips(page, stack), 1, 'one trip to the IdP, no loop')
  t.match(page.body, /needs a sign-in with multi-factor authentication; yours used: password/)
  t.match(auditEvents(stack, 'session.step_up').map(e => e.outcome), ['requested', 'refused'])

  const again = await browser.get(`${stack.url}/admin/users`)
  t.equal(again.status, 403, 'asking again soon after does not go back to the IdP')
  t.equal(idpTrips(again, stack), 0)
  t.equal(stack.app.requests.filter(r => r.url.startsWith('/admin')).length, 0, 'the upstream was never reached')
})

t.test('API calls with a session get 401 GH_STEP_UP_REQUIRED with a login_url that performs the step-up', async t => {
  const stack = await stepUpStack(t)
  const { browser } = await stack.signIn('erin', '/')
  const cookie = stack.sessionCookie(browser) ?? ''
  const res = await fetch(`${stack.url}/admin/users`, { headers: { cookie: `${stack.gateway.cookies.session}=${cookie}`, accept: 'application/json' } })
  t.equal(res.status, 401)
  t.match(res.headers.get('www-authenticate'), /error="insufficient_user_authentication"/)
  const body = await res.json() as { error: { code: string, login_url: string, required: Record<string, unknown> } }
  t.equal(body.error.code, 'GH_STEP_UP_REQUIRED')
  t.same(body.error.required, { mfa: true })
  const loginUrl = new URL(body.error.login_url)
  t.equal(loginUrl.searchParams.get('mfa'), '1')
  t.equal(loginUrl.searchParams.get('return'), '/admin/users')

  const login = await browser.get(loginUrl.href)
  const landed = await browser.submitForm(login, { login: 'erin', password: 'erin-pass', code: '246810' })
  t.equal(landed.url, `${stack.url}/admin/users`)
  t.equal(landed.status, 200, 'the login_url stepped the session up')
})

t.test('reauth_after: an older sign-in is sent back with max_age, and a fresh one passes', async t => {
  let offset = 0
  const stack = await stepUpStack(t, { clock: () => Date.now() + offset })
  const { browser } = await stack.signIn('erin', '/fresh/')
  t.equal((await browser.get(`${stack.url}/fresh/report`)).status, 200, 'a sign-in of a moment ago passes')

  offset = 16 * 60 * 1000
  const res = await fetch(`${stack.url}/fresh/report`, { headers: { cookie: `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`, accept: 'application/json' } })
  t.equal(res.status, 401)
  t.match(await res.json(), { error: { code: 'GH_STEP_UP_REQUIRED', required: { max_age: 900 } } })

  const first = await browser.request(`${stack.url}/fresh/report`, { followRedirects: false })
  t.equal(first.status, 302)
  const location = new URL(first.headers.get('location') ?? '')
  t.equal(location.searchParams.get('max_age'), '900')
  // The IdP's clock is the real one: the gateway's goes back to it before the new sign-in comes back.
  offset = 0
  const landed = await browser.get(location.href)
  t.equal(landed.url, `${stack.url}/fresh/report`)
  t.equal(landed.status, 200)
})

t.test('reauth_after: an IdP that does not sign the person in again gets the 403 page, not a loop', async t => {
  let offset = 0
  const stack = await stepUpStack(t, { clock: () => Date.now() + offset })
  const { browser } = await stack.signIn('erin', '/')
  offset = 16 * 60 * 1000
  const page = await browser.get(`${stack.url}/fresh/report`)
  t.equal(page.status, 403)
  t.equal(idpTrips(page, stack), 1)
  t.match(page.body, /a sign-in within the last 15 minutes/)
})

t.test('a step-up finished by another user ends the session', async t => {
  const stack = await stepUpStack(t)
  const { browser } = await stack.signIn('bob', '/')
  const before = stack.sessionCookie(browser) ?? ''
  // A login_url that asks for a step-up; bob's IdP session would answer at once, so the IdP is made to show its form, where erin signs in.
  const forced = await browser.request(`${stack.url}/.gatehouse/login?return=%2F&mfa=1`, { followRedirects: false })
  const idpUrl = new URL(forced.headers.get('location') ?? '')
  idpUrl.searchParams.set('prompt', 'login')
  const form = await browser.get(idpUrl.href)
  let result = await browser.submitForm(form, { login: 'erin', password: 'erin-pass' })
  // Without JavaScript, the IdP's auto-submitting page is submitted by hand.
  for (let i = 0; i < 3 && /document\.forms\[0\]\.submit\(\)/.test(result.body); i++) result = await browser.submitForm(result, {})
  t.equal(result.status, 403)
  t.match(result.body, /signed in again as someone else/)
  t.equal(await stack.redis?.exists(stack.sessionKey(before)), 0, 'the session ended')
  t.match(auditEvents(stack, 'session.step_up').at(-1), { outcome: 'refused', reason: 'other_user' })
})
