import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadPolicy, type Policy } from '../../src/policy/load-policy.js'
import { hostsCover, methodsCover, patternCovers, splitPath, type RouteLookup } from '../../src/policy/route-table.js'
import type { HostPattern, PathPattern } from '../../src/policy/types.js'

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-route-table-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const SETTINGS = { defaultUpstream: { url: 'http://127.0.0.1:3000', timeoutMs: 30000 } }

let fileCount = 0
function policyOf (yaml: string): Policy {
  const path = join(dir, `policy-${fileCount++}.yaml`)
  writeFileSync(path, yaml)
  return loadPolicy(path, SETTINGS).policy
}

/** One route per line: name, then the `match` object in YAML flow style. */
function routes (lines: Array<[string, string]>): string {
  return `routes:\n${lines.map(([name, match]) => `  - { name: ${name}, match: ${match}, allow: anyone }\n`).join('')}`
}

function show (result: RouteLookup): string {
  if (result.kind === 'none') return 'none'
  if (result.kind === 'ambiguous_case') return 'ambiguous_case'
  return result.route.name
}

type Row = [host: string, method: string, path: string, expected: string]

interface Equal { equal (found: unknown, wanted: unknown, message: string): unknown }

function check (t: Equal, policy: Policy, rows: readonly Row[]): void {
  for (const [host, method, path, expected] of rows) {
    t.equal(show(policy.table.lookup(host, method, path)), expected, `${method} //${host}${path} -> ${expected}`)
  }
}

// One policy, read top to bottom: the first route whose match fits wins.
const MAIN = policyOf(routes([
  ['exact-a', '{ path: /exact/a }'],
  ['one-seg', '{ path: /one/* }'],
  ['deep', '{ path: /deep/** }'],
  ['root', '{ path: / }'],
  ['mid-star', '{ path: /api/*/items }'],
  ['broad-first', '{ path: /first/** }'],
  ['narrow-after', '{ path: /first/special }'],
  ['narrow-before', '{ path: /second/special }'],
  ['broad-after', '{ path: /second/** }'],
  ['host-exact', '{ host: app.example.com, path: /h/** }'],
  ['host-wild', '{ host: "*.example.com", path: /h/** }'],
  ['wild-first', '{ host: "*.example.com", path: /w/** }'],
  ['exact-later', '{ host: app.example.com, path: /w/** }'],
  ['any-host-h', '{ path: /h/** }'],
  ['get-only', '{ path: /m/**, methods: [GET] }'],
  ['post-put', '{ path: /m/**, methods: [POST, PUT] }'],
  ['any-method-m', '{ path: /m/** }'],
  ['head-only', '{ path: /headonly, methods: [HEAD] }'],
  ['hostless-z', '{ path: /z/** }'],
  ['host-z', '{ host: app.example.com, path: /z/** }'],
  ['multi-host', '{ host: [a.test, b.test], path: /mh }'],
  ['catch-all', '{ path: /** }'],
]))

t.test('the compiled routes keep file order as their index', async t => {
  t.equal(MAIN.routes.length, 22)
  t.same(MAIN.routes.map(r => r.index), [...Array(22).keys()])
  t.equal(MAIN.routes[0]?.name, 'exact-a')
  t.equal(MAIN.routes[21]?.name, 'catch-all')
  t.equal(MAIN.table.routes, MAIN.routes)
})

