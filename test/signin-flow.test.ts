import t from 'tap'
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import { Browser } from './helpers/browserless.js'
import { startStack } from './helpers/stack.js'

t.test('a browser navigation without a session is sent to the IdP with PKCE S256, state and nonce', async t => {
  const stack = await startStack(t)
  const res = await new Browser().request(`${stack.url}/reports?year=2026`, { followRedirects: false })
  t.equal(res.status, 302)
  const location = new URL(res.headers.get('location') ?? '')
  t.equal(location.origin, stack.idp.issuer)
  t.equal(location.searchParams.get('code_challenge_method'), 'S256')
  t.match(location.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/)
  t.ok(location.searchParams.get('state'))
  t.ok(location.searchParams.get('nonce'))
  t.equal(location.searchParams.get('redirect_uri'), `${stack.url}/.gatehouse/callback`)
  t.equal(location.searchParams.get('response_type'), 'code')
  t.equal(stack.app.requests.length, 0, 'the upstream was not reached')
})

t.test('sign-in creates a Redis session, lands on the first URL, and the upstream receives verifiable identity', async t => {
  const stack = await startStack(t)
  const { browser, page } = await stack.signIn('alice', '/reports/q3?view=full')
  t.equal(page.status, 200)
  t.equal(page.url, `${stack.url}/reports/q3?view=full`, 'landed on the URL first asked for')

  const cookie = stack.sessionCookie(browser)
  t.ok(cookie, 'session cookie set')
  const raw = page.history.map(h => h.url)
  t.ok(raw.some(u => u.startsWith(`${stack.url}/.gatehouse/callback`)), 'went through the callback')
  const key = stack.sessionKey(cookie ?? '')
  t.equal(await stack.redis?.exists(key), 1, 'the session key is in Redis')
  const ttl = await stack.redis?.pttl(key) ?? 0
  t.ok(ttl > 0, 'the session key expires')

  const res = await fetch(`${stack.url}/api/whoami`, { headers: { cookie: `${stack.gateway.cookies.session}=${cookie}`, accept: 'application/json' } })
  t.equal(res.status, 200)
  const seen = await res.json() as { headers: Record<string, string>, assertion: { valid: boolean } }
  t.equal(seen.headers['x-gatehouse-user'], 'alice')
  t.equal(seen.headers['x-gatehouse-email'], 'alice@example.test')
  t.equal(seen.headers['x-gatehouse-groups'], 'admins,staff')
  t.equal(seen.headers['x-gatehouse-roles'], 'App.Admin')
  t.equal(seen.assertion.valid, true, 'the upstream verified the assertion itself')

  const assertion = seen.headers['x-gatehouse-assertion'] ?? ''
  const jwks = createRemoteJWKSet(new URL(`${stack.url}/.gatehouse/jwks.json`))
  const { payload, protectedHeader } = await jwtVerify(assertion, jwks, { issuer: stack.url, audience: stack.app.url })
  t.equal(payload.sub, 'alice')
  t.same(payload.groups, ['admins', 'staff'])
  t.same(payload.roles, ['App.Admin'])
  t.equal(payload.email, 'alice@example.test')
  t.equal(payload.name, 'Alice Admin')
  t.equal(protectedHeader.alg, 'ES256')
  t.ok(protectedHeader.kid)
  const lifetime = (payload.exp ?? 0) - (payload.iat ?? 0)
  t.ok(lifetime > 0 && lifetime <= 60, `short-lived assertion (${lifetime}s)`)

  t.notOk(seen.headers.cookie?.includes(stack.gateway.cookies.session), 'the session cookie never reaches the upstream')
})

