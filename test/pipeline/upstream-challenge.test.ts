import t from 'tap'
import { upstreamChallenge } from '../../src/pipeline/upstream-challenge.js'
import { MAX_CLAIMS_BYTES } from '../../src/signin/step-up-claims.js'

const b64 = (text: string): string => Buffer.from(text).toString('base64')
// The claims challenge of Microsoft's documentation for continuous access evaluation.
const CAE = '{"access_token":{"nbf":{"essential":true,"value":"1604106651"}}}'
const CAE_B64 = b64(CAE)

t.test('a claims challenge: the claims, parsed, whatever the spelling', async t => {
  const claims = JSON.parse(CAE) as object
  const spellings: Array<[string, string | string[]]> = [
    ['Entra\'s own spelling', `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="${CAE_B64}"`],
    ['unquoted error', `Bearer error=insufficient_claims, claims="${CAE_B64}"`],
    ['scheme and parameter names in other cases', `bEARER ERROR="insufficient_claims", Claims="${CAE_B64}"`],
    ['spaces around "=" and commas', `Bearer error = "insufficient_claims" ,  claims= "${CAE_B64}"`],
    ['after another challenge in the same header', `Basic realm="x", Bearer error="insufficient_claims", claims="${CAE_B64}"`],
    ['after a token68 challenge', `Negotiate abc+/== , Bearer error="insufficient_claims", claims="${CAE_B64}"`],
    ['in a second WWW-Authenticate header', ['Basic realm="x"', `Bearer error="insufficient_claims", claims="${CAE_B64}"`]],
    ['a quoted-pair in another parameter', `Bearer realm="a \\"b\\"", error="insufficient_claims", claims="${CAE_B64}"`],
    ['empty list elements', `, Bearer error="insufficient_claims",, claims="${CAE_B64}",`],
    ['URL-safe base64 without padding', `Bearer error="insufficient_claims", claims="${Buffer.from(CAE).toString('base64url')}"`],
  ]
  for (const [name, header] of spellings) {
    t.same(upstreamChallenge(header), { kind: 'step_up', error: 'insufficient_claims', need: { claims } }, name)
  }
})

t.test('RFC 9470: acr_values and max_age', async t => {
  t.same(upstreamChallenge('Bearer error="insufficient_user_authentication", error_description="more", acr_values="urn:gold urn:silver"'), { kind: 'step_up', error: 'insufficient_user_authentication', need: { acr: ['urn:gold', 'urn:silver'] } })
  t.same(upstreamChallenge('Bearer error="insufficient_user_authentication", max_age=300'), { kind: 'step_up', error: 'insufficient_user_authentication', need: { maxAgeS: 300 } })
  t.same(upstreamChallenge('Bearer error=insufficient_user_authentication, acr_values=mfa, max_age="0"'), { kind: 'step_up', error: 'insufficient_user_authentication', need: { acr: ['mfa'], maxAgeS: 0 } })
})

t.test('nothing to act on: no challenge, another scheme, another error', async t => {
  for (const header of [undefined, 'Basic realm="x"', 'Bearer', 'Bearer realm="api"', 'Bearer error="invalid_token"', 'DPoP error="insufficient_claims", claims="' + CAE_B64 + '"', ['Basic realm="x"', 'Negotiate']]) {
    t.same(upstreamChallenge(header), { kind: 'none' }, JSON.stringify(header))
  }
})

t.test('a challenge that is not well-formed, or whose values are not, is invalid (never acted on)', async t => {
  const cases: Array<[string, string]> = [
    ['not base64', 'Bearer error="insufficient_claims", claims="not base64!"'],
    ['base64 of text that is not JSON', `Bearer error="insufficient_claims", claims="${b64('<script>alert(1)</script>')}"`],
    ['JSON that is not an object (array)', `Bearer error="insufficient_claims", claims="${b64('["a"]')}"`],
    ['JSON that is not an object (string)', `Bearer error="insufficient_claims", claims="${b64('"x"')}"`],
    ['JSON null', `Bearer error="insufficient_claims", claims="${b64('null')}"`],
    ['an empty object', `Bearer error="insufficient_claims", claims="${b64('{}')}"`],
    ['not UTF-8', `Bearer error="insufficient_claims", claims="${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64')}"`],
    ['oversized', `Bearer error="insufficient_claims", claims="${b64(JSON.stringify({ id_token: { x: 'a'.repeat(MAX_CLAIMS_BYTES) } }))}"`],
    ['no claims', 'Bearer error="insufficient_claims"'],
    ['an unterminated quoted string', 'Bearer error="insufficient_claims, claims="e30="'],
    ['a parameter given twice', `Bearer error="insufficient_claims", claims="${CAE_B64}", claims="${CAE_B64}"`],
    ['a parameter without a value', 'Bearer error=, claims=x'],
    ['a control character in a quoted string', 'Bearer error="insufficient_claims\u0001"'],
    ['text after a value', 'Bearer error="insufficient_claims" claims="x"'],
    ['acr_values with a quote', 'Bearer error="insufficient_user_authentication", acr_values="a\\"b"'],
    ['acr_values with two spaces', 'Bearer error="insufficient_user_authentication", acr_values="a  b"'],
    ['max_age not a number', 'Bearer error="insufficient_user_authentication", max_age=soon'],
    ['max_age negative', 'Bearer error="insufficient_user_authentication", max_age="-1"'],
    ['neither acr_values nor max_age', 'Bearer error="insufficient_user_authentication"'],
    ['a header too long to read', `Bearer realm="${'a'.repeat(9000)}", error="insufficient_claims", claims="${CAE_B64}"`],
  ]
  for (const [name, header] of cases) {
    const result = upstreamChallenge(header)
    t.equal(result.kind, 'invalid', name)
    if (result.kind === 'invalid') t.notMatch(result.problem, /script|insufficient_claims\u0001/, `${name}: the problem names no text of the challenge`)
  }
})