t.test('paths: exact, one segment, any depth, root, catch-all', async t => {
  check(t, MAIN, [
    ['x.test', 'GET', '/exact/a', 'exact-a'],
    ['x.test', 'GET', '/exact/a/', 'exact-a'],
    ['x.test', 'GET', '/exact', 'catch-all'],
    ['x.test', 'GET', '/exact/a/b', 'catch-all'],
    ['x.test', 'GET', '/exact/b', 'catch-all'],
    ['x.test', 'GET', '/exact/ab', 'catch-all'],
    // /one/* is exactly one more segment
    ['x.test', 'GET', '/one/x', 'one-seg'],
    ['x.test', 'GET', '/one/x/', 'one-seg'],
    ['x.test', 'GET', '/one/*', 'one-seg'],
    ['x.test', 'GET', '/one', 'catch-all'],
    ['x.test', 'GET', '/one/', 'catch-all'],
    ['x.test', 'GET', '/one/a/b', 'catch-all'],
    ['x.test', 'GET', '/onex', 'catch-all'],
    // /deep/** is /deep itself and anything below it
    ['x.test', 'GET', '/deep', 'deep'],
    ['x.test', 'GET', '/deep/', 'deep'],
    ['x.test', 'GET', '/deep/a', 'deep'],
    ['x.test', 'GET', '/deep/a/b/c', 'deep'],
    ['x.test', 'GET', '/deepx', 'catch-all'],
    ['x.test', 'GET', '/deepx/a', 'catch-all'],
    ['x.test', 'GET', '/x/deep', 'catch-all'],
    // / is only the root
    ['x.test', 'GET', '/', 'root'],
    ['x.test', 'GET', '/nothing', 'catch-all'],
    ['x.test', 'GET', '/a/b/c/d/e/f', 'catch-all'],
    // * in the middle
    ['x.test', 'GET', '/api/v1/items', 'mid-star'],
    ['x.test', 'GET', '/api/v2/items/', 'mid-star'],
    ['x.test', 'GET', '/api/items', 'catch-all'],
    ['x.test', 'GET', '/api/v1/items/7', 'catch-all'],
    ['x.test', 'GET', '/api/v1/x/items', 'catch-all'],
    ['x.test', 'GET', '/api/v1/other', 'catch-all'],
  ])
})

t.test('first match in file order, not the most specific', async t => {
  check(t, MAIN, [
    // broad before narrow: the broad one wins, the narrow one never matches
    ['x.test', 'GET', '/first/special', 'broad-first'],
    ['x.test', 'GET', '/first/other', 'broad-first'],
    ['x.test', 'GET', '/first', 'broad-first'],
    // narrow before broad: each gets its own
    ['x.test', 'GET', '/second/special', 'narrow-before'],
    ['x.test', 'GET', '/second/special/x', 'broad-after'],
    ['x.test', 'GET', '/second/other', 'broad-after'],
    ['x.test', 'GET', '/second', 'broad-after'],
  ])
})

t.test('hosts: exact, *.domain, any host, preferred only by order', async t => {
  check(t, MAIN, [
    ['app.example.com', 'GET', '/h/x', 'host-exact'],
    ['a.example.com', 'GET', '/h/x', 'host-wild'],
    ['a.b.example.com', 'GET', '/h/x', 'host-wild'],
    ['example.com', 'GET', '/h/x', 'any-host-h'],
    ['badexample.com', 'GET', '/h/x', 'any-host-h'],
    ['app.example.com.evil', 'GET', '/h/x', 'any-host-h'],
    ['example.com.', 'GET', '/h/x', 'any-host-h'],
    ['', 'GET', '/h/x', 'any-host-h'],
    // the wildcard route comes first, so it wins over the later exact host
    ['app.example.com', 'GET', '/w/x', 'wild-first'],
    ['b.example.com', 'GET', '/w', 'wild-first'],
    ['other.test', 'GET', '/w/x', 'catch-all'],
    ['example.com', 'GET', '/w/x', 'catch-all'],
    // a route without host, earlier, wins over a later host route
    ['app.example.com', 'GET', '/z/x', 'hostless-z'],
    // a host list
    ['a.test', 'GET', '/mh', 'multi-host'],
    ['b.test', 'GET', '/mh', 'multi-host'],
    ['c.test', 'GET', '/mh', 'catch-all'],
    ['x.a.test', 'GET', '/mh', 'catch-all'],
    // a host route's path still has to fit
    ['app.example.com', 'GET', '/other', 'catch-all'],
  ])
})

