import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startDevIdp } from '../../src/devidp/provider.js'
import { SigninStateCodec } from '../../src/signin/signin-state.js'
import { ATTACK_USERS, startAttackStack } from '../helpers/attack-stack.js'
import { Browser } from '../helpers/browserless.js'
import { forgeIdTokens, idpCallback } from '../helpers/signin-steps.js'

/**
 * Attacks on the sign-in flow: callbacks without or with someone else's
 * state, states sealed elsewhere or expired, replayed callbacks and codes,
 * codes from another tab, another client or another IdP (mix-up), a foreign
 * `iss`, an ID token with another nonce or for another client, and IdP error
 * responses carrying markup. Each one is refused with the sign-in failed
 * page and its code, no session is created, an audit event says why, and
 * the page the sign-in was for is not reached.
 */
const POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: landing
    match: { path: /landing/** }
    upstream: app
    allow: authenticated
`

const OTHER_CALLBACK = 'http://127.0.0.1:9/other/callback'

t.test('sign-in flow attacks', async t => {
  const s = await startAttackStack(t, POLICY, { extraClients: [{ client_id: 'other-app', client_secret: 'other-secret', redirect_uris: [OTHER_CALLBACK] }] })
  const { stack } = s
  const callback = `${stack.url}/.gatehouse/callback`
  const bob = { user: 'bob', password: 'bob-pass' }
  const mixup = await startDevIdp({ users: ATTACK_USERS, clients: [{ client_id: stack.clientId, client_secret: stack.clientSecret, redirect_uris: [callback] }] })
  t.teardown(() => mixup.close())
  const forge = forgeIdTokens(stack.idp)
  const secret = stack.env.GATEHOUSE_SESSION_SECRET ?? ''

  /** A browser's sign-in as far as the IdP's authorization URL; returns it and its state. */
  const begin = async (browser: Browser, landing: string): Promise<{ authorize: string, state: string }> => {
    const res = await browser.request(`${stack.url}/.gatehouse/login?return=${encodeURIComponent(landing)}`, { followRedirects: false })
    const authorize = res.headers.get('location') ?? ''
    return { authorize, state: new URL(authorize).searchParams.get('state') ?? '' }
  }
  /** A browser's sign-in through the IdP, stopped before the gateway's callback. */
  const throughIdp = async (browser: Browser, landing: string): Promise<string> => await idpCallback(browser, `${stack.url}/.gatehouse/login?return=${encodeURIComponent(landing)}`, callback, bob)
  const withParams = (url: string, change: Record<string, string | null>): string => {
    const u = new URL(url)
    for (const [k, v] of Object.entries(change)) {
      if (v === null) u.searchParams.delete(k)
      else u.searchParams.set(k, v)
    }
    return u.href
  }
  const binding = (browser: Browser): string => browser.cookies(stack.url).get(stack.gateway.cookies.signin) ?? ''

  // [case, builds the callback to send and the browser that sends it, status, code, why (the audit event's detail)]
  const cases: Array<[string, (landing: string) => Promise<{ browser: Browser, url: string }>, number, string, RegExp]> = [
    ['no state', async () => ({ browser: new Browser(), url: `${callback}?code=abc` }), 400, 'GH_SIGNIN_STATE_INVALID', /callback without code or state/],
    ['an empty state', async () => ({ browser: new Browser(), url: `${callback}?code=abc&state=` }), 400, 'GH_SIGNIN_STATE_INVALID', /cannot be decrypted/],
    ['no code', async (landing) => {
      const browser = new Browser()
      const { state } = await begin(browser, landing)
      return { browser, url: `${callback}?state=${encodeURIComponent(state)}` }
    }, 400, 'GH_SIGNIN_STATE_INVALID', /callback without code or state/],
    ['a state from another browser (login CSRF)', async (landing) => {
      const url = await throughIdp(new Browser(), landing)
      return { browser: new Browser(), url }
    }, 400, 'GH_SIGNIN_STATE_INVALID', /no sign-in cookie/],
    ['the sign-in cookie emptied', async (landing) => {
      const browser = new Browser()
      const url = await throughIdp(browser, landing)
      browser.setCookie(stack.url, stack.gateway.cookies.signin, '')
      return { browser, url }
    }, 400, 'GH_SIGNIN_STATE_INVALID', /belongs to another browser/],
    ['the sign-in cookie replaced by another well-formed value', async (landing) => {
      const browser = new Browser()
      const url = await throughIdp(browser, landing)
      browser.setCookie(stack.url, stack.gateway.cookies.signin, SigninStateCodec.newBinding())
      return { browser, url }
    }, 400, 'GH_SIGNIN_STATE_INVALID', /belongs to another browser/],
    ['a state sealed with another gateway\'s secret', async (landing) => {
      const browser = new Browser()
      await begin(browser, landing)
      const { state } = await new SigninStateCodec(randomBytes(32).toString('hex')).create(binding(browser), landing)
      return { browser, url: `${callback}?code=abc&state=${state}` }
    }, 400, 'GH_SIGNIN_STATE_INVALID', /cannot be decrypted/],
    ['an expired state', async (landing) => {
      const browser = new Browser()
      await begin(browser, landing)
      const { state } = await new SigninStateCodec(secret).create(binding(browser), landing, Date.now() - 11 * 60_000)
      return { browser, url: `${callback}?code=abc&state=${state}` }
    }, 400, 'GH_SIGNIN_STATE_INVALID', /expired/],
    ['a state with one character changed', async (landing) => {
      const browser = new Browser()
      const url = await throughIdp(browser, landing)
      const state = new URL(url).searchParams.get('state') ?? ''
      const i = Math.floor(state.length / 2)
      return { browser, url: withParams(url, { state: `${state.slice(0, i)}${state[i] === 'A' ? 'B' : 'A'}${state.slice(i + 1)}` }) }
    }, 400, 'GH_SIGNIN_STATE_INVALID', /cannot be decrypted/],
    ['one tab\'s state with another tab\'s code', async (landing) => {
      const browser = new Browser()
      const first = await throughIdp(browser, landing)
      const second = await throughIdp(browser, `${landing}/other-tab`)
      return { browser, url: withParams(first, { code: new URL(second).searchParams.get('code') }) }
    }, 400, 'GH_SIGNIN_CALLBACK_REFUSED', /invalid_grant/],
    ['an intercepted code with the attacker\'s own state', async (landing) => {
      const stolen = new URL(await throughIdp(new Browser(), landing)).searchParams.get('code') ?? ''
      const attacker = new Browser()
      const { state } = await begin(attacker, landing)
      return { browser: attacker, url: `${callback}?code=${encodeURIComponent(stolen)}&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(stack.idp.issuer)}` }
    }, 400, 'GH_SIGNIN_CALLBACK_REFUSED', /invalid_grant/],
    ['a code already spent, with a fresh state', async (landing) => {
      const victim = new Browser()
      const used = await throughIdp(victim, landing)
      const done = await victim.request(used, { followRedirects: false })
      if (done.status !== 303) throw new Error(`the victim's own sign-in did not complete: ${done.status}`)
      const attacker = new Browser()
      const { state } = await begin(attacker, landing)
      return { browser: attacker, url: `${callback}?code=${encodeURIComponent(new URL(used).searchParams.get('code') ?? '')}&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(stack.idp.issuer)}` }
    }, 400, 'GH_SIGNIN_CALLBACK_REFUSED', /invalid_grant/],
    ['a code issued to another client of the same IdP', async (landing) => {
      const attacker = new Browser()
      const authorize = new URL(`${stack.idp.issuer}/auth`)
      for (const [k, v] of Object.entries({ client_id: 'other-app', redirect_uri: OTHER_CALLBACK, response_type: 'code', scope: 'openid', state: 'x', nonce: 'n', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })) authorize.searchParams.set(k, v)
      const other = await idpCallback(attacker, authorize.href, OTHER_CALLBACK, bob)
      const { state } = await begin(attacker, landing)
      return { browser: attacker, url: `${callback}?code=${encodeURIComponent(new URL(other).searchParams.get('code') ?? '')}&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(stack.idp.issuer)}` }
    }, 400, 'GH_SIGNIN_CALLBACK_REFUSED', /invalid_grant/],
    ['mix-up: the sign-in sent to another IdP, which answers with its own iss', async (landing) => {
      const browser = new Browser()
      const { authorize } = await begin(browser, landing)
      const url = await idpCallback(browser, authorize.replace(stack.idp.issuer, mixup.issuer), callback, bob)
      return { browser, url }
    }, 400, 'GH_SIGNIN_CALLBACK_REFUSED', /unexpected "iss"/],
    ['mix-up: the other IdP\'s answer without iss', async (landing) => {
      const browser = new Browser()
      const { authorize } = await begin(browser, landing)
      const url = await idpCallback(browser, authorize.replace(stack.idp.issuer, mixup.issuer), callback, bob)
      return { browser, url: withParams(url, { iss: null }) }
    }, 400, 'GH_SIGNIN_CALLBACK_REFUSED', /"iss" \(issuer\) missing/],
    ['mix-up: the genuine answer with another IdP\'s iss', async (landing) => {
      const browser = new Browser()
      const url = await throughIdp(browser, landing)
      return { browser, url: withParams(url, { iss: mixup.issuer }) }
    }, 400, 'GH_SIGNIN_CALLBACK_REFUSED', /unexpected "iss"/],
    ['an ID token with another nonce', async (landing) => {
      forge.set(async (_token, { header, payload }) => await stack.idp.signJwt({ ...payload, nonce: 'attacker-nonce' }, { kid: header.kid }))
      const browser = new Browser()
      return { browser, url: await throughIdp(browser, landing) }
    }, 502, 'GH_SIGNIN_FAILED', /"nonce" claim value/],
    ['an ID token without a nonce', async (landing) => {
      forge.set(async (_token, { header, payload }) => await stack.idp.signJwt({ ...payload, nonce: undefined }, { kid: header.kid }))
      const browser = new Browser()
      return { browser, url: await throughIdp(browser, landing) }
    }, 502, 'GH_SIGNIN_FAILED', /"nonce" \(nonce\) claim missing/],
    ['an ID token issued to another client', async (landing) => {
      forge.set(async (_token, { header, payload }) => await stack.idp.signJwt({ ...payload, aud: 'other-app', azp: 'other-app' }, { kid: header.kid }))
      const browser = new Browser()
      return { browser, url: await throughIdp(browser, landing) }
    }, 502, 'GH_SIGNIN_FAILED', /"aud" \(audience\)/],
  ]

  for (const [name, build, status, code, reason] of cases) {
    t.test(name, async t => {
      const landing = `/landing/${randomBytes(4).toString('hex')}`
      const failures = stack.logs.records().filter(r => r.event === 'signin.failure').length
      const { browser, url } = await build(landing)
      const res = await browser.request(url, { followRedirects: false }).finally(() => { forge.set(undefined) })
      t.equal(res.status, status)
      t.match(res.body, code)
      t.equal(stack.sessionCookie(browser), undefined, 'no session')
      const audited = stack.logs.records().filter(r => r.event === 'signin.failure')
      t.equal(audited.length, failures + 1, 'one signin.failure audit event')
      t.match(audited.at(-1)?.detail, reason, 'refused for this reason (the detail; the reason is the error code)')
      t.equal(audited.at(-1)?.reason, code, 'the audit event names the error code')
      if (status === 400) t.match(res.body, /Try again/, 'the sign-in-failed page, with a way to try again')
      const after = await fetch(`${stack.url}${landing}`, { headers: { accept: 'application/json', cookie: [...browser.cookies(stack.url)].map(([k, v]) => `${k}=${v}`).join('; ') } })
      t.equal(after.status, 401, 'the page the sign-in was for is still closed')
      t.notOk(s.up.seen.some(r => r.url.startsWith(landing)), 'the upstream was not reached')
    })
  }

  t.test('the same callback twice', async t => {
    const browser = new Browser()
    const url = await throughIdp(browser, '/landing/twice')
    const first = await browser.request(url, { followRedirects: false })
    t.equal(first.status, 303, 'the first one signs in')
    const session = stack.sessionCookie(browser)
    const again = await browser.request(url, { followRedirects: false })
    t.equal(again.status, 400)
    t.match(again.body, 'GH_SIGNIN_STATE_REPLAYED')
    t.equal(stack.sessionCookie(browser), session, 'the replay changed nothing')
  })

  t.test('IdP error responses', async t => {
    // [case, builds the callback, text that must be on the page, text that must not]
    const cases: Array<[string, () => Promise<{ browser: Browser, url: string }>, string[], string[]]> = [
      ['for this browser\'s sign-in: the IdP\'s words, escaped', async () => {
        const browser = new Browser()
        const { state } = await begin(browser, '/landing/x')
        return { browser, url: `${callback}?error=access_denied&error_description=${encodeURIComponent('<b>Call +1 555 0100</b>')}&state=${encodeURIComponent(state)}` }
      }, ['&lt;b&gt;Call +1 555 0100&lt;/b&gt;', 'access_denied'], ['<b>Call']],
      ['with another browser\'s state: not the IdP\'s words', async () => {
        const { state } = await begin(new Browser(), '/landing/x')
        return { browser: new Browser(), url: `${callback}?error=access_denied&error_description=${encodeURIComponent('Call +1 555 0100 to restore access')}&state=${encodeURIComponent(state)}` }
      }, ['GH_SIGNIN_IDP_ERROR'], ['555 0100']],
      ['markup in the error code', async () => ({ browser: new Browser(), url: `${callback}?error=${encodeURIComponent('<script>alert(1)</script>')}&state=x` })
      , ['GH_SIGNIN_IDP_ERROR'], ['<script>alert']],
    ]
    for (const [name, build, present, absent] of cases) {
      t.test(name, async t => {
        const { browser, url } = await build()
        const res = await browser.request(url, { followRedirects: false })
        t.equal(res.status, 400, 'the browser\'s request, not a bad gateway')
        for (const text of present) t.match(res.body, text)
        for (const text of absent) t.notMatch(res.body, text)
        t.equal(stack.sessionCookie(browser), undefined, 'no session')
      })
    }
  })
})
