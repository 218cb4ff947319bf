import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose'
import { AssertionSigner } from '../../src/sign/assertion.js'
import { generateSigningKey, loadSigningKey } from '../../src/sign/keys.js'
import { identityFromClaims } from '../../src/identify/build-identity.js'

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-keys-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const identity = identityFromClaims({ iss: 'https://idp', sub: 'alice', email: 'a@example.test', groups: ['g'], roles: ['r'] }, { groupsClaim: 'groups', rolesClaim: 'roles' })

t.test('PEM and JWK key files load, and assertions verify with the published public key', async t => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
  const pem = join(dir, 'ec.pem')
  writeFileSync(pem, ec.export({ type: 'pkcs8', format: 'pem' }))
  const jwkFile = join(dir, 'ec.jwk')
  writeFileSync(jwkFile, JSON.stringify({ ...ec.export({ format: 'jwk' }), kid: 'my-key' }))
  for (const [file, kid] of [[pem, undefined], [jwkFile, 'my-key']] as const) {
    const key = await loadSigningKey(file, 'ES256')
    if (kid !== undefined) t.equal(key.kid, kid, 'kid from the JWK')
    t.notOk('d' in key.publicJwk, 'no private part in the public JWK')
    const token = await new AssertionSigner(key, 'https://gw.example', 60_000).sign(identity, 'http://app:3000')
    t.equal(decodeProtectedHeader(token).kid, key.kid)
    const { payload } = await jwtVerify(token, await importJWK(key.publicJwk, 'ES256'), { issuer: 'https://gw.example', audience: 'http://app:3000' })
    t.same([payload.sub, payload.email, payload.groups, payload.roles], ['alice', 'a@example.test', ['g'], ['r']])
  }
})

t.test('a key that does not fit the algorithm, or no key at all, is a clear config error', async t => {
  const rsa = join(dir, 'rsa.pem')
  writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  await t.rejects(loadSigningKey(rsa, 'ES256'), { code: 'GH_CONFIG_INVALID', message: /a rsa key cannot sign ES256/ })
  const small = join(dir, 'small.pem')
  writeFileSync(small, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  await t.rejects(loadSigningKey(small, 'RS256'), { message: /at least 2048 bits/ })
  const junk = join(dir, 'junk.pem')
  writeFileSync(junk, 'not a key')
  await t.rejects(loadSigningKey(junk, 'ES256'), { message: /not a private key/ })
  const pub = join(dir, 'pub.pem')
  writeFileSync(pub, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }))
  await t.rejects(loadSigningKey(pub, 'ES256'), { message: /not a private key/ })
  await t.rejects(loadSigningKey(join(dir, 'missing.pem'), 'ES256'), { message: /cannot read the signing key: ENOENT/ })
})

t.test('every supported algorithm can generate and sign', async t => {
  for (const alg of ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const) {
    const key = await generateSigningKey(alg)
    t.equal(key.generated, true)
    // Verified as of the signing time: with a one-second lifetime, a clock tick between the two would expire it.
    const now = Date.now()
    const token = await new AssertionSigner(key, 'https://gw', 1000).sign(identity, 'aud', now)
    const { payload } = await jwtVerify(token, await importJWK(key.publicJwk, alg), { audience: 'aud', currentDate: new Date(now) })
    t.equal((payload.exp ?? 0) - (payload.iat ?? 0), 1, `${alg}: exp follows the configured lifetime`)
  }
})

t.test('assertions are reused per identity and audience for half their lifetime, then signed anew', async t => {
  const key = await generateSigningKey('ES256')
  const signer = new AssertionSigner(key, 'https://gw', 60_000)
  const now = Date.now()
  const first = await signer.assertion(identity, 'aud-a', now)
  t.equal(await signer.assertion(identity, 'aud-a', now + 29_000), first, 'reused within half the lifetime')
  t.not(await signer.assertion(identity, 'aud-b', now), first, 'another audience, another assertion')
  const renewed = await signer.assertion(identity, 'aud-a', now + 31_000)
  t.not(renewed, first, 'signed anew after half the lifetime')
  t.equal(decodeJwt(renewed).iat, Math.floor((now + 31_000) / 1000))
  const refreshed = { ...identity, groups: ['new-group'] }
  t.same(decodeJwt(await signer.assertion(refreshed, 'aud-a', now + 31_000)).groups, ['new-group'], 'a new identity object (after a refresh) is never served an old assertion')
})
