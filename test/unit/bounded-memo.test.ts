import t from 'tap'
import { boundedMemo } from '../../src/bounded-memo.js'

t.test('answers are remembered for a bounded number of short keys', async t => {
  const calls: string[] = []
  const upper = boundedMemo((key: string) => { calls.push(key); return key.toUpperCase() }, 2, 5)
  t.equal(upper('a'), 'A')
  t.equal(upper('a'), 'A')
  t.same(calls, ['a'], 'asked once')
  upper('b')
  upper('c') // full: starts again empty, then keeps c
  upper('c')
  upper('a')
  t.same(calls, ['a', 'b', 'c', 'a'], 'cleared when full, so a is asked again')
  t.equal(upper('longer'), 'LONGER')
  t.equal(upper('longer'), 'LONGER')
  t.same(calls.slice(-2), ['longer', 'longer'], 'keys over the length limit are never kept')
  const falsy = boundedMemo((key: string) => { calls.push(key); return key === 'x' ? undefined : false }, 10)
  falsy('x')
  falsy('x')
  t.equal(calls.filter(k => k === 'x').length, 1, 'an undefined answer is remembered too')
})
