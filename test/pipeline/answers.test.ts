import t from 'tap'
import { GatehouseError, SigninError } from '../../src/errors.js'
import { bearerChallenge, forwardAuthChallenge, signinChallenge } from '../../src/pipeline/challenges.js'
import { errorAnswer } from '../../src/pipeline/error-answer.js'

const PUBLIC = 'https://app.example.com'
const navigation = { 'sec-fetch-mode': 'navigate' }
const xhr = { 'sec-fetch-mode': 'cors', accept: 'application/json' }

t.test('not signed in: a navigation goes to the IdP; anything else gets 401 with the sign-in URL', async t => {
  t.same(signinChallenge({ method: 'GET', headers: navigation }, '/reports?q=1', PUBLIC, false), { kind: 'signin', returnTo: '/reports?q=1' })
  t.same(signinChallenge({ method: 'HEAD', headers: { accept: 'text/html' } }, '/r', PUBLIC, false), { kind: 'signin', returnTo: '/r' }, 'HEAD, told by Accept')
  for (const [method, headers] of [['POST', navigation], ['GET', xhr]] as const) {
    const answer = signinChallenge({ method, headers }, '/reports?q=1', PUBLIC, false)
    if (answer.kind !== 'error') { t.fail(`${method}: an error answer`); continue }
    t.equal(answer.error.code, 'GH_UNAUTHENTICATED')
    t.same(answer.json, { login_url: 'https://app.example.com/.gatehouse/login?return=%2Freports%3Fq%3D1' })
    t.equal(answer.headers?.['www-authenticate'], 'Session realm="gatehouse", login_url="https://app.example.com/.gatehouse/login?return=%2Freports%3Fq%3D1"')
  }
  const both = signinChallenge({ method: 'GET', headers: xhr }, '/', PUBLIC, true)
  t.same(both.kind === 'error' ? both.headers?.['www-authenticate'] : undefined, ['Bearer realm="gatehouse"', 'Session realm="gatehouse", login_url="https://app.example.com/.gatehouse/login?return=%2F"'], 'a route taking bearer tokens too names both')
})

t.test('bearer challenges (RFC 6750): no token, and a token that is not valid', async t => {
  const none = bearerChallenge(undefined)
  const bad = bearerChallenge(new GatehouseError('GH_INVALID_TOKEN', 'expired'))
  t.match(none, { kind: 'error', error: { code: 'GH_UNAUTHENTICATED' }, headers: { 'www-authenticate': 'Bearer realm="gatehouse"' } })
  t.match(bad, { kind: 'error', error: { code: 'GH_INVALID_TOKEN' }, headers: { 'www-authenticate': /error="invalid_token"/ } })
  if (bad.kind === 'error') t.notMatch(JSON.stringify([bad.headers, bad.json, bad.error.publicMessage]), /expired/, 'the reason stays in the log, not the challenge')
})

t.test('forward-auth: 401 naming the sign-in, or a 302 there for a navigation when the proxy asks for redirects', async t => {
  t.same(forwardAuthChallenge({ headers: navigation }, 'GET', true, '/x', PUBLIC), { kind: 'redirect', location: 'https://app.example.com/.gatehouse/login?return=%2Fx' })
  for (const [headers, method, redirect] of [[navigation, 'GET', false], [xhr, 'GET', true], [navigation, 'POST', true]] as const) {
    const answer = forwardAuthChallenge({ headers }, method, redirect, '/x', PUBLIC)
    t.match(answer, { kind: 'error', error: { code: 'GH_UNAUTHENTICATED' }, headers: { location: 'https://app.example.com/.gatehouse/login?return=%2Fx' }, page: { kind: 'action', label: 'Sign in' } })
  }
})

t.test('errors thrown while answering map to one answer and one log line each', async t => {
  const idp = errorAnswer(new SigninError('GH_SIGNIN_IDP_ERROR', 'access_denied', 'AADSTS50105: not assigned', '/app'), PUBLIC, 1024)
  t.match(idp, {
    answer: { error: { code: 'GH_SIGNIN_IDP_ERROR' }, page: { kind: 'signin_failed', retryPath: '/.gatehouse/login?return=%2Fapp', idp: { error: 'access_denied', description: 'AADSTS50105: not assigned' } }, json: { login_url: 'https://app.example.com/.gatehouse/login?return=%2Fapp', idp_error: 'access_denied' } },
    log: { level: 'warn', msg: 'sign-in failed' },
  })
  const state = errorAnswer(new SigninError('GH_SIGNIN_STATE_INVALID', 'no state cookie', undefined, '/'), PUBLIC, 1024)
  t.equal(state.answer.page?.kind === 'signin_failed' ? state.answer.page.idp : 'none', undefined, 'not the IdP\'s error: no IdP words')
  t.notOk(state.answer.json !== undefined && 'idp_error' in state.answer.json)

  t.match(errorAnswer(new GatehouseError('GH_UPSTREAM_UNAVAILABLE', 'ECONNREFUSED'), PUBLIC, 1024), { answer: { error: { code: 'GH_UPSTREAM_UNAVAILABLE' } }, log: { level: 'error' } })
  t.match(errorAnswer(new GatehouseError('GH_CROSS_SITE', 'origin'), PUBLIC, 1024), { log: { level: 'warn' } })
  t.match(errorAnswer(Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }), PUBLIC, 1024), { answer: { error: { code: 'GH_BODY_TOO_LARGE', statusCode: 413 } }, log: { level: 'info', fields: { limit: 1024 } } })
  t.match(errorAnswer(Object.assign(new Error('bad json'), { code: 'FST_ERR_CTP_INVALID_JSON', statusCode: 400 }), PUBLIC, 1024), { answer: { error: { code: 'GH_BAD_REQUEST' }, status: 400 }, log: { level: 'info' } })
  const unknown = errorAnswer(new TypeError('x is undefined'), PUBLIC, 1024)
  t.match(unknown, { answer: { error: { code: 'GH_INTERNAL', statusCode: 500 } }, log: { level: 'error', msg: 'unexpected error' } })
  t.notMatch(unknown.answer.error.publicMessage, /undefined/, 'what went wrong is not told to the client')
})
