import t, { type Test } from 'tap'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { decodeJwt } from 'jose'
import { DEMO_USERS, type DevUser } from '../src/devidp/provider.js'
import type { Page } from './helpers/browserless.js'
import { policyDir } from './helpers/policy-files.js'
import { startStack, type Stack } from './helpers/stack.js'

const ERIN: DevUser = { id: 'erin', password: 'erin-pass', name: 'Erin Stepup', email: 'erin@example.test', groups: ['staff'], roles: [], amr: ['pwd'], stepUpCode: '246810' }
const USERS = [...DEMO_USERS, ERIN]
const MFA_ACR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor'
const b64 = (text: string): string => Buffer.from(text).toString('base64')
// An Entra-style claims challenge asking for authentication context c1 (the dev IdP asks for the second factor).
const CLAIMS = { id_token: { acrs: { essential: true, value: 'c1' } } }
const CHALLENGES: Readonly<Record<string, string>> = {
  acr: `Bearer realm="app", error="insufficient_user_authentication", error_description="MFA please", acr_values="${MFA_ACR}"`,
  claims: `Bearer realm="", error="insufficient_claims", claims="${b64(JSON.stringify(CLAIMS))}"`,
  'not-base64': 'Bearer error="insufficient_claims", claims="<script>alert(1)</script>"',
  'not-json': `Bearer error="insufficient_claims", claims="${b64('<script>alert(1)</script>')}"`,
  'not-object': `Bearer error="insufficient_claims", claims="${b64('["x"]')}"`,
  'too-long': `Bearer error="insufficient_claims", claims="${b64(JSON.stringify({ id_token: { x: 'a'.repeat(5000) } }))}"`,
}

const POLICY = `
routes:
  - name: plain
    match: { path: /plain/** }
    allow: authenticated
  - name: open
    match: { path: /open/** }
    allow: anyone
    step_up_from_upstream: true
  - name: app
    match: { path: /** }
    allow: authenticated
    step_up_from_upstream: true
`

/**
 * The application: /{kind}/... answers 401 with the challenge named by
 * `kind` until the assertion shows a multi-factor sign-in; /always/... with
 * the claims challenge whatever the sign-in; everything else 200.
 */
async function startApp (t: Test): Promise<{ url: string }> {
  const server = createServer((req, res) => {
    const kind = (req.url ?? '/').split('/')[1] ?? ''
    const assertion = req.headers['x-gatehouse-assertion']
    const amr = typeof assertion === 'string' ? decodeJwt(assertion).amr : undefined
    const stepped = Array.isArray(amr) && amr.includes('mfa')
    const challenge = kind === 'always' || kind === 'plain' || kind === 'open' ? CHALLENGES.claims : CHALLENGES[kind]
    if (challenge !== undefined && (kind === 'always' || kind === 'plain' || kind === 'open' || !stepped)) return unauthorized(res, challenge)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ app: 'ok', url: req.url }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

function unauthorized (res: ServerResponse, challenge: string): void {
  res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'text/plain', 'x-app': 'said-no' })
  res.end('the application says: sign in better')
}

async function appStack (t: Test): Promise<Stack> {
  const app = await startApp(t)
  const { file } = policyDir(t, POLICY)
  return await startStack(t, { users: USERS, env: { GATEHOUSE_POLICIES: file, GATEHOUSE_UPSTREAM_URL: app.url } })
}

function idpTrips (page: Page, stack: Stack): number {
  return page.history.filter(h => h.url.startsWith(`${stack.idp.issuer}/auth`)).length
}

function logLines (stack: Stack): Array<Record<string, unknown>> {
  return stack.logs.lines.map(l => JSON.parse(l) as Record<string, unknown>)
}

function stepUpEvents (stack: Stack): Array<Record<string, unknown>> {
  return logLines(stack).filter(l => l.audit === true && l.event === 'session.step_up')
}

async function api (stack: Stack, cookie: string, path: string): Promise<Response> {
  return await fetch(`${stack.url}${path}`, { headers: { cookie: `${stack.gateway.cookies.session}=${cookie}`, accept: 'application/json' } })
}

t.test('RFC 9470 challenge: a navigation goes to the IdP with the acr values and comes back to the URL, which the app then answers', async t => {
  const stack = await appStack(t)
  const { browser } = await stack.signIn('erin', '/')
  const first = await browser.request(`${stack.url}/acr/report?x=1`, { followRedirects: false })
  t.equal(first.status, 302, 'the app\'s 401 became a step-up')
  const location = new URL(first.headers.get('location') ?? '')
  t.equal(location.origin, stack.idp.issuer)
  t.equal(location.searchParams.get('acr_values'), MFA_ACR)
  t.equal(first.headers.get('x-app'), null, 'none of the app\'s headers are on the redirect')

  const login = await browser.get(location.href)
  const landed = await browser.submitForm(login, { login: 'erin', password: 'erin-pass', code: '246810' })
  t.equal(landed.url, `${stack.url}/acr/report?x=1`, 'back on the URL first asked for')
  t.equal(landed.status, 200)
  t.match(JSON.parse(landed.body), { app: 'ok' })
  const events = stepUpEvents(stack)
  t.match(events[0], { outcome: 'requested', source: 'upstream:default', route: 'app', upstream: 'default', reason: 'insufficient_user_authentication', user: 'erin' })
  t.equal(events.length, 2, 'requested, then the sign-in that came back')
})

