import t from 'tap'
import { emailClaim, parseEmailAddress } from '../../src/identify/email-address.js'

// [text, domain it parses to, or undefined when it is not exactly one address]
const TABLE: Array<[string, string | undefined]> = [
  ['alice@corp.example', 'corp.example'],
  ['Alice.Smith+tag@Corp.Example', 'corp.example'],
  ["o'brien!#$%&*/=?^_`{|}~@corp.example", 'corp.example'],
  ['"someone@evil.example"@corp.example', 'corp.example'],
  ['"with space and \\" quote"@corp.example', 'corp.example'],
  ['jörg@bücher.example', 'bücher.example'],
  ['a@xn--bcher-kva.example', 'xn--bcher-kva.example'],
  ['a@sub-domain.corp.example', 'sub-domain.corp.example'],
  // More than one @ outside a quoted local part.
  ['someone@evil.example@corp.example', undefined],
  ['"someone"@evil.example@corp.example', undefined],
  ['@corp.example', undefined],
  ['someone@', undefined],
  ['someone', undefined],
  ['', undefined],
  // Controls, anywhere.
  ['someone@evil.example\u0000@corp.example', undefined],
  ['some\u0000one@corp.example', undefined],
  ['someone@corp.example\u0000', undefined],
  ['"some\u0000one"@corp.example', undefined],
  ['someone@corp.example\r\nX-Gatehouse-User: admin', undefined],
  ['some\u200bone@corp.example', undefined],
  ['someone@corp.example\u2028', undefined],
  // List and group separators, display names, comments, white space.
  ['a@evil.example,b@corp.example', undefined],
  ['a@evil.example, b@corp.example', undefined],
  ['a@evil.example;b@corp.example', undefined],
  ['group: a@corp.example;', undefined],
  ['Alice <alice@corp.example>', undefined],
  ['<alice@corp.example>', undefined],
  ['alice(comment)@corp.example', undefined],
  ['alice@corp.example (comment)', undefined],
  [' alice@corp.example', undefined],
  ['alice@corp.example ', undefined],
  ['al ice@corp.example', undefined],
  // Dot-atoms: no leading, trailing or double dots.
  ['.alice@corp.example', undefined],
  ['alice.@corp.example', undefined],
  ['al..ice@corp.example', undefined],
  ['"unterminated@corp.example', undefined],
  ['"a"b"@corp.example', undefined],
  ['"ends in a backslash\\"@corp.example', undefined],
  // Domains: DNS names of two or more labels only.
  ['alice@corp', undefined],
  ['alice@corp.example.', undefined],
  ['alice@.corp.example', undefined],
  ['alice@corp..example', undefined],
  ['alice@-corp.example', undefined],
  ['alice@corp-.example', undefined],
  ['alice@corp_x.example', undefined],
  ['alice@evil!.example', undefined],
  ['alice@[192.0.2.1]', undefined],
  ['alice@[IPv6:2001:db8::1]', undefined],
  [`alice@${'a'.repeat(64)}.example`, undefined],
  [`${'a'.repeat(65)}@corp.example`, undefined],
  [`${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example`, undefined],
]

/** The case as printable ASCII (a line separator in a test name would end it). */
const label = (text: string): string => JSON.stringify(text).replace(/[^\x20-\x7e]/gu, c => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`)

t.test('an email is exactly one RFC 5322 addr-spec with a DNS domain', async t => {
  for (const [text, domain] of TABLE) t.equal(parseEmailAddress(text)?.domain, domain, label(text))
})

t.test('as a claim: only a string that is one address', async t => {
  t.equal(emailClaim('alice@corp.example'), 'alice@corp.example')
  t.equal(emailClaim('"a@b"@corp.example'), '"a@b"@corp.example', 'kept as written, quotes included')
  for (const value of ['a@evil.example@corp.example', ['alice@corp.example'], 42, null, undefined, { email: 'alice@corp.example' }]) t.equal(emailClaim(value), undefined, JSON.stringify(value))
})
