import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose'
import { startAttackStack } from '../helpers/attack-stack.js'
import { Browser } from '../helpers/browserless.js'
import { b64json, forgeIdTokens, idpCallback, type IdTokenForgery } from '../helpers/signin-steps.js'

/**
 * Forged ID tokens in the sign-in flow. The IdP's token endpoint is made to
 * answer with a tampered ID token (unsigned, HMAC-signed with the IdP's
 * public key, signed by another key announced through kid, jwk, jku, x5u or
 * x5c, expired, not yet valid, for another audience or issuer, edited under
 * the IdP's signature). Each is refused with the sign-in failed page, no
 * session, an audit event naming the check, and no request to the key URL
 * the token names. The same token re-signed unchanged with the IdP's key
 * passes, so the forging itself is shown to work.
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

t.test('forged ID tokens', async t => {
  const s = await startAttackStack(t, POLICY)
  const { stack } = s
  const callback = `${stack.url}/.gatehouse/callback`
  const forge = forgeIdTokens(stack.idp)

  // The IdP's published keys, and an attacker's key pair.
  const published = await (await fetch(`${stack.idp.issuer}/jwks`)).json() as { keys: JWK[] }
  const idpRsa = published.keys.find(k => k.kty === 'RSA')
  const idpEc = published.keys.find(k => k.kty === 'EC')
  if (idpRsa === undefined || idpEc === undefined) throw new Error('the IdP publishes an RSA and an EC key')
  const idpPem = await exportSPKI(await importJWK(idpRsa, 'RS256') as CryptoKey)
  const attacker = await generateKeyPair('RS256', { extractable: true })
  const attackerJwk = { ...await exportJWK(attacker.publicKey), kid: 'attacker', alg: 'RS256', use: 'sig' }

  // Where a token says its key is; it must never be asked.
  const keyFetches: string[] = []
  const keyServer = createServer((req, res) => {
    keyFetches.push(req.url ?? '')
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ keys: [attackerJwk] }))
  })
  await new Promise<void>(resolve => keyServer.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { keyServer.closeAllConnections(); keyServer.close() })
  const keyUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}`

  const now = (): number => Math.floor(Date.now() / 1000)
  const byAttacker = async (payload: Record<string, unknown>, header: Record<string, unknown>): Promise<string> => await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', ...header }).sign(attacker.privateKey)
  const byIdp = async (payload: Record<string, unknown>, header: Record<string, unknown>): Promise<string> => await stack.idp.signJwt(payload, { kid: header.kid })

  // [case, forgery, status, why (the audit event's reason)]
  const cases: Array<[string, IdTokenForgery, number, RegExp]> = [
    ['control: the IdP\'s token re-signed unchanged', async (_t, { header, payload }) => await byIdp(payload, header), 303, /^$/],
    ['alg none', async (_t, { payload }) => `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(payload)}.`, 502, /alg/],
    ['alg None, other spelling', async (_t, { payload }) => `${b64json({ alg: 'None' })}.${b64json(payload)}.`, 502, /alg/],
    ['HS256 keyed with the IdP\'s public key (PEM)', async (_t, { header, payload }) => await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: header.kid as string }).sign(new TextEncoder().encode(idpPem)), 502, /alg/],
    ['HS256 keyed with the IdP\'s public key (JWK)', async (_t, { header, payload }) => await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: header.kid as string }).sign(new TextEncoder().encode(JSON.stringify(idpRsa))), 502, /alg/],
    ['signed by another key under the IdP\'s kid', async (_t, { header, payload }) => await byAttacker(payload, { kid: header.kid }), 502, /signature/],
    ['signed by another key under an unknown kid', async (_t, { payload }) => await byAttacker(payload, { kid: 'attacker' }), 502, /key/],
    ['a kid that is a path', async (_t, { payload }) => await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: '../../../../../../dev/null' }).sign(new Uint8Array(32)), 502, /alg/],
    ['a kid that is SQL', async (_t, { payload }) => await byAttacker(payload, { kid: "x' UNION SELECT 'key' --" }), 502, /key/],
    ['the attacker\'s key embedded as jwk', async (_t, { payload }) => await byAttacker(payload, { jwk: attackerJwk }), 502, /key|signature/],
    ['the attacker\'s key embedded as jwk under the IdP\'s kid', async (_t, { header, payload }) => await byAttacker(payload, { kid: header.kid, jwk: attackerJwk }), 502, /signature/],
    ['a jku naming the attacker\'s key set', async (_t, { payload }) => await byAttacker(payload, { kid: 'attacker', jku: `${keyUrl}/jwks.json` }), 502, /key/],
    ['an x5u naming the attacker\'s certificate', async (_t, { payload }) => await byAttacker(payload, { kid: 'attacker', x5u: `${keyUrl}/cert.pem` }), 502, /key/],
    ['an x5c chain of the attacker\'s', async (_t, { header, payload }) => await byAttacker(payload, { kid: header.kid, x5c: [randomBytes(300).toString('base64')] }), 502, /signature/],
    ['groups edited under the IdP\'s signature', async (token, { payload }) => {
      const [h, , sig] = token.split('.')
      return `${h ?? ''}.${b64json({ ...payload, groups: ['admins'] })}.${sig ?? ''}`
    }, 502, /signature/],
    ['the signature removed', async (token) => `${token.split('.').slice(0, 2).join('.')}.`, 502, /signature|JWS|JWT/],
    ['control: the IdP\'s other published key (ES256) is genuine too', async (_t, { payload }) => await stack.idp.signJwt(payload, { kid: idpEc.kid, alg: 'ES256' }), 303, /^$/],
    ['expired', async (_t, { header, payload }) => await byIdp({ ...payload, iat: now() - 7200, exp: now() - 3600 }, header), 502, /exp/],
    ['not valid yet (nbf)', async (_t, { header, payload }) => await byIdp({ ...payload, nbf: now() + 3600 }, header), 502, /nbf/],
    ['issued in the future', async (_t, { header, payload }) => await byIdp({ ...payload, iat: now() + 3600, exp: now() + 7200 }, header), 502, /issued in the future/],
    ['issued a little in the future (IdP clock skew) is accepted', async (_t, { header, payload }) => await byIdp({ ...payload, iat: now() + 60 }, header), 303, /^$/],
    ['for another audience', async (_t, { header, payload }) => await byIdp({ ...payload, aud: 'other-app' }, header), 502, /aud/],
    ['for this client and an untrusted other, without azp', async (_t, { header, payload }) => await byIdp({ ...payload, aud: [stack.clientId, 'other-app'], azp: undefined }, header), 502, /aud/],
    ['authorized for another party (azp)', async (_t, { header, payload }) => await byIdp({ ...payload, azp: 'other-app' }, header), 502, /azp/],
    ['from another issuer', async (_t, { header, payload }) => await byIdp({ ...payload, iss: 'http://127.0.0.1:9/evil' }, header), 502, /iss/],
    ['without a subject', async (_t, { header, payload }) => await byIdp({ ...payload, sub: undefined }, header), 502, /sub/],
    ['without an expiry', async (_t, { header, payload }) => await byIdp({ ...payload, exp: undefined }, header), 502, /exp/],
    ['without an issue time', async (_t, { header, payload }) => await byIdp({ ...payload, iat: undefined }, header), 502, /iat/],
  ]

  for (const [name, forgery, status, reason] of cases) {
    t.test(name, async t => {
      const landing = `/landing/${randomBytes(4).toString('hex')}`
      const failures = stack.logs.records().filter(r => r.event === 'signin.failure').length
      const browser = new Browser()
      const url = await idpCallback(browser, `${stack.url}/.gatehouse/login?return=${encodeURIComponent(landing)}`, callback, { user: 'nina', password: 'nina-pass' })
      forge.set(forgery)
      const res = await browser.request(url, { followRedirects: false }).finally(() => { forge.set(undefined) })
      t.equal(res.status, status)
      const audited = stack.logs.records().filter(r => r.event === 'signin.failure')
      const after = await fetch(`${stack.url}${landing}`, { headers: { accept: 'application/json', cookie: [...browser.cookies(stack.url)].map(([k, v]) => `${k}=${v}`).join('; ') } })
      if (status === 303) {
        t.equal(res.headers.get('location'), `${stack.url}${landing}`, 'signed in and sent on')
        t.equal(after.status, 200, 'the page opens')
        t.equal(audited.length, failures, 'no failure')
        return
      }
      t.match(res.body, 'GH_SIGNIN_FAILED')
      t.equal(stack.sessionCookie(browser), undefined, 'no session')
      t.equal(audited.length, failures + 1, 'one signin.failure audit event')
      t.match(audited.at(-1)?.detail, reason, 'refused for this reason (the detail; the reason is the error code)')
      t.equal(after.status, 401, 'the page the sign-in was for is still closed')
      t.notOk(s.up.seen.some(r => r.url.startsWith(landing)), 'the upstream was not reached')
    })
  }
  t.test('no key URL named in a token was fetched', async t => {
    t.same(keyFetches, [])
  })
})

t.test('a refreshed ID token about another user, or for another party, ends the session', async t => {
  let offset = 0
  const s = await startAttackStack(t, POLICY, { clock: () => Date.now() + offset, accessTokenTtlSeconds: 600 })
  const { stack } = s
  const forge = forgeIdTokens(stack.idp)
  const resign = async (payload: Record<string, unknown>, kid: unknown): Promise<string> => await stack.idp.signJwt(payload, { kid })
  // [case, change to the refreshed ID token's claims, status after the refresh, audited reason]
  const cases: Array<[string, (p: Record<string, unknown>) => Record<string, unknown>, number, string | undefined]> = [
    ['unchanged, re-signed by the IdP (the forging works)', p => p, 200, undefined],
    ['about another user (sub)', p => ({ ...p, sub: 'mallory' }), 401, 'refreshed ID token about another user (sub)'],
    ['authorized for another party (azp)', p => ({ ...p, azp: 'another-client' }), 401, 'ID token authorized for another party (azp)'],
  ]
  for (const [name, change, status, reason] of cases) {
    const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
    const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
    const get = async (): Promise<number> => (await fetch(`${stack.url}/landing/x`, { headers: { cookie, accept: 'application/json' } })).status
    t.equal(await get(), 200, `${name}: signed in`)
    const refreshes = stack.idp.grants.refresh_token
    forge.set(async (_token, { header, payload }) => await resign(change(payload), header.kid))
    offset += 600_000 - 30_000 // inside the refresh skew
    const after = await get().finally(() => { forge.set(undefined) })
    t.equal(stack.idp.grants.refresh_token, refreshes + 1, `${name}: the IdP saw the refresh`)
    t.equal(after, status, name)
    if (reason !== undefined) {
      t.ok(stack.logs.records().some(r => r.event === 'session.revoked' && r.reason === 'id_token_refused' && r.detail === reason), `${name}: audited`)
      t.equal(await get(), 401, `${name}: and the session stays ended`)
    }
  }
})
