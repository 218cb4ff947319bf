import t from 'tap'
import fc from 'fast-check'
import { canonicalizeByDecoding, canonicalizeTarget, MAX_PATH_LENGTH, MAX_SEGMENTS } from '../../src/policy/canonical-path.js'
import type { PathRejection } from '../../src/policy/canonical-path.js'

t.test('accepted targets have one canonical path', async t => {
  // [target, path, matchPath, query]
  const accepted: Array<[string, string, string, string]> = [
    ['/', '/', '/', ''],
    ['/a/b', '/a/b', '/a/b', ''],
    ['/a/b/', '/a/b/', '/a/b/', ''],
    ['/a/./b', '/a/b', '/a/b', ''],
    ['/a/b/..', '/a/', '/a/', ''],
    ['/a/b/.', '/a/b/', '/a/b/', ''],
    ['/a/b/../', '/a/', '/a/', ''],
    ['/a/..', '/', '/', ''],
    ['/.', '/', '/', ''],
    ['/./', '/', '/', ''],
    ['/a/../b', '/b', '/b', ''],
    ['//admin', '/admin', '/admin', ''],
    ['/a//b///c', '/a/b/c', '/a/b/c', ''],
    ['/a//b//', '/a/b/', '/a/b/', ''],
    ['///', '/', '/', ''],
    ['/a/%2e%2e/b', '/b', '/b', ''],
    ['/public/%2e%2e/admin', '/admin', '/admin', ''],
    ['/public/%2E%2e/admin', '/admin', '/admin', ''],
    ['/public/.%2e/admin', '/admin', '/admin', ''],
    ['/a/%2e/b', '/a/b', '/a/b', ''],
    ['/%2e', '/', '/', ''],
    ['/admin/./', '/admin/', '/admin/', ''],
    ['/%41dmin', '/Admin', '/Admin', ''],
    ['/a%2Db%5f', '/a-b_', '/a-b_', ''],
    ['/caf%c3%a9', '/caf%C3%A9', '/caf%C3%A9', ''],
    ['/caf%C3%A9', '/caf%C3%A9', '/caf%C3%A9', ''],
    ['/%e6%97%a5%e6%9c%ac', '/%E6%97%A5%E6%9C%AC', '/%E6%97%A5%E6%9C%AC', ''],
    ['/%f0%9f%98%80', '/%F0%9F%98%80', '/%F0%9F%98%80', ''],
    ['/%7euser', '/~user', '/~user', ''],
    ['/a%20b', '/a%20b', '/a%20b', ''],
    ['/%3a', '/%3A', '/%3A', ''],
    ['/a%3bb', '/a%3Bb', '/a%3Bb', ''],
    ['/a/..%3b/b', '/a/..%3B/b', '/a/..%3B/b', ''],
    ['/a%25b', '/a%25b', '/a%25b', ''],
    ['/%252e', '/%252e', '/%252e', ''],
    ['/%252e%252e/x', '/%252e%252e/x', '/%252e%252e/x', ''],
    ['/%252E', '/%252E', '/%252E', ''],
    ['/admin;x', '/admin;x', '/admin', ''],
    ['/admin;jsessionid=ABC/page', '/admin;jsessionid=ABC/page', '/admin/page', ''],
    ['/a;/b', '/a;/b', '/a/b', ''],
    ['/a;x=1;y=2/b/', '/a;x=1;y=2/b/', '/a/b/', ''],
    ['/public;x/../admin', '/admin', '/admin', ''],
    ['/a?b=1', '/a', '/a', 'b=1'],
    ['/a?b=1?c=2', '/a', '/a', 'b=1?c=2'],
    ['/a?', '/a', '/a', ''],
    ['/x?y=%2F', '/x', '/x', 'y=%2F'],
    ['/x?y=%zz&z=../..%00', '/x', '/x', 'y=%zz&z=../..%00'],
    ['//a/./b/../c?q', '/a/c', '/a/c', 'q'],
    ['/ADMIN', '/ADMIN', '/ADMIN', ''],
    ['/Admin/%c3%89', '/Admin/%C3%89', '/Admin/%C3%89', ''],
    ['/a/b/c/../../d', '/a/d', '/a/d', ''],
    ['/.well-known/x', '/.well-known/x', '/.well-known/x', ''],
    ['/...', '/...', '/...', ''],
    ['/..a', '/..a', '/..a', ''],
    ['/a..', '/a..', '/a..', ''],
    ['/.a/.b./..c', '/.a/.b./..c', '/.a/.b./..c', ''],
    ["/!$&'()*+,=:@-._~", "/!$&'()*+,=:@-._~", "/!$&'()*+,=:@-._~", ''],
    ['/x;!$&=:@', '/x;!$&=:@', '/x', ''],
  ]
  t.ok(accepted.length >= 30, 'enough rows')
  for (const [target, path, matchPath, query] of accepted) {
    t.same(canonicalizeTarget(target), { ok: true, value: { path, matchPath, query } }, JSON.stringify(target))
  }
})

