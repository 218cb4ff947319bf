import { createCipheriv, createHash } from 'node:crypto'
import t from 'tap'
import { deriveKey, deriveKeys } from '../../src/config/derive-key.js'
import { CookieSigner } from '../../src/session/cookie-signer.js'
import { SessionCipher } from '../../src/session/session-cipher.js'

const SECRET = 'gatehouse-test-secret-0123456789abcdef'

// The bytes each name gave before the keys were derived in one module: changing
// any of them ends every session, sign-in or cookie in use.
const PINNED = {
  'session-encryption': '062aa534c4ee3bfb1a83393eeb97daffd298bbce18180574fe721ee66cafea08',
  'signin-state': '38df7c417a8557b056ed9b4a26d85c3b8a44d816887832dac7877a763816d8b9',
  'cookie-signature': Buffer.from(SECRET, 'utf8').toString('hex'),
} as const

t.test('each named key is pinned for a fixed secret', async t => {
  for (const [name, hex] of Object.entries(PINNED)) {
    t.equal(deriveKey(SECRET, name as keyof typeof PINNED).toString('hex'), hex, name)
  }
})

t.test('keys differ per name and per secret; rotation keeps the order', async t => {
  t.not(deriveKey(SECRET, 'session-encryption').toString('hex'), deriveKey(SECRET, 'signin-state').toString('hex'))
  const [current, previous] = deriveKeys([SECRET, `${SECRET}-old`], 'signin-state')
  t.equal(current?.toString('hex'), PINNED['signin-state'])
  t.not(previous?.toString('hex'), PINNED['signin-state'])
})

t.test('a session blob written with the pinned key still decrypts', async t => {
  const key = Buffer.from(PINNED['session-encryption'], 'hex')
  const keyId = createHash('sha256').update(key).digest('base64url').slice(0, 8)
  const iv = Buffer.alloc(12, 7)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from('sid-1'))
  const body = Buffer.concat([cipher.update('{"a":1}', 'utf8'), cipher.final(), cipher.getAuthTag()])
  const blob = `v1.${keyId}.${iv.toString('base64url')}.${body.toString('base64url')}`
  t.equal(new SessionCipher(SECRET).decrypt('sid-1', blob), '{"a":1}')
  t.equal(new SessionCipher(`${SECRET}-new`, [SECRET]).decrypt('sid-1', blob), '{"a":1}', 'as a previous secret')
})

t.test('the session cookie signature is the HMAC of the raw secret', async t => {
  t.equal(new CookieSigner([SECRET], 10).sign('sid-1'), 'sid-1.tlMCvtOe6xFB9Y45mVCkBpm1l6Lbg1yy3XH7d2rPq5k')
})
