import t from 'tap'
import { SIGNIN_TTL_MS, SigninStateCodec } from '../../src/signin/signin-state.js'

const codec = new SigninStateCodec('s'.repeat(40))

t.test('a state opens in the browser it was made for, and carries the attempt', async t => {
  const binding = SigninStateCodec.newBinding()
  const { state, pending } = await codec.create(binding, '/wanted?x=1')
  t.notOk(state.includes(pending.codeVerifier), 'the verifier is not readable in the state')
  const opened = await codec.open(state, binding)
  t.equal(opened.returnTo, '/wanted?x=1')
  t.equal(opened.codeVerifier, pending.codeVerifier)
  t.equal(opened.nonce, pending.nonce)
  t.equal(opened.id, pending.id)
})

t.test('each way a state can be wrong is refused', async t => {
  const binding = SigninStateCodec.newBinding()
  const now = Date.now()
  const { state } = await codec.create(binding, '/', now)
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['another browser', async () => await codec.open(state, SigninStateCodec.newBinding())],
    ['no cookie', async () => await codec.open(state, undefined)],
    ['expired', async () => await codec.open(state, binding, now + SIGNIN_TTL_MS + 60_000)],
    ['another gateway secret', async () => await new SigninStateCodec('t'.repeat(40)).open(state, binding)],
    ['tampered', async () => await codec.open(state.slice(0, -2) + (state.endsWith('AA') ? 'BB' : 'AA'), binding)],
    ['garbage', async () => await codec.open('garbage', binding)],
  ]
  for (const [name, attempt] of cases) await t.rejects(attempt(), { code: 'GH_SIGNIN_STATE_INVALID' }, name)
})

t.test('binding values have one form', async t => {
  t.ok(SigninStateCodec.isBinding(SigninStateCodec.newBinding()))
  for (const v of [undefined, '', 'short', 'a'.repeat(44), `${'a'.repeat(42)}=`]) t.notOk(SigninStateCodec.isBinding(v), String(v))
})
