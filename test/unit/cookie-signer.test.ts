import t from 'tap'
import { Signer } from '@fastify/cookie'
import { CookieSigner } from '../../src/session/cookie-signer.js'

const current = 'c'.repeat(32)
const previous = 'p'.repeat(32)

t.test('signs and verifies exactly as @fastify/cookie does, the first time and every time after', async t => {
  const plain = new Signer([current, previous])
  const signer = new CookieSigner([current, previous], 100)
  const signed = signer.sign('session-id-1')
  t.equal(signed, plain.sign('session-id-1'), 'same signature')
  t.equal(signer.sign('session-id-1'), signed, 'same signature when remembered')
  for (let i = 0; i < 2; i++) {
    t.same(signer.unsign(signed), { valid: true, renew: false, value: 'session-id-1' }, `verified (${i === 0 ? 'computed' : 'remembered'})`)
  }
  const old = new Signer(previous).sign('session-id-2')
  t.same(signer.unsign(old), { valid: true, renew: true, value: 'session-id-2' }, 'a cookie signed with a previous secret verifies and asks for renewal')
  t.same(signer.unsign(old), { valid: true, renew: true, value: 'session-id-2' }, 'and still does when remembered')
})

t.test('a forged or altered cookie is refused every time, also next to a verified one', async t => {
  const signer = new CookieSigner([current], 100)
  const signed = signer.sign('session-id-1')
  t.equal(signer.unsign(signed).valid, true)
  const forged = [
    `${signed.slice(0, -1)}${signed.endsWith('A') ? 'B' : 'A'}`,
    `session-id-2${signed.slice(signed.indexOf('.'))}`,
    new Signer('x'.repeat(32)).sign('session-id-1'),
    'session-id-1',
    `${signed}x`,
  ]
  for (const value of forged) {
    t.same(signer.unsign(value), { valid: false, renew: false, value: null }, `refused: ${value}`)
    t.same(signer.unsign(value), { valid: false, renew: false, value: null }, `refused again: ${value}`)
  }
  t.equal(signer.unsign(signed).valid, true, 'the real cookie still verifies')
})

t.test('verified cookies are remembered up to the bound; past it they are verified again, with the same answer', async t => {
  const signer = new CookieSigner([current], 2)
  const cookies = ['a', 'b', 'c'].map(id => signer.sign(id))
  for (const c of cookies) t.equal(signer.unsign(c).valid, true)
  t.same(cookies.map(c => signer.unsign(c).value), ['a', 'b', 'c'])
})
