import t from 'tap'
import type { GatewayConfig } from '../../src/config/types.js'
import { bearerStepUpChallenge, forwardAuthChallenge, stepUpChallenge } from '../../src/pipeline/challenges.js'
import { stepUpFromQuery, stepUpParams, stepUpQuery } from '../../src/signin/step-up-params.js'

const PUBLIC = 'https://gw.example.com'
const NAVIGATION = { 'sec-fetch-mode': 'navigate' }
const MFA_ACR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor'
const GENERIC = { oidc: { mfaAcrValues: [MFA_ACR], reauthPromptLogin: false }, entra: undefined } as unknown as Pick<GatewayConfig, 'oidc' | 'entra'>
const ENTRA = { oidc: { mfaAcrValues: [MFA_ACR], reauthPromptLogin: false }, entra: { mfaAuthContexts: ['c1'] } } as unknown as Pick<GatewayConfig, 'oidc' | 'entra'>

t.test('a navigation steps up at the IdP; anything else gets 401 GH_STEP_UP_REQUIRED with a login_url that steps up', async t => {
  t.same(stepUpChallenge({ method: 'GET', headers: NAVIGATION }, { mfa: true }, '/admin?x=1', PUBLIC), { kind: 'signin', returnTo: '/admin?x=1', stepUp: { mfa: true } })
  const api = stepUpChallenge({ method: 'GET', headers: { accept: 'application/json' } }, { mfa: true, maxAgeS: 900 }, '/admin', PUBLIC)
  t.match(api, { kind: 'error', error: { code: 'GH_STEP_UP_REQUIRED', statusCode: 401 }, json: { required: { mfa: true, max_age: 900 } } })
  const url = new URL((api as unknown as { json: { login_url: string } }).json.login_url)
  t.equal(`${url.origin}${url.pathname}`, `${PUBLIC}/.gatehouse/login`)
  t.same(stepUpFromQuery(Object.fromEntries(url.searchParams)), { mfa: true, maxAgeS: 900 }, 'the login_url carries the need')
  t.match((api as { headers: Record<string, string> }).headers['www-authenticate'], /^Session realm="gatehouse", error="insufficient_user_authentication", login_url="https:\/\/gw\.example\.com\/\.gatehouse\/login\?return=%2Fadmin&mfa=1&max_age=900"$/)
  t.match(stepUpChallenge({ method: 'POST', headers: NAVIGATION }, { mfa: true }, '/a', PUBLIC), { kind: 'error' }, 'a POST is never redirected')
  t.match(forwardAuthChallenge({ headers: {} }, 'GET', false, '/a', PUBLIC, { acr: ['gold'] }), { error: { code: 'GH_STEP_UP_REQUIRED' }, json: { login_url: `${PUBLIC}/.gatehouse/login?return=%2Fa&acr=gold` } })
})

t.test('bearer callers get the RFC 9470 challenge', async t => {
  const header = (a: unknown): string => (a as { headers: Record<string, string> }).headers['www-authenticate'] ?? ''
  t.equal(header(bearerStepUpChallenge({ mfa: true }, GENERIC)), `Bearer realm="gatehouse", error="insufficient_user_authentication", error_description="A different authentication level is required: multi-factor authentication", acr_values="${MFA_ACR}"`)
  t.match(header(bearerStepUpChallenge({ maxAgeS: 900 }, GENERIC)), /error="insufficient_user_authentication".*, max_age=900$/)
  t.match(header(bearerStepUpChallenge({ mfa: true, authContexts: ['c2'] }, ENTRA)), /acr_values="c2 c1"/, 'Entra: authentication contexts')
  t.match(bearerStepUpChallenge({ acr: ['gold'] }, GENERIC), { error: { code: 'GH_STEP_UP_REQUIRED', statusCode: 401 }, json: { required: { acr: ['gold'] } } })
})

t.test('what the IdP is asked for', async t => {
  t.same(stepUpParams({ mfa: true }, GENERIC), { acr_values: MFA_ACR })
  t.same(stepUpParams({ mfa: true }, { ...GENERIC, oidc: { ...GENERIC.oidc, mfaAcrValues: [] } }), { prompt: 'login' }, 'no acr value for MFA: a fresh sign-in')
  t.same(stepUpParams({ acr: ['gold'], maxAgeS: 60 }, GENERIC), { acr_values: 'gold', max_age: '60' })
  t.same(stepUpParams({ maxAgeS: 60 }, { ...GENERIC, oidc: { ...GENERIC.oidc, reauthPromptLogin: true } }), { max_age: '60', prompt: 'login' })
  t.same(stepUpParams({ mfa: true }, ENTRA), { claims: '{"id_token":{"acrs":{"essential":true,"value":"c1"}}}' }, 'Entra: the MFA context, essential')
  t.same(stepUpParams({ authContexts: ['c2'], mfa: true }, ENTRA), { claims: '{"id_token":{"acrs":{"essential":true,"values":["c2","c1"]}}}' })
  t.same(stepUpParams({ maxAgeS: 900 }, ENTRA), { max_age: '900', prompt: 'login' }, 'Entra: max_age with prompt=login')
})

t.test('a login link asks only for well-formed things', async t => {
  t.equal(stepUpFromQuery({ return: '/' }), undefined, 'an ordinary sign-in')
  t.same(stepUpFromQuery({ mfa: '1', acr: ['gold', 'bad"quote', 'with space'], auth_context: ['c1', 'c100', 'x1'], max_age: ['-5', '60'] }), { mfa: true, acr: ['gold'], authContexts: ['c1'], maxAgeS: 60 })
  t.equal(stepUpQuery({ mfa: true, acr: ['a', 'b'], authContexts: ['c3'], maxAgeS: 5 }), 'mfa=1&acr=a&acr=b&auth_context=c3&max_age=5')
})

t.test('claims the application asked for: merged into the claims parameter, carried by the login link as base64, checked again there', async t => {
  const claims = { access_token: { nbf: { essential: true, value: '1604106651' } } }
  t.same(stepUpParams({ claims }, GENERIC), { claims: JSON.stringify(claims) }, 'generic OpenID Connect: the claims parameter as asked')
  t.same(JSON.parse(stepUpParams({ claims: { ...claims, id_token: { email: null } }, mfa: true }, ENTRA).claims ?? ''), { ...claims, id_token: { email: null, acrs: { essential: true, value: 'c1' } } }, 'Entra: the authentication context merged into the id_token part')
  const query = stepUpQuery({ claims })
  t.equal(query, `claims=${Buffer.from(JSON.stringify(claims)).toString('base64url')}`)
  t.same(stepUpFromQuery(Object.fromEntries(new URLSearchParams(query))), { claims }, 'the login link carries them')
  const b64 = (text: string): string => Buffer.from(text).toString('base64url')
  for (const bad of ['not base64!', b64('not json'), b64('[1]'), b64('{}'), b64(JSON.stringify({ x: 'a'.repeat(5000) }))]) {
    t.equal(stepUpFromQuery({ claims: bad }), undefined, `dropped: ${bad.slice(0, 20)}`)
  }
})
