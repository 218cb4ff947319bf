import { createHmac, randomBytes } from 'node:crypto'
import t from 'tap'
import { apiHeaders, http11, PUBLIC_AND_API_POLICY, startAttackStack } from '../helpers/attack-stack.js'
import { Browser } from '../helpers/browserless.js'
import { lastResponse } from '../helpers/fastify-upstream.js'
import { sessionIdOf, startStack } from '../helpers/stack.js'

/**
 * Session attacks: tampered, truncated, foreign and duplicated session
 * cookies, session fixation (a planted cookie survives no sign-in), cookies
 * of revoked or signed-out sessions on every gateway, a session altered in
 * Redis, sign-out by cross-site request, and an upstream that tries to set
 * the gateway's cookies.
 */

/** @fastify/cookie's signature: HMAC-SHA256, base64 without padding. */
function signed (id: string, secret: string): string {
  return `${id}.${createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')}`
}

t.test('session attacks', async t => {
  const s = await startAttackStack(t, PUBLIC_AND_API_POLICY)
  const { stack } = s
  const name = stack.gateway.cookies.session
  const bob = await s.cookie('bob')
  const alice = await s.cookie('alice')
  const bobValue = bob.slice(name.length + 1)
  const aliceValue = alice.slice(name.length + 1)
  const secret = stack.env.GATEHOUSE_SESSION_SECRET ?? ''

  /** GET /api/x with this Cookie header; the status and the user the upstream was told about (if reached). */
  const asCookie = async (cookie: string): Promise<{ status: number, user: string | undefined, reached: number, forwardedCookie: string[] }> => {
    const { res, seen } = await s.probe(http11('GET', '/api/x', apiHeaders(['Cookie', cookie])))
    const got = seen[0]
    return { status: res.status, user: got === undefined ? undefined : s.up.values(got, 'x-gatehouse-user')[0], reached: seen.length, forwardedCookie: got === undefined ? [] : s.up.values(got, 'cookie') }
  }

  t.test('tampered, truncated and foreign cookies', async t => {
    const flip = (text: string, at: number): string => `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`
    const decoded = decodeURIComponent(bobValue)
    const dot = decoded.lastIndexOf('.')
    const bobId = sessionIdOf(bobValue)
    // [case, Cookie header, status, user the upstream is told about]
    const cases: Array<[string, string, number, string?]> = [
      ['control: bob\'s own cookie', bob, 200, 'bob'],
      ['a character of the signature changed', `${name}=${encodeURIComponent(flip(decoded, decoded.length - 2))}`, 401],
      ['a character of the id changed', `${name}=${encodeURIComponent(flip(decoded, 3))}`, 401],
      ['the signature cut off', `${name}=${encodeURIComponent(decoded.slice(0, dot))}`, 401],
      ['the signature cut to its first half', `${name}=${encodeURIComponent(decoded.slice(0, dot + 1 + Math.floor((decoded.length - dot) / 2)))}`, 401],
      ['cut in half', `${name}=${encodeURIComponent(decoded.slice(0, Math.floor(decoded.length / 2)))}`, 401],
      ['only the dot and signature', `${name}=${encodeURIComponent(decoded.slice(dot))}`, 401],
      ['an empty value', `${name}=`, 401],
      ['alice\'s id under bob\'s signature', `${name}=${encodeURIComponent(`${sessionIdOf(aliceValue)}${decoded.slice(dot)}`)}`, 401],
      ['bob\'s id signed with another secret', `${name}=${encodeURIComponent(signed(bobId, randomBytes(32).toString('hex')))}`, 401],
      ['an unknown id signed with the right secret', `${name}=${encodeURIComponent(signed(randomBytes(24).toString('base64url'), secret))}`, 401],
      ['a broken percent-encoding', `${name}=%E0%A4%A${decoded.slice(2)}`, 401],
      ['an 8 KiB value', `${name}=${'A'.repeat(8192)}`, 401],
      ['the cookie name in another case', `${name.toUpperCase()}=${bobValue}`, 401],
      ['the __Host- name on an http gateway', `__Host-${name}=${bobValue}`, 401],
      ['garbage first, bob\'s second: the first counts', `${name}=garbage; ${bob}`, 401],
      ['bob first, alice second: only bob', `${bob}; ${alice}`, 200, 'bob'],
      ['bob\'s value as another cookie', `app=${bobValue}`, 401],
    ]
    for (const [label, cookie, status, user] of cases) {
      t.test(label, async t => {
        const got = await asCookie(cookie)
        t.equal(got.status, status)
        if (user === undefined) {
          t.equal(got.reached, 0, 'the upstream was not reached')
        } else {
          t.equal(got.user, user, 'as this user')
          t.notMatch(got.forwardedCookie.join('; '), new RegExp(`(^|; )${name}=`), 'the session cookie is not forwarded')
        }
      })
    }
  })

  t.test('session fixation', async t => {
    t.test('a planted valid session cookie is replaced at sign-in, and ends', async t => {
      const { browser: attacker } = await stack.signIn('dave', '/.gatehouse/login?return=/public/landed')
      const planted = stack.sessionCookie(attacker) ?? ''
      const victim = new Browser()
      victim.setCookie(stack.url, name, planted)
      await stack.signIn('carol', '/.gatehouse/login?return=/public/landed', victim)
      const after = stack.sessionCookie(victim)
      t.ok(after !== undefined && after !== planted, 'the victim holds a new session')
      t.equal((await asCookie(`${name}=${after ?? ''}`)).user, 'carol', 'the victim is herself')
      const old = await asCookie(`${name}=${planted}`)
      t.equal(old.status, 401, 'the planted session ended at the sign-in: it never becomes the victim\'s')
      t.equal(old.reached, 0, 'the upstream was not reached with it')
    })
    t.test('a planted session id of the attacker\'s choosing is never used', async t => {
      const victim = new Browser()
      const chosen = randomBytes(24).toString('base64url')
      victim.setCookie(stack.url, name, encodeURIComponent(signed(chosen, randomBytes(16).toString('hex'))))
      await stack.signIn('carol', '/.gatehouse/login?return=/public/landed', victim)
      t.not(sessionIdOf(stack.sessionCookie(victim) ?? ''), chosen, 'a new id')
      t.equal(await stack.redis?.exists(`${stack.keyPrefix}session:{${chosen}}`), 0, 'nothing stored under the chosen id')
      t.equal((await asCookie(`${name}=${encodeURIComponent(signed(chosen, secret))}`)).status, 401, 'the chosen id opens nothing, even correctly signed')
    })
  })

  t.test('revoked and ended sessions', async t => {
    const replica = await stack.startReplica()
    const replicaGet = async (cookie: string): Promise<number> => (await fetch(`${replica.url}/api/x`, { headers: { cookie, accept: 'application/json' } })).status
    /** Resolves when this gateway hears (over Redis pub/sub) that the session changed: its cached copy is gone. */
    const heard = async (gateway: typeof stack.gateway, id: string): Promise<void> => { await new Promise<void>(resolve => { gateway.store.backend.subscribe(ids => { if (ids === undefined || ids.includes(id)) resolve() }) }) }
    // [case, how the session ends, whether the other gateway (the replica) ended it]
    const cases: Array<[string, (cookie: string, value: string) => Promise<void>, boolean]> = [
      ['revoked for the user', async () => { await stack.gateway.store.revoke('user', 'dave') }, false],
      ['revoked by session id', async (_cookie, value) => { await stack.gateway.store.destroy(sessionIdOf(value)) }, false],
      ['signed out on this gateway', async (cookie) => {
        const res = await fetch(`${stack.url}/.gatehouse/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: stack.url, 'sec-fetch-site': 'same-origin' } })
        if (res.status !== 303) throw new Error(`sign-out answered ${res.status}`)
      }, false],
      ['signed out on the other gateway', async (cookie) => {
        const res = await fetch(`${replica.url}/.gatehouse/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: stack.url, 'sec-fetch-site': 'same-origin' } })
        if (res.status !== 303) throw new Error(`sign-out answered ${res.status}`)
      }, true],
    ]
    for (const [label, end, byReplica] of cases) {
      t.test(label, async t => {
        const { browser } = await stack.signIn('dave', '/.gatehouse/login?return=/public/landed')
        const value = stack.sessionCookie(browser) ?? ''
        const cookie = `${name}=${value}`
        t.equal((await asCookie(cookie)).status, 200, 'works before')
        t.equal(await replicaGet(cookie), 200, 'on both gateways (now cached in both)')
        const told = heard(byReplica ? stack.gateway : replica.gateway, sessionIdOf(value))
        await end(cookie, value)
        await told
        const got = await asCookie(cookie)
        t.equal(got.status, 401, 'refused at once')
        t.equal(got.reached, 0, 'the upstream was not reached')
        t.equal(await replicaGet(cookie), 401, 'refused by the other gateway too')
      })
    }
    t.test('a stored session altered in Redis', async t => {
      const { browser } = await stack.signIn('dave', '/.gatehouse/login?return=/public/landed')
      const value = stack.sessionCookie(browser) ?? ''
      const key = stack.sessionKey(value)
      const blob = await stack.redis?.get(key) ?? ''
      const i = blob.length - 5
      await stack.redis?.set(key, `${blob.slice(0, i)}${blob[i] === 'A' ? 'B' : 'A'}${blob.slice(i + 1)}`, 'KEEPTTL')
      // A gateway that has not cached the session reads the altered record.
      const fresh = await stack.startReplica()
      const res = await fetch(`${fresh.url}/api/x`, { headers: { cookie: `${name}=${value}`, accept: 'application/json' } })
      t.equal(res.status, 401, 'an altered record does not decrypt: signed out, never another identity')
      t.ok(fresh.logs.records().some(r => r.event === 'session.undecryptable'), 'and the log says so')
    })
  })

  t.test('sign-out by a cross-site request', async t => {
    const own = new URL(stack.url).origin
    // [case, request headers, status]
    const cases: Array<[string, Record<string, string>, number]> = [
      ['Origin of another site', { origin: 'https://evil.example' }, 403],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }, 403],
      ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }, 403],
      ['Origin: null', { origin: 'null' }, 403],
      ['an Origin that starts with the gateway\'s', { origin: `${own}.evil.example` }, 403],
      ['the gateway\'s Origin, but Sec-Fetch-Site: cross-site', { origin: own, 'sec-fetch-site': 'cross-site' }, 403],
      ['a form post from another site, text/plain', { origin: 'https://evil.example', 'content-type': 'text/plain' }, 403],
    ]
    for (const [label, headers, status] of cases) {
      t.test(label, async t => {
        const res = await fetch(`${stack.url}/.gatehouse/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: bob, accept: 'application/json', ...headers }, body: 'x=1' })
        t.equal(res.status, status)
        t.equal((await res.json() as { error: { code: string } }).error.code, 'GH_CROSS_SITE')
        t.equal((await asCookie(bob)).user, 'bob', 'still signed in')
      })
    }
    t.test('a GET (a link or an image) only shows the confirmation', async t => {
      const res = await fetch(`${stack.url}/.gatehouse/logout?_method=POST`, { redirect: 'manual', headers: { cookie: bob, 'sec-fetch-site': 'cross-site' } })
      t.equal(res.status, 200)
      t.match(await res.text(), /<form method="post" action="\/\.gatehouse\/logout">/)
      t.equal((await asCookie(bob)).user, 'bob', 'still signed in')
    })
  })

  t.test('the upstream cannot set or clear the gateway\'s cookies', async t => {
    const cases: Array<[string, string]> = [
      ['the session cookie', `${name}=${bobValue}; Path=/`],
      ['clearing the session cookie', `${name}=; Max-Age=0; Path=/`],
      ['the sign-in cookie', `${stack.gateway.cookies.signin}=${'A'.repeat(43)}; Path=/`],
    ]
    for (const [label, cookie] of cases) {
      t.test(label, async t => {
        const { res, seen } = await s.probe(http11('GET', `/public/x?set=${encodeURIComponent(`Set-Cookie:${cookie}`)}&set=${encodeURIComponent('Set-Cookie:app=1; Path=/')}`, apiHeaders()))
        t.equal(res.status, 200)
        t.equal(seen.length, 1, 'the upstream answered')
        const setCookies = res.head.split('\r\n').filter(l => /^set-cookie:/i.test(l))
        t.same(setCookies.filter(l => l.toLowerCase().startsWith(`set-cookie: ${cookie.split('=')[0]?.toLowerCase() ?? ''}=`)), [], 'the gateway\'s cookie is not passed on')
        t.ok(setCookies.some(l => /^set-cookie: app=1/i.test(l)), 'the app\'s own cookie is')
      })
    }
  })
})

t.test('sign-out clears a __Host- session cookie with attributes a browser accepts', async t => {
  const stack = await startStack(t, { env: { GATEHOUSE_PUBLIC_URL: 'https://app.example.test' } })
  const res = await lastResponse(Number(new URL(stack.url).port), `POST /.gatehouse/logout HTTP/1.1\r\nHost: app.example.test\r\nOrigin: https://app.example.test\r\nCookie: __Host-gatehouse=s%3Aold.sig\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
  const clears = res.head.split('\r\n').filter(l => /^set-cookie: __Host-gatehouse=;/i.test(l))
  t.ok(clears.length > 0, 'the session cookie is cleared')
  for (const line of clears) t.match(line, /;\s*Secure/i, `a __Host- cookie is only cleared by a Set-Cookie with Secure: ${line}`)
})