t.test('several tabs can sign in at once without cookies piling up', async t => {
  const stack = await startStack(t)
  const browser = new Browser()
  const paths = ['/a', '/b', '/c']
  // Three tabs open protected pages at once; all of them are sent to the IdP.
  const first = await browser.request(`${stack.url}${paths[0]}`, { followRedirects: false })
  const binding = browser.cookies(stack.url).get('gatehouse-signin')
  t.match(binding, /^[A-Za-z0-9_-]{43}$/, 'one binding cookie')
  const rest = await Promise.all(paths.slice(1).map(async p => await browser.request(`${stack.url}${p}`, { followRedirects: false })))
  const tabs = [first, ...rest]
  const states = new Set(tabs.map(p => new URL(p.headers.get('location') ?? '').searchParams.get('state')))
  t.equal(states.size, 3, 'each tab has its own state')
  t.equal(browser.cookies(stack.url).get('gatehouse-signin'), binding, 'later tabs reuse the same binding cookie')
  // Finish them in another order than they started: each lands on its own page.
  for (const i of [2, 0, 1]) {
    const tab = tabs[i]
    const location = tab?.headers.get('location') ?? ''
    const page = await browser.follow(await fetch(location, { redirect: 'manual' }), location)
    const landed = page.body.includes('name="password"') ? await browser.submitForm(page, { login: 'alice', password: 'alice-pass' }) : page
    t.equal(landed.url, `${stack.url}${paths[i] ?? ''}`, `tab ${paths[i] ?? ''} landed on its own page`)
    t.equal(landed.status, 200)
  }
  t.same([...browser.cookies(stack.url).keys()].filter(n => n.startsWith('gatehouse')).sort(), ['gatehouse', 'gatehouse-signin'], 'two gateway cookies in all')
})