t.test('methods: lists, HEAD fits GET, others fall through', async t => {
  check(t, MAIN, [
    ['x.test', 'GET', '/m/x', 'get-only'],
    ['x.test', 'HEAD', '/m/x', 'get-only'],
    ['x.test', 'POST', '/m/x', 'post-put'],
    ['x.test', 'PUT', '/m', 'post-put'],
    ['x.test', 'DELETE', '/m/x', 'any-method-m'],
    ['x.test', 'OPTIONS', '/m/x', 'any-method-m'],
    ['x.test', 'PATCH', '/m/x', 'any-method-m'],
    // HEAD only: GET does not fit it
    ['x.test', 'HEAD', '/headonly', 'head-only'],
    ['x.test', 'GET', '/headonly', 'catch-all'],
  ])
  t.same([...(MAIN.routes[14]?.methods ?? [])], ['GET'])
  t.equal(MAIN.routes[16]?.methods, undefined)
})

t.test('letter case: a path whose case selects another route than its lower-case form is refused', async t => {
  const lower = policyOf(routes([
    ['admin', '{ path: /admin/** }'],
    ['all', '{ path: /** }'],
  ]))
  check(t, lower, [
    ['x.test', 'GET', '/admin/x', 'admin'],
    ['x.test', 'GET', '/admin', 'admin'],
    ['x.test', 'GET', '/ADMIN/x', 'ambiguous_case'],
    ['x.test', 'GET', '/Admin', 'ambiguous_case'],
    ['x.test', 'GET', '/aDMIN/', 'ambiguous_case'],
    // same route either way: not ambiguous
    ['x.test', 'GET', '/Other', 'all'],
    ['x.test', 'GET', '/OTHER/Deeper', 'all'],
    ['x.test', 'GET', '/admin/X', 'admin'],
  ])
  const ambiguous = lower.table.lookup('x.test', 'GET', '/ADMIN/x')
  t.equal(ambiguous.kind, 'ambiguous_case')
  if (ambiguous.kind === 'ambiguous_case') {
    t.equal(ambiguous.asWritten?.name, 'all', 'asWritten: what the exact case selects')
    t.equal(ambiguous.lowerCase?.name, 'admin', 'lowerCase: what lower case selects')
  }

  // In the main policy, /exact/a exists and no pattern has upper case.
  check(t, MAIN, [
    ['x.test', 'GET', '/exact/A', 'ambiguous_case'],
    ['x.test', 'GET', '/EXACT/a', 'ambiguous_case'],
    ['x.test', 'GET', '/Nothing', 'catch-all'],
    ['app.example.com', 'GET', '/H/x', 'ambiguous_case'],
  ])

  const upper = policyOf(routes([
    ['API', '{ path: /API/** }'],
    ['all', '{ path: /** }'],
  ]))
  check(t, upper, [
    ['x.test', 'GET', '/API/x', 'API'],
    ['x.test', 'GET', '/API', 'API'],
    // a lower-case path fits /API/** only when case is ignored
    ['x.test', 'GET', '/api/x', 'ambiguous_case'],
    ['x.test', 'GET', '/Api/x', 'ambiguous_case'],
    ['x.test', 'GET', '/other', 'all'],
    ['x.test', 'GET', '/OTHER', 'all'],
  ])
  const api = upper.table.lookup('x.test', 'GET', '/api/x')
  if (api.kind === 'ambiguous_case') {
    t.equal(api.asWritten?.name, 'all')
    t.equal(api.lowerCase?.name, 'API')
  } else t.fail(`expected ambiguous_case, got ${api.kind}`)

  const only = policyOf(routes([['admin', '{ path: /admin/** }']]))
  check(t, only, [
    ['x.test', 'GET', '/admin/x', 'admin'],
    ['x.test', 'GET', '/ADMIN/x', 'ambiguous_case'],
    ['x.test', 'GET', '/nothing', 'none'],
    ['x.test', 'GET', '/NOTHING', 'none'],
    ['x.test', 'GET', '/', 'none'],
  ])
  const none = only.table.lookup('x.test', 'GET', '/ADMIN/x')
  if (none.kind === 'ambiguous_case') {
    // no route fits the exact case
    t.equal(none.asWritten, undefined)
    t.equal(none.lowerCase?.name, 'admin')
  } else t.fail(`expected ambiguous_case, got ${none.kind}`)
})