t.test('refused targets name the reason', async t => {
  const rejected: Array<[string, PathRejection]> = [
    ['/public/..%2fadmin', 'encoded_separator'],
    ['/public/..%2Fadmin', 'encoded_separator'],
    ['/%2f%2fevil.example', 'encoded_separator'],
    ['/a%5cb', 'encoded_separator'],
    ['/a%5Cb', 'encoded_separator'],
    ['/a\\b', 'bad_character'],
    ['/admin%00', 'encoded_control'],
    ['/admin%0a', 'encoded_control'],
    ['/admin%0D%0A', 'encoded_control'],
    ['/admin%1f', 'encoded_control'],
    ['/admin%7f', 'encoded_control'],
    ['/%', 'bad_percent_encoding'],
    ['/a%', 'bad_percent_encoding'],
    ['/%zz', 'bad_percent_encoding'],
    ['/%2', 'bad_percent_encoding'],
    ['/%g0', 'bad_percent_encoding'],
    ['/%c0%ae%c0%ae/', 'invalid_utf8'],
    ['/%e0%80%ae', 'invalid_utf8'],
    ['/%ed%a0%80', 'invalid_utf8'],
    ['/%f4%90%80%80', 'invalid_utf8'],
    ['/%ff', 'invalid_utf8'],
    ['/%c3', 'invalid_utf8'],
    ['/%c3a', 'invalid_utf8'],
    ['/%80', 'invalid_utf8'],
    ['/..', 'escapes_root'],
    ['/../admin', 'escapes_root'],
    ['/a/../../b', 'escapes_root'],
    ['/%2e%2e', 'escapes_root'],
    ['/%2e%2e/', 'escapes_root'],
    ['/%2e%2e/%2e%2e/x', 'escapes_root'],
    ['/.%2E/x', 'escapes_root'],
    ['//..//admin', 'escapes_root'],
    ['/;x/a', 'empty_segment_parameter'],
    ['/;x/', 'empty_segment_parameter'],
    ['/api/;/admin/users', 'empty_segment_parameter'],
    ['/api/;jsessionid=1/admin/users', 'empty_segment_parameter'],
    ['/..;/admin', 'dot_segment_parameter'],
    ['/public/..;/admin', 'dot_segment_parameter'],
    ['/.;x/admin', 'dot_segment_parameter'],
    ['/a/..;jsessionid=1', 'dot_segment_parameter'],
    ['/a/%2e%2e;x/b', 'dot_segment_parameter'],
    ['http://evil/admin', 'not_origin_form'],
    ['HTTP://x/', 'not_origin_form'],
    ['evil.example:443', 'not_origin_form'],
    ['*', 'not_origin_form'],
    ['', 'not_origin_form'],
    ['admin', 'not_origin_form'],
    ['?x=1', 'not_origin_form'],
    ['/a b', 'bad_character'],
    ['/a\tb', 'bad_character'],
    ['/a\nb', 'bad_character'],
    ['/a\x00', 'bad_character'],
    ['/a\x7f', 'bad_character'],
    ['/a#frag', 'bad_character'],
    ['/a?x=1#frag', 'bad_character'],
    ['/a\u00e9', 'bad_character'],
    ['/a\uD800', 'bad_character'],
    ['/a\u{1F600}', 'bad_character'],
    ['/a"b', 'bad_character'],
    ['/a<b', 'bad_character'],
    ['/a>b', 'bad_character'],
    ['/a^b', 'bad_character'],
    ['/a`b', 'bad_character'],
    ['/a{b', 'bad_character'],
    ['/a}b', 'bad_character'],
    ['/a|b', 'bad_character'],
    [`/${'a'.repeat(9000)}`, 'too_long'],
    ['/a'.repeat(300), 'too_long'],
  ]
  t.ok(rejected.length >= 35, 'enough rows')
  for (const [target, reason] of rejected) {
    const name = JSON.stringify(target.length > 40 ? `${target.slice(0, 40)}...(${target.length})` : target)
    const result = canonicalizeTarget(target)
    t.equal(result.ok, false, name)
    if (result.ok) continue
    t.equal(result.reason, reason, name)
    t.ok(result.detail.length > 0 && result.detail.length <= 160, `${name}: short detail`)
  }
})