t.test('API-style requests without a session get 401 JSON, never a redirect', async t => {
  const stack = await startStack(t)
  const cases: Array<[string, Record<string, string>]> = [
    ['Accept: application/json', { accept: 'application/json' }],
    ['XHR', { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' }],
    ['fetch() (Sec-Fetch-Mode: cors)', { accept: 'text/html' }],
    ['no Accept', {}],
  ]
  for (const [name, headers] of cases) {
    const res = await fetch(`${stack.url}/api/data`, { redirect: 'manual', headers })
    t.equal(res.status, 401, name)
    t.match(res.headers.get('www-authenticate'), /^Session realm="gatehouse", login_url="http:\/\/127\.0\.0\.1:\d+\/\.gatehouse\/login\?return=%2Fapi%2Fdata"$/, `${name}: WWW-Authenticate`)
    const body = await res.json() as { error: { code: string } }
    t.equal(body.error.code, 'GH_UNAUTHENTICATED', name)
  }
  const post = await fetch(`${stack.url}/form`, { method: 'POST', redirect: 'manual', headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' }, body: 'a=1' })
  t.equal(post.status, 401, 'a POST navigation is not redirected (it could not be replayed)')
  t.equal(stack.app.requests.length, 0, 'the upstream was not reached')
})

t.test('a callback whose state belongs to another browser is rejected with a clear page', async t => {
  const stack = await startStack(t)
  const attacker = new Browser()
  // The attacker starts a sign-in and stops at the IdP's redirect back, keeping the callback URL.
  const start = await attacker.request(`${stack.url}/`, { followRedirects: false })
  const loginPage = await attacker.follow(await fetch(start.headers.get('location') ?? '', { redirect: 'manual' }), start.headers.get('location') ?? '')
  const done = await attacker.submitForm(loginPage, { login: 'bob', password: 'bob-pass' })
  t.equal(done.status, 200)
  const callback = done.history.find(h => h.url.startsWith(`${stack.url}/.gatehouse/callback`))?.url
  t.ok(callback, 'saw the callback URL')

  const victim = new Browser()
  const page = await victim.get(callback ?? '')
  t.equal(page.status, 400)
  t.match(page.body, /This sign-in attempt is not valid/)
  t.match(page.body, /GH_SIGNIN_STATE_INVALID/)
  t.match(page.body, /Try again/)
  t.equal(stack.sessionCookie(victim), undefined, 'no session for the victim')
})

t.test('a replayed callback is rejected', async t => {
  const stack = await startStack(t)
  const { browser, page } = await stack.signIn('bob')
  t.equal(page.status, 200)
  const callback = page.history.find(h => h.url.startsWith(`${stack.url}/.gatehouse/callback`))?.url ?? ''
  const replay = await browser.get(callback)
  t.equal(replay.status, 400)
  t.match(replay.body, /already used/)
  t.match(replay.body, /GH_SIGNIN_STATE_REPLAYED/)
})

t.test('a state that was tampered with or expired is rejected', async t => {
  const stack = await startStack(t)
  const browser = new Browser()
  const start = await browser.request(`${stack.url}/`, { followRedirects: false })
  const state = new URL(start.headers.get('location') ?? '').searchParams.get('state') ?? ''
  const tampered = `${state.slice(0, -4)}AAAA`
  for (const s of [tampered, 'not-a-state', '']) {
    const page = await browser.get(`${stack.url}/.gatehouse/callback?code=abc&state=${encodeURIComponent(s)}`)
    t.equal(page.status, 400, `state ${JSON.stringify(s.slice(0, 12))}`)
    t.match(page.body, /GH_SIGNIN_STATE_INVALID/)
  }
})

t.test('the IdP refusing (user cancelled) shows the sign-in failed page with a way back', async t => {
  const stack = await startStack(t)
  const browser = new Browser()
  const loginPage = await browser.get(`${stack.url}/wanted/page`)
  const cancelled = await browser.submitForm(loginPage, {}, { button: 'Cancel' })
  t.equal(cancelled.status, 400, 'the browser brought a refusal: not a bad gateway')
  t.match(cancelled.body, /did not sign you in/)
  t.match(cancelled.body, /access_denied/)
  t.match(cancelled.body, /href="\/\.gatehouse\/login\?return=%2Fwanted%2Fpage"/, 'try again returns to the page first asked for')
})

t.test('an IdP error without plain words says "did not sign you in" once, and quotes the IdP', async t => {
  const stack = await startStack(t)
  const browser = new Browser()
  const start = await browser.request(`${stack.url}/wanted/page`, { followRedirects: false })
  const state = new URL(start.headers.get('location') ?? '').searchParams.get('state') ?? ''
  const page = await browser.get(`${stack.url}/.gatehouse/callback?error=invalid_request&error_description=${encodeURIComponent('unsupported prompt value requested')}&state=${encodeURIComponent(state)}`)
  t.equal(page.status, 400, "the browser brought the IdP's error: 400")
  t.equal(page.body.match(/did not sign you in/g)?.length, 1, 'the sentence appears once')
  t.match(page.body, /unsupported prompt value requested/)
  t.match(page.body, /invalid_request/)
})

t.test('"sign in as someone else" asks the IdP for an account choice only when its metadata announces it', async t => {
  const stack = await startStack(t)
  const res = await new Browser().request(`${stack.url}/.gatehouse/login?return=%2F&prompt=select_account`, { followRedirects: false })
  const location = new URL(res.headers.get('location') ?? '')
  t.equal(location.searchParams.get('prompt'), 'select_account', 'the development IdP announces select_account')
  const { browser } = await stack.signIn('bob')
  const choice = await browser.get(`${stack.url}/.gatehouse/login?return=%2F&prompt=select_account`)
  t.match(choice.body, /Continue as Bob Staff/, 'the IdP offers the account signed in, or another')
})

t.test('return URLs never lead off-site', async t => {
  const stack = await startStack(t)
  const hostile = ['//evil.example', '/\\evil.example', 'https://evil.example/', 'https:evil.example', '/%2F%2Fevil.example', '/%5Cevil.example', '//user@evil.example', '/\t/evil.example', 'javascript:alert(1)', '\\\\evil.example']
  for (const ret of hostile) {
    const browser = new Browser()
    const start = await browser.request(`${stack.url}/.gatehouse/login?return=${encodeURIComponent(ret)}`, { followRedirects: false })
    t.equal(start.status, 302, ret)
    const rest = await browser.follow(await fetch(start.headers.get('location') ?? '', { redirect: 'manual' }), start.headers.get('location') ?? '')
    const landed = await browser.submitForm(rest, { login: 'bob', password: 'bob-pass' })
    t.equal(landed.url, `${stack.url}/`, `${JSON.stringify(ret)} lands on / of the gateway`)
  }
})

t.test('sign-out deletes the Redis session, clears the cookie, ends the IdP session; the old cookie no longer works', async t => {
  const stack = await startStack(t)
  const { browser } = await stack.signIn('alice')
  const cookie = stack.sessionCookie(browser) ?? ''
  const key = stack.sessionKey(cookie)
  t.equal(await stack.redis?.exists(key), 1)

  const confirm = await browser.get(`${stack.url}/.gatehouse/logout`)
  t.equal(confirm.status, 200)
  t.match(confirm.body, /<form method="post" action="\/\.gatehouse\/logout">/)
  t.equal(await stack.redis?.exists(key), 1, 'a GET alone signs nobody out')

  const out = await browser.request(`${stack.url}/.gatehouse/logout`, { method: 'POST', followRedirects: false, headers: { origin: stack.url, 'sec-fetch-site': 'same-origin' } })
  t.equal(out.status, 303)
  const endSession = new URL(out.headers.get('location') ?? '')
  t.equal(endSession.origin, stack.idp.issuer, 'sent to the IdP end_session_endpoint')
  t.ok(endSession.searchParams.get('id_token_hint'), 'with id_token_hint')
  t.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${stack.url}/.gatehouse/signed-out`)
  t.equal(await stack.redis?.exists(key), 0, 'the Redis key is gone')
  t.equal(stack.sessionCookie(browser), undefined, 'the cookie is cleared')

  const reuse = await fetch(`${stack.url}/api/x`, { headers: { cookie: `${stack.gateway.cookies.session}=${cookie}`, accept: 'application/json' } })
  t.equal(reuse.status, 401, 'the old cookie no longer works')

  const idpPage = await browser.get(endSession.href)
  t.notMatch(idpPage.body, /Do you want to sign out/, 'the IdP does not ask a second time')
  // The IdP's page sends its own form (JavaScript); sent by hand here.
  const signedOut = await browser.submitForm(idpPage, {})
  t.equal(signedOut.url, `${stack.url}/.gatehouse/signed-out`)
  t.match(signedOut.body, /You are signed out/)
  // The IdP session is over too: a new visit asks for the password again.
  const again = await browser.get(`${stack.url}/`)
  t.match(again.body, /name="password"/, 'the IdP asks for the password again')
})

t.test('sign-out refuses a cross-site POST', async t => {
  const stack = await startStack(t)
  const { browser } = await stack.signIn('alice')
  const cookie = stack.sessionCookie(browser) ?? ''
  const crossSite: Array<Record<string, string>> = [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }]
  for (const headers of crossSite) {
    const res = await fetch(`${stack.url}/.gatehouse/logout`, { method: 'POST', redirect: 'manual', headers: { ...headers, cookie: `${stack.gateway.cookies.session}=${cookie}`, accept: 'application/json' } })
    t.equal(res.status, 403)
    t.equal((await res.json() as { error: { code: string } }).error.code, 'GH_CROSS_SITE')
  }
  t.equal(await stack.redis?.exists(stack.sessionKey(cookie)), 1, 'still signed in')
})

t.test('the session id is renewed at sign-in (no fixation)', async t => {
  const stack = await startStack(t)
  const first = await stack.signIn('bob')
  const before = stack.sessionCookie(first.browser)
  // Signing in again in the same browser yields a new session id; the old one is gone.
  const again = await first.browser.get(`${stack.url}/.gatehouse/login?return=/`)
  t.equal(again.status, 200)
  const after = stack.sessionCookie(first.browser)
  t.ok(before !== undefined && after !== undefined)
  t.not(after, before)
  t.equal(await stack.redis?.exists(stack.sessionKey(before ?? '')), 0, 'the old session was deleted')
  t.equal(decodeJwt((await (await fetch(`${stack.url}/api/x`, { headers: { cookie: `${stack.gateway.cookies.session}=${after}`, accept: 'application/json' } })).json() as { headers: Record<string, string> }).headers['x-gatehouse-assertion'] ?? '').sub, 'bob')
})