t.test('no route fits: none', async t => {
  const policy = policyOf(routes([
    ['only', '{ path: /only/** }'],
    ['host', '{ host: app.example.com, path: /** }'],
    ['post', '{ path: /post, methods: [POST] }'],
  ]))
  check(t, policy, [
    ['x.test', 'GET', '/only/a', 'only'],
    ['x.test', 'GET', '/elsewhere', 'none'],
    ['x.test', 'GET', '/', 'none'],
    ['app.example.com', 'GET', '/elsewhere', 'host'],
    ['app.example.com', 'GET', '/', 'host'],
    ['sub.app.example.com', 'GET', '/elsewhere', 'none'],
    ['x.test', 'POST', '/post', 'post'],
    ['x.test', 'GET', '/post', 'none'],
    ['x.test', 'HEAD', '/post', 'none'],
  ])
})

function pattern (text: string): PathPattern {
  return { text, segments: text === '/' ? [] : text.split('/').slice(1) }
}

function hosts (...texts: string[]): HostPattern[] {
  return texts.map(text => text.startsWith('*.') ? { text, host: text.slice(2), wildcard: true } : { text, host: text, wildcard: false })
}

t.test('the compiled patterns are what the helpers below are given', async t => {
  const policy = policyOf(routes([
    ['r', '{ path: /a/*/** }'],
    ['s', '{ host: ["*.Example.COM.", app.example.com], path: / }'],
  ]))
  t.same(policy.routes[0]?.path, pattern('/a/*/**'))
  t.same(policy.routes[1]?.path, pattern('/'))
  t.same(policy.routes[1]?.hosts, [
    { text: '*.Example.COM.', host: 'example.com', wildcard: true },
    { text: 'app.example.com', host: 'app.example.com', wildcard: false },
  ])
})

t.test('patternCovers: a fits every path that b fits', async t => {
  const rows: Array<[string, string, boolean]> = [
    ['/**', '/', true],
    ['/**', '/a/b/**', true],
    ['/', '/', true],
    ['/', '/a', false],
    ['/a', '/', false],
    ['/a', '/a', true],
    ['/a', '/b', false],
    ['/a', '/a/b', false],
    ['/a/b', '/a', false],
    ['/a/**', '/a', true],
    ['/a/**', '/a/b/c', true],
    ['/a/**', '/a/*', true],
    ['/a/**', '/a/**', true],
    ['/a/**', '/ab', false],
    ['/a/**', '/**', false],
    ['/a', '/a/**', false],
    ['/a/*', '/a/b', true],
    ['/a/*', '/a/*', true],
    ['/a/*', '/a', false],
    ['/a/*', '/a/**', false],
    ['/a/*', '/a/b/c', false],
    ['/a/b', '/a/*', false],
    ['/*/b', '/a/b', true],
    ['/*/b', '/a/c', false],
    ['/*/**', '/a', true],
    ['/*/**', '/', false],
    ['/A/**', '/a/b', false],
  ]
  for (const [a, b, expected] of rows) t.equal(patternCovers(pattern(a), pattern(b)), expected, `${a} covers ${b}: ${expected}`)
})

