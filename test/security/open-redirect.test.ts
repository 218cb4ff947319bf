import t from 'tap'
import { startAttackStack } from '../helpers/attack-stack.js'
import { Browser } from '../helpers/browserless.js'
import { rawRequest } from '../helpers/raw-http.js'
import { idpCallback } from '../helpers/signin-steps.js'

/**
 * Open redirects: every place the gateway sends a browser after sign-in or
 * sign-out, fed every spelling of "somewhere else" (`//host`, `/\host`,
 * `https:host`, encoded, control characters, userinfo, schemes), and a Host
 * header naming another site. A browser that follows every redirect only
 * ever visits the gateway and the IdP, and lands on the gateway.
 */
const POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: admin
    match: { path: /admin/** }
    upstream: app
    allow: [{ groups: [admins] }]
  - name: everything
    match: { path: /** }
    upstream: app
    allow: authenticated
`

t.test('open redirects', async t => {
  const s = await startAttackStack(t, POLICY)
  const { stack } = s
  const gateway = new URL(stack.url).origin
  const idp = new URL(stack.idp.issuer).origin
  const port = Number(new URL(stack.url).port)
  // One browser, signed in at the IdP once: later sign-ins go through without a form.
  const { browser } = await stack.signIn('bob', '/.gatehouse/login?return=/first')

  /** Follows redirects by hand, refusing to leave the gateway and the IdP; returns where it stopped. */
  const walk = async (start: string, from: Browser = browser): Promise<{ landed: string, status: number, visited: string[] }> => {
    const visited: string[] = []
    let url = start
    for (let hops = 0; hops < 15; hops++) {
      visited.push(url)
      if (![gateway, idp].includes(new URL(url).origin)) return { landed: url, status: 0, visited }
      const res = await from.request(url, { followRedirects: false })
      const location = res.headers.get('location')
      if (res.status < 300 || res.status >= 400 || location === null) return { landed: url, status: res.status, visited }
      url = new URL(location, url).href
    }
    throw new Error(`too many redirects from ${start}`)
  }

  t.test('return after sign-in', async t => {
    // [case, return value, where the browser lands: a path on the gateway, or undefined for "somewhere on the gateway"]
    const cases: Array<[string, string, string | undefined]> = [
      ['network-path reference', '//evil.example', '/'],
      ['three slashes', '///evil.example', '/'],
      ['four slashes', '////evil.example/', '/'],
      ['slash backslash', '/\\evil.example', '/'],
      ['slash backslash slash', '/\\/evil.example', '/'],
      ['backslash slash', '\\/evil.example', '/'],
      ['two backslashes', '\\\\evil.example', '/'],
      ['absolute https', 'https://evil.example/', '/'],
      ['absolute in capitals', 'HTTPS://EVIL.EXAMPLE/', '/'],
      ['scheme without slashes', 'https:evil.example', '/'],
      ['scheme with one slash', 'https:/evil.example', '/'],
      ['encoded slashes', '/%2F%2Fevil.example', '/'],
      ['encoded slashes, lower case', '/%2f%2fevil.example', '/'],
      ['encoded backslash', '/%5Cevil.example', '/'],
      ['encoded backslashes', '/%5c%5cevil.example', '/'],
      ['wholly encoded', '%2F%2Fevil.example', '/'],
      ['a tab between the slashes', '/\t/evil.example', '/'],
      ['an encoded tab between the slashes', '/%09/evil.example', '/'],
      ['CR LF between the slashes', '/\r\n/evil.example', '/'],
      ['an encoded NUL', '/%00/evil.example', '/'],
      ['userinfo', '//user@evil.example', '/'],
      ['userinfo with a password', '//user:pass@evil.example', '/'],
      ['the gateway as userinfo', `//127.0.0.1:${port}@evil.example`, '/'],
      ['the gateway\'s origin as a prefix of another host', `http://127.0.0.1:${port}.evil.example/`, '/'],
      ['a leading space', ' //evil.example', '/'],
      ['javascript:', 'javascript:alert(1)', '/'],
      ['javascript: in mixed case', 'JaVaScRiPt:alert(1)', '/'],
      ['data:', 'data:text/html,<script>alert(1)</script>', '/'],
      ['dot then two slashes (a path on the gateway)', '/.//evil.example', undefined],
      ['dot-dot then two slashes (a path on the gateway)', '/..//evil.example', undefined],
      ['an at sign in the path', '/@evil.example', '/@evil.example'],
      ['an ideographic full stop', '//evil%E3%80%82example', '/'],
      ['an ordinary path with a query', '/reports?year=2026&q=a%2Fb', '/reports?year=2026&q=a%2Fb'],
      ['dot segments resolve on the gateway', '/a/b/../c', '/a/c'],
    ]
    for (const [name, value, expected] of cases) {
      t.test(`${name}: ${JSON.stringify(value)}`, async t => {
        const { landed, status, visited } = await walk(`${stack.url}/.gatehouse/login?return=${encodeURIComponent(value)}`)
        t.equal(new URL(landed).origin, gateway, `landed on the gateway (visited ${visited.map(v => new URL(v).origin).join(' -> ')})`)
        t.equal(status, 200)
        if (expected !== undefined) t.equal(landed, `${stack.url}${expected}`)
        t.notOk(visited.some(v => v.includes('evil.example') && new URL(v).host.includes('evil')), 'never visited another host')
      })
    }
  })

  t.test('a protected navigation to a path that looks like a host', async t => {
    const fresh = new Browser()
    await stack.signIn('bob', '/.gatehouse/login?return=/first', fresh)
    const target = `${stack.url}//evil.example/x`
    fresh.setCookie(stack.url, stack.gateway.cookies.session, '')
    const { landed, status } = await walk(target, fresh)
    t.equal(status, 200)
    t.equal(landed, `${stack.url}/evil.example/x`, 'lands on the canonical path, on the gateway')
  })

  t.test('a Host header naming another site changes no redirect', async t => {
    const cases: Array<[string, string]> = [
      ['Host', 'Host: evil.example'],
      ['X-Forwarded-Host', `Host: 127.0.0.1:${port}\r\nX-Forwarded-Host: evil.example`],
      ['Forwarded', `Host: 127.0.0.1:${port}\r\nForwarded: host=evil.example`],
    ]
    for (const [name, hostLines] of cases) {
      t.test(`sign-in redirect, ${name}`, async t => {
        const res = await rawRequest(port, `GET /reports HTTP/1.1\r\n${hostLines}\r\nAccept: text/html\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n`)
        t.equal(res.status, 302)
        const location = new URL(/\r\nlocation: ([^\r\n]+)/i.exec(res.head)?.[1] ?? '')
        t.equal(location.origin, idp, 'to the IdP')
        t.equal(location.searchParams.get('redirect_uri'), `${stack.url}/.gatehouse/callback`, 'coming back to public_url')
      })
      t.test(`401 login_url, ${name}`, async t => {
        const res = await rawRequest(port, `GET /reports HTTP/1.1\r\n${hostLines}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`)
        t.equal(res.status, 401)
        t.match(res.body, `"login_url":"${stack.url}/.gatehouse/login?return=%2Freports"`)
        t.match(res.head, new RegExp(`login_url="${stack.url.replaceAll('.', '\\.')}/`))
      })
      t.test(`after the callback, ${name}`, async t => {
        const fresh = new Browser()
        const callback = await idpCallback(fresh, `${stack.url}/.gatehouse/login?return=%2Flanded`, `${stack.url}/.gatehouse/callback`, { user: 'bob', password: 'bob-pass' })
        const cookies = [...fresh.cookies(stack.url)].map(([k, v]) => `${k}=${v}`).join('; ')
        const target = new URL(callback)
        const res = await rawRequest(port, `GET ${target.pathname}${target.search} HTTP/1.1\r\n${hostLines}\r\nCookie: ${cookies}\r\nConnection: close\r\n\r\n`)
        t.equal(res.status, 303)
        t.match(res.head, new RegExp(`\\r\\nlocation: ${stack.url.replaceAll('.', '\\.')}/landed\\r\\n`, 'i'), 'to public_url')
      })
    }
  })

  t.test('links on the gateway\'s pages stay on the gateway', async t => {
    const hrefsOf = (html: string): string[] => [...html.matchAll(/(?:href|action)="([^"]*)"/g)].map(m => (m[1] ?? '').replaceAll('&amp;', '&'))
    const cases: Array<[string, () => Promise<string>]> = [
      ['access denied, asked for with a hostile query', async () => (await browser.get(`${stack.url}/admin/x?next=//evil.example&return=https://evil.example`)).body],
      ['sign-in failed ("try again")', async () => {
        const fresh = new Browser()
        const start = await fresh.request(`${stack.url}/.gatehouse/login?return=${encodeURIComponent('//evil.example')}`, { followRedirects: false })
        const state = new URL(start.headers.get('location') ?? '').searchParams.get('state') ?? ''
        return (await fresh.get(`${stack.url}/.gatehouse/callback?error=access_denied&state=${encodeURIComponent(state)}`)).body
      }],
      ['sign-out confirmation with a return', async () => (await browser.get(`${stack.url}/.gatehouse/logout?return=//evil.example&post_logout_redirect_uri=https://evil.example`)).body],
      ['signed out, with a return', async () => (await browser.get(`${stack.url}/.gatehouse/signed-out?return=//evil.example&next=https://evil.example`)).body],
    ]
    for (const [name, page] of cases) {
      t.test(name, async t => {
        const body = await page()
        const links = hrefsOf(body)
        t.ok(links.length > 0, `the page has links: ${links.join(' ')}`)
        for (const link of links) {
          const to = new URL(link, stack.url)
          t.ok(to.origin === gateway || to.origin === idp, `${link} stays on the gateway or the IdP`)
          const next = to.searchParams.get('return')
          if (next !== null) t.ok(/^\/(?![/\\])/.test(next) && new URL(next, stack.url).origin === gateway, `${link}: its return is a path on the gateway`)
        }
      })
    }
  })

  t.test('sign-out ends at the gateway whatever the request says', async t => {
    const params = ['post_logout_redirect_uri=https://evil.example', 'return=//evil.example', 'redirect_uri=https://evil.example', 'next=/%2F%2Fevil.example']
    for (const param of params) {
      t.test(param, async t => {
        const fresh = new Browser()
        await stack.signIn('bob', '/.gatehouse/login?return=/first', fresh)
        const res = await fresh.request(`${stack.url}/.gatehouse/logout?${param}`, { method: 'POST', followRedirects: false, headers: { origin: gateway, 'sec-fetch-site': 'same-origin' } })
        t.equal(res.status, 303)
        const endSession = new URL(res.headers.get('location') ?? '')
        t.equal(endSession.origin, idp, 'to the IdP\'s end-session endpoint')
        t.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${stack.url}/.gatehouse/signed-out`, 'which sends the browser back to the gateway')
        // With a valid id_token_hint the IdP asks nothing more: its page only carries the sign-out on.
        const confirm = await fresh.get(endSession.href)
        const done = await fresh.submitForm(confirm, {}, { button: 'Continue signing out' })
        t.equal(done.url, `${stack.url}/.gatehouse/signed-out`, 'signed out, on the gateway')
      })
    }
  })
})