t.test('claims challenge: the IdP is asked with the claims parameter, and the stepped-up session passes', async t => {
  const stack = await appStack(t)
  const { browser } = await stack.signIn('erin', '/')
  const first = await browser.request(`${stack.url}/claims/doc`, { followRedirects: false })
  t.equal(first.status, 302)
  const location = new URL(first.headers.get('location') ?? '')
  t.same(JSON.parse(location.searchParams.get('claims') ?? ''), CLAIMS, 'the claims the app asked for, as JSON')
  const login = await browser.get(location.href)
  const landed = await browser.submitForm(login, { login: 'erin', password: 'erin-pass', code: '246810' })
  t.equal(landed.url, `${stack.url}/claims/doc`)
  t.equal(landed.status, 200)
  t.match(stepUpEvents(stack)[0], { outcome: 'requested', reason: 'insufficient_claims', required: 'the claims the application asked for' })
})

t.test('an API request gets 401 GH_STEP_UP_REQUIRED with a login_url that performs the step-up', async t => {
  const stack = await appStack(t)
  const { browser } = await stack.signIn('erin', '/')
  const res = await api(stack, stack.sessionCookie(browser) ?? '', '/claims/data')
  t.equal(res.status, 401)
  t.match(res.headers.get('www-authenticate'), /^Session realm="gatehouse", error="insufficient_user_authentication", login_url="/)
  t.equal(res.headers.get('x-app'), null)
  const body = await res.json() as { error: { code: string, login_url: string, required: Record<string, unknown> } }
  t.equal(body.error.code, 'GH_STEP_UP_REQUIRED')
  t.same(body.error.required, { claims: CLAIMS })
  const loginUrl = new URL(body.error.login_url)
  t.equal(loginUrl.searchParams.get('return'), '/claims/data')
  t.same(JSON.parse(Buffer.from(loginUrl.searchParams.get('claims') ?? '', 'base64url').toString()), CLAIMS)

  const login = await browser.get(loginUrl.href)
  const landed = await browser.submitForm(login, { login: 'erin', password: 'erin-pass', code: '246810' })
  t.equal(landed.url, `${stack.url}/claims/data`)
  t.equal(landed.status, 200, 'the login_url stepped the session up')
})

t.test('the app asks again right after the step-up: its 401 goes to the client, no second trip', async t => {
  const stack = await appStack(t)
  const { browser } = await stack.signIn('erin', '/')
  const login = await browser.get(`${stack.url}/always/x`)
  t.equal(idpTrips(login, stack), 1, 'sent to the IdP once')
  const page = await browser.submitForm(login, { login: 'erin', password: 'erin-pass', code: '246810' })
  t.equal(page.url, `${stack.url}/always/x`)
  t.equal(stepUpEvents(stack).filter(e => e.outcome === 'requested').length, 1, 'one step-up asked for, not a second')
  t.equal(page.status, 401)
  t.equal(page.body, 'the application says: sign in better')
  t.equal(page.headers.get('www-authenticate'), CHALLENGES.claims)
  t.match(logLines(stack).filter(l => l.event === 'upstream.challenge_repeated'), [{ route: 'app', upstream: 'default' }])
})

t.test('passed through unchanged: a route without the option, a request without a session', async t => {
  const stack = await appStack(t)
  const { browser } = await stack.signIn('erin', '/')
  const plain = await browser.request(`${stack.url}/plain/x`, { followRedirects: false })
  t.equal(plain.status, 401)
  t.equal(plain.headers.get('www-authenticate'), CHALLENGES.claims)
  t.equal(plain.headers.get('x-app'), 'said-no')
  t.equal(plain.body, 'the application says: sign in better')

  const anonymous = await fetch(`${stack.url}/open/x`, { redirect: 'manual', headers: { accept: 'text/html' } })
  t.equal(anonymous.status, 401, 'no session: the app\'s answer')
  t.equal(anonymous.headers.get('www-authenticate'), CHALLENGES.claims)
  t.equal(await anonymous.text(), 'the application says: sign in better')
  t.equal(stepUpEvents(stack).length, 0)
})

t.test('claims that are not base64 of a JSON object of at most 4 KiB: the 401 is passed on, a warning logged, never a redirect', async t => {
  const stack = await appStack(t)
  const { browser } = await stack.signIn('erin', '/')
  for (const kind of ['not-base64', 'not-json', 'not-object', 'too-long']) {
    const res = await browser.request(`${stack.url}/${kind}/x`, { followRedirects: false })
    t.equal(res.status, 401, kind)
    t.equal(res.headers.get('location'), null)
    t.equal(res.headers.get('www-authenticate'), CHALLENGES[kind], `${kind}: the app's challenge as it was`)
  }
  const warnings = logLines(stack).filter(l => l.event === 'upstream.challenge_invalid')
  t.same(warnings.map(w => w.problem), ['claims is not base64', 'claims is not JSON', 'claims is not a JSON object', 'claims longer than 4096 bytes'])
  t.notMatch(JSON.stringify(warnings), /script/, 'the app\'s text is not logged')
  t.equal(stepUpEvents(stack).length, 0)
})