t.test('hostsCover: a fits every host that b fits', async t => {
  const rows: Array<[HostPattern[] | undefined, HostPattern[] | undefined, boolean, string]> = [
    [undefined, undefined, true, 'any / any'],
    [undefined, hosts('a.test'), true, 'any / exact'],
    [hosts('a.test'), undefined, false, 'exact / any'],
    [hosts('a.test'), hosts('a.test'), true, 'same exact'],
    [hosts('a.test'), hosts('b.test'), false, 'other exact'],
    [hosts('a.test', 'b.test'), hosts('b.test'), true, 'list contains'],
    [hosts('a.test'), hosts('a.test', 'b.test'), false, 'list not contained'],
    [hosts('*.example.com'), hosts('a.example.com'), true, 'wildcard / subdomain'],
    [hosts('*.example.com'), hosts('a.b.example.com'), true, 'wildcard / deeper subdomain'],
    [hosts('*.example.com'), hosts('example.com'), false, 'wildcard / its own domain'],
    [hosts('*.example.com'), hosts('badexample.com'), false, 'wildcard / suffix trick'],
    [hosts('*.example.com'), hosts('*.example.com'), true, 'same wildcard'],
    [hosts('*.example.com'), hosts('*.a.example.com'), true, 'wildcard / narrower wildcard'],
    [hosts('*.a.example.com'), hosts('*.example.com'), false, 'narrower wildcard / wildcard'],
    [hosts('a.example.com'), hosts('*.example.com'), false, 'exact / wildcard'],
    [hosts('*.example.com', 'example.com'), hosts('example.com', 'x.example.com'), true, 'mixed lists'],
  ]
  for (const [a, b, expected, name] of rows) t.equal(hostsCover(a, b), expected, name)
})

t.test('methodsCover: a fits every method that b fits', async t => {
  const set = (...m: string[]): Set<string> => new Set(m)
  const rows: Array<[Set<string> | undefined, Set<string> | undefined, boolean, string]> = [
    [undefined, undefined, true, 'any / any'],
    [undefined, set('GET'), true, 'any / GET'],
    [set('GET'), undefined, false, 'GET / any'],
    [set('GET'), set('GET'), true, 'GET / GET'],
    [set('GET'), set('HEAD'), true, 'GET / HEAD'],
    [set('HEAD'), set('GET'), false, 'HEAD / GET'],
    [set('GET'), set('GET', 'HEAD'), true, 'GET / GET HEAD'],
    [set('GET'), set('GET', 'POST'), false, 'GET / GET POST'],
    [set('GET', 'POST', 'PUT'), set('PUT', 'POST'), true, 'superset'],
    [set('POST'), set('PUT'), false, 'disjoint'],
  ]
  for (const [a, b, expected, name] of rows) t.equal(methodsCover(a, b), expected, name)
})

t.test('splitPath: segments, trailing and doubled slashes ignored', async t => {
  const rows: Array<[string, string[]]> = [
    ['/', []],
    ['', []],
    ['/a', ['a']],
    ['/a/', ['a']],
    ['/a/b/c', ['a', 'b', 'c']],
    ['/a//b', ['a', 'b']],
    ['a/b', ['a', 'b']],
    ['/%2F/x', ['%2F', 'x']],
    ['/A/b;c', ['A', 'b;c']],
  ]
  for (const [path, expected] of rows) t.same(splitPath(path), expected, JSON.stringify(path))
})

t.test('10,000 routes: lookups still find the right route', async t => {
  const lines = ['routes:']
  for (let i = 0; i < 10000; i++) lines.push(`  - { name: svc${i}, match: { path: /svc${i}/** }, allow: anyone }`)
  lines.push('  - { name: fallback, match: { path: /** }, allow: anyone }')
  const path = join(dir, 'many.yaml')
  writeFileSync(path, `${lines.join('\n')}\n`)
  const { policy, warnings } = loadPolicy(path, SETTINGS)
  t.equal(policy.routes.length, 10001)
  t.same(warnings, [], 'no route shadows another')
  check(t, policy, [
    ['x.test', 'GET', '/svc0', 'svc0'],
    ['x.test', 'GET', '/svc0/x', 'svc0'],
    ['x.test', 'POST', '/svc5000/a/b', 'svc5000'],
    ['x.test', 'GET', '/svc9999/', 'svc9999'],
    ['x.test', 'GET', '/svc10000/x', 'fallback'],
    ['x.test', 'GET', '/svc', 'fallback'],
    ['x.test', 'GET', '/', 'fallback'],
    ['x.test', 'GET', '/x/svc1', 'fallback'],
    ['x.test', 'GET', '/SVC1/x', 'ambiguous_case'],
  ])
})