t.test('limits are inclusive', async t => {
  t.equal(canonicalizeTarget(`/${'a'.repeat(MAX_PATH_LENGTH - 1)}`).ok, true, 'exactly MAX_PATH_LENGTH')
  t.match(canonicalizeTarget(`/${'a'.repeat(MAX_PATH_LENGTH)}`), { ok: false, reason: 'too_long' }, 'one over')
  t.equal(canonicalizeTarget('/a'.repeat(MAX_SEGMENTS)).ok, true, 'exactly MAX_SEGMENTS')
  t.match(canonicalizeTarget('/a'.repeat(MAX_SEGMENTS + 1)), { ok: false, reason: 'too_long' }, 'one over')
  t.equal(canonicalizeTarget(`/x?${'q'.repeat(100_000)}`).ok, true, 'the query is not limited here')
  t.match(canonicalizeTarget(`/${'\u00e9'.repeat(1_000_000)}`), { ok: false, reason: 'too_long' }, 'huge input is refused before scanning')
})

t.test('a non-string from untyped callers is refused, not thrown', async t => {
  t.match(canonicalizeTarget(undefined as unknown as string), { ok: false, reason: 'not_origin_form' })
})

t.test('details name the problem without echoing the input', async t => {
  t.match(canonicalizeTarget('/public/..%2fadmin'), { detail: "encoded '/' (%2F) at offset 10" })
  t.match(canonicalizeTarget('/a\tb'), { detail: /U\+0009 at offset 2/ })
  t.match(canonicalizeTarget('/a"b'), { detail: /'"' \(U\+0022\) at offset 2/ })
  const long = canonicalizeTarget(`/a/${'x'.repeat(500)};/..;${'y'.repeat(500)}`)
  t.match(long, { ok: false, reason: 'dot_segment_parameter' })
  if (!long.ok) t.ok(long.detail.length < 100, 'long segment is cut')
})

/** mulberry32: small seeded PRNG, so failures reproduce. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('random targets: never throws, accepted paths are canonical and idempotent', async t => {
  const alphabet = ['/', '.', '..', '%2e', '%2f', '%5c', ';', 'a', 'A', '%41', '%', '%c3%a9', '?', '\\', '%00']
  const random = prng(0x6a7e)
  const failures: string[] = []
  let accepted = 0
  for (let n = 0; n < 2000; n++) {
    let target = random() < 0.85 ? '/' : ''
    const length = Math.floor(random() * 12)
    for (let i = 0; i < length; i++) target += alphabet[Math.floor(random() * alphabet.length)]
    let result
    try {
      result = canonicalizeTarget(target)
    } catch (err) {
      failures.push(`${JSON.stringify(target)} threw ${String(err)}`)
      continue
    }
    if (!result.ok) continue
    accepted++
    const { path } = result.value
    const again = canonicalizeTarget(path)
    if (!again.ok || again.value.path !== path || again.value.query !== '') {
      failures.push(`${JSON.stringify(target)} -> ${path} is not idempotent: ${JSON.stringify(again)}`)
    }
    const bad = [
      !path.startsWith('/') && 'not rooted',
      path.includes('//') && '//',
      path.includes('/./') && '/./',
      path.includes('/../') && '/../',
      (path.endsWith('/.') || path.endsWith('/..')) && 'ends in a dot segment',
      /%2F|%5C|%00/i.test(path) && 'encoded separator or NUL',
    ].filter(Boolean)
    if (bad.length > 0) failures.push(`${JSON.stringify(target)} -> ${path}: ${bad.join(', ')}`)
  }
  t.same(failures, [], 'no property violations')
  t.ok(accepted > 200, `enough accepted samples (${accepted})`)
})

t.test('the plain-path shortcut gives what the general algorithm gives, for any target', async t => {
  const piece = fc.constantFrom('/', '//', '.', '..', 'a', 'B', '-', '_', '~', '%2e', '%41', ';x', '?', '#', 'é', '%2F', ' ', ':')
  const target = fc.array(piece, { maxLength: 14 }).map(parts => `/${parts.join('')}`)
  // fast-check shrinks a failure to the smallest target that shows it, and throws with it.
  t.doesNotThrow(() => {
    fc.assert(fc.property(fc.oneof(target, fc.string({ maxLength: 20 })), x => JSON.stringify(canonicalizeTarget(x)) === JSON.stringify(canonicalizeByDecoding(x))), { numRuns: 5000 })
  })
  const long = `/${'a/'.repeat(MAX_SEGMENTS)}b`
  t.same(canonicalizeTarget(long), canonicalizeByDecoding(long), 'too many segments')
  t.equal(canonicalizeTarget(long).ok, false)
  const longest = `/${'a'.repeat(MAX_PATH_LENGTH)}`
  t.same(canonicalizeTarget(longest), canonicalizeByDecoding(longest), 'too long')
})
