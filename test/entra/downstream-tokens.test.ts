import t from 'tap'
import { decodeJwt } from 'jose'
import { policyDir } from '../helpers/policy-files.js'
import { GRAPH_AUDIENCE } from '../helpers/entra-standin.js'
import { startStack } from '../helpers/stack.js'
import { ALICE, API, HOME, USERS } from './fixtures.js'

const POLICY = `
routes:
  - name: profile
    match: { path: /profile/** }
    allow: authenticated
    downstream_token: { scopes: ["https://graph.microsoft.com/User.Read"], header: X-Gatehouse-Graph-Token }
  - name: mail
    match: { path: /mail/** }
    allow: authenticated
    downstream_token: { scopes: ["https://graph.microsoft.com/Mail.Read"], header: X-Gatehouse-Graph-Token }
  - name: calendar
    match: { path: /calendar/** }
    allow: authenticated
    downstream_token: { scopes: ["https://graph.microsoft.com/Calendars.Read"], header: X-Gatehouse-Graph-Token }
  - name: api
    match: { path: /api/** }
    allow: authenticated
    credentials: [bearer]
    downstream_token: { scopes: ["https://graph.microsoft.com/User.Read"], header: X-Gatehouse-Graph-Token }
  - name: api-mail
    match: { path: /api-mail/** }
    allow: authenticated
    credentials: [bearer]
    downstream_token: { scopes: ["https://graph.microsoft.com/Mail.Read"], header: X-Gatehouse-Graph-Token }
`

const now = (): number => Math.floor(Date.now() / 1000)

t.test('Entra ID: Graph tokens for a session (refresh token redeemed, incremental consent) and for a bearer caller (On-Behalf-Of)', async t => {
  const { file } = policyDir(t, POLICY)
  const stack = await startStack(t, {
    entra: { tenant: 'organizations', users: USERS },
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_ENTRA_ALLOWED_TENANTS: HOME, GATEHOUSE_BEARER_AUDIENCES: API },
  })
  const entra = stack.entra
  if (entra === undefined) throw new Error('no Entra stand-in')
  const header = (path: string): string => String(stack.app.requests.find(r => r.url === path)?.headers['x-gatehouse-graph-token'])

  const { browser } = await stack.signIn('alice', '/profile/me')
  const cookie = (): string => `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const seen = entra.resourceTokens.get(header('/profile/me'))
  t.same(seen, { aud: GRAPH_AUDIENCE, scp: 'User.Read', user: 'alice' }, 'a Graph token for User.Read, redeemed with the session\'s refresh token')
  t.match(decodeJwt(header('/profile/me')), { aud: GRAPH_AUDIENCE, oid: ALICE.oid, scp: 'User.Read' })

  const again = await fetch(`${stack.url}/profile/again`, { headers: { cookie: cookie(), accept: 'application/json', 'x-gatehouse-graph-token': 'forged' } })
  t.equal(again.status, 200)
  t.equal(header('/profile/again'), header('/profile/me'), 'reused, and the client\'s copy dropped')

  // Mail.Read was never consented to: AADSTS65001.
  const api = await fetch(`${stack.url}/mail/inbox`, { headers: { cookie: cookie(), accept: 'application/json' } })
  t.equal(api.status, 401)
  const body = await api.json() as { error: { code: string, login_url: string } }
  t.equal(body.error.code, 'GH_DOWNSTREAM_CONSENT_REQUIRED')
  t.equal(new URL(body.error.login_url).searchParams.get('scope'), 'https://graph.microsoft.com/Mail.Read')
  t.notOk(stack.app.requests.some(r => r.url === '/mail/inbox'), 'the upstream was not reached')

  const page = await browser.get(`${stack.url}/mail/inbox`)
  t.equal(page.status, 200)
  t.equal(new URL(page.url).pathname, '/mail/inbox', 'back where the person was going')
  const asked = new URL(page.history.map(h => h.url).find(u => u.includes('/auth?')) ?? 'http://x/')
  t.equal(asked.searchParams.get('scope'), 'openid profile email offline_access https://graph.microsoft.com/Mail.Read', 'signed in again asking for Mail.Read')
  t.same(entra.resourceTokens.get(header('/mail/inbox')), { aud: GRAPH_AUDIENCE, scp: 'Mail.Read', user: 'alice' })

  // Consent that does not take (the IdP signs in but still says AADSTS65001): one sign-in, then a page, never a loop.
  entra.idp.provider.on('authorization.success', () => { entra.consents.get('alice')?.delete('https://graph.microsoft.com/Calendars.Read') })
  const refused = await browser.get(`${stack.url}/calendar/today`)
  t.equal(refused.status, 401)
  t.equal(refused.history.filter(h => h.url.includes('/auth?')).length, 1, 'one sign-in asking for Calendars.Read')
  t.match(refused.body, /Sign in and consent/)
  t.notOk(stack.app.requests.some(r => r.url === '/calendar/today'))

  // A bearer caller: On-Behalf-Of.
  const userToken = await entra.sign({ iss: `${entra.url}/${HOME}/v2.0`, aud: API, tid: HOME, oid: ALICE.oid, sub: 'pairwise-alice', azp: 'f0000000-0000-4000-8000-0000000spa01', name: ALICE.name, preferred_username: ALICE.upn, scp: 'Reports.Read', roles: [], ver: '2.0', iat: now(), nbf: now(), exp: now() + 600 })
  const obo = await fetch(`${stack.url}/api/me`, { headers: { authorization: `Bearer ${userToken}`, accept: 'application/json' } })
  t.equal(obo.status, 200)
  t.same(entra.resourceTokens.get(header('/api/me')), { aud: GRAPH_AUDIENCE, scp: 'User.Read', user: 'alice' }, 'a Graph token On-Behalf-Of alice')
  t.not(header('/api/me'), header('/profile/me'))
  t.equal((await fetch(`${stack.url}/api/me2`, { headers: { authorization: `Bearer ${userToken}`, accept: 'application/json' } })).status, 200)
  t.equal(header('/api/me2'), header('/api/me'), 'the exchanged token is reused')

  entra.consents.get('alice')?.delete('https://graph.microsoft.com/Mail.Read')
  const noConsent = await fetch(`${stack.url}/api-mail/inbox`, { headers: { authorization: `Bearer ${userToken}`, accept: 'application/json' } })
  t.equal(noConsent.status, 401)
  t.match(noConsent.headers.get('www-authenticate'), /error="insufficient_scope"/)
  t.match(await noConsent.json(), { error: { code: 'GH_DOWNSTREAM_CONSENT_REQUIRED' } })
  t.notOk(stack.app.requests.some(r => r.url === '/api-mail/inbox'))
})
