import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { DEFAULT_UPSTREAM_NAME, defaultPolicy, loadPolicy, type PolicySettings } from '../../src/policy/load-policy.js'
import type { ConditionSet, Route } from '../../src/policy/types.js'
import { problemsOf } from '../helpers/problems.js'

/** A route's allow entries ([] for anyone / authenticated). */
function entries (route: Route | undefined): readonly ConditionSet[] {
  return route === undefined || typeof route.allow === 'string' ? [] : route.allow
}

const root = mkdtempSync(join(tmpdir(), 'gatehouse-load-policy-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))

const SETTINGS: PolicySettings = { defaultUpstream: { url: 'http://127.0.0.1:3000', timeoutMs: 30000 } }

let dirCount = 0
/** A fresh folder holding `files`. */
function folder (files: Record<string, string>): string {
  const dir = join(root, `case-${dirCount++}`)
  mkdirSync(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

function file (text: string): string {
  return join(folder({ 'p.yaml': text }), 'p.yaml')
}


interface Bad {
  name: string
  /** One file is loaded as p.yaml; several are loaded as a folder. */
  files: Record<string, string>
  settings?: PolicySettings
  /** [where relative to the case folder ('p.yaml:4:15', or '' for the folder itself), message fragment with {dir} for the case folder]. */
  errors: Array<[string, string]>
}

const route = (extra: string, path = '/a'): string => `routes:\n  - name: a\n    match: { path: ${path} }\n${extra}`

const BAD: Bad[] = [
  {
    name: 'unknown upstream name',
    files: { 'p.yaml': route('    upstream: nope\n    allow: anyone\n') },
    errors: [['p.yaml:4:15', 'unknown upstream "nope"; known: default']],
  },
  {
    name: 'unknown upstream name, with named upstreams and no default',
    files: {
      'p.yaml': `upstreams:
  api: { url: "http://api:8080" }
  web: { url: "http://web" }
routes:
  - name: a
    match: { path: /a }
    upstream: ap
    allow: anyone
`,
    },
    settings: { defaultUpstream: undefined },
    errors: [['p.yaml:7:15', 'unknown upstream "ap"; known: api, web']],
  },
  {
    name: 'duplicate route name within a file',
    files: {
      'p.yaml': `routes:
  - name: a
    match: { path: /a }
    allow: anyone
  - name: a
    match: { path: /b }
    allow: anyone
`,
    },
    errors: [['p.yaml:5:11', 'route name "a" is already used at {dir}/p.yaml:2:5']],
  },
  {
    name: 'duplicate route name across two files of a folder',
    files: {
      '10-a.yaml': 'routes:\n  - { name: x, match: { path: /a }, allow: anyone }\n',
      '20-b.yaml': 'routes:\n  - name: y\n    match: { path: /y }\n    allow: anyone\n  - name: x\n    match: { path: /b }\n    allow: anyone\n',
    },
    errors: [['20-b.yaml:5:11', 'route name "x" is already used at {dir}/10-a.yaml:2:5']],
  },
  {
    name: 'duplicate upstream across files',
    files: {
      '10-a.yaml': 'upstreams:\n  api: { url: "http://one" }\nroutes:\n  - { name: a, match: { path: /a }, upstream: api, allow: anyone }\n',
      '20-b.yaml': 'upstreams:\n  web: { url: "http://web" }\n  api: { url: "http://two" }\n',
    },
    errors: [['20-b.yaml:3:3', 'upstream "api" is already defined at {dir}/10-a.yaml:2:3']],
  },
  {
    name: 'an upstream named default when the gateway config has one',
    files: { 'p.yaml': 'upstreams:\n  default: { url: "http://other" }\n' + route('    allow: anyone\n') },
    errors: [['p.yaml:2:3', 'upstream "default" is already defined at config upstream.url']],
  },
  {
    name: 'CIDR prefix too long',
    files: { 'p.yaml': route('    allow:\n      - ip: ["10.0.0.0/33"]\n') },
    errors: [['p.yaml:5:14', '"10.0.0.0/33" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)']],
  },
  {
    name: 'not an IP',
    files: { 'p.yaml': route('    allow:\n      - ip: [not-an-ip]\n') },
    errors: [['p.yaml:5:14', '"not-an-ip" is not an IP address or range']],
  },
  {
    name: 'odd IPv4 spellings (10.1, hex, prefix on them)',
    files: { 'p.yaml': route('    allow:\n      - ip: ["10.1", "0x0a.0.0.0/8", "10.1/16"]\n') },
    errors: [
      ['p.yaml:5:14', '"10.1" is not a dotted-quad IPv4 address; write all four parts in decimal'],
      ['p.yaml:5:22', '"0x0a.0.0.0/8" is not a dotted-quad IPv4 address; write all four parts in decimal'],
      ['p.yaml:5:38', '"10.1/16" is not a dotted-quad IPv4 address; write all four parts in decimal'],
    ],
  },
  {
    name: 'an unquoted 10.1 is a YAML number (in deny, where the schema names it)',
    files: { 'p.yaml': route('    allow: anyone\n    deny:\n      - ip: [10.1]\n') },
    errors: [['p.yaml:6:14', 'routes.0.deny.0.ip.0 must be string']],
  },
  {
    name: 'anonymous with groups',
    files: { 'p.yaml': route('    allow:\n      - anonymous: true\n        groups: [staff]\n') },
    errors: [['p.yaml:5:20', 'an anonymous entry cannot also test the user (groups); write two entries']],
  },
  {
    name: 'anonymous with several user conditions',
    files: { 'p.yaml': route('    allow:\n      - { ip: ["10.0.0.0/8"], anonymous: true, mfa: true, emails: [a@b.c] }\n') },
    errors: [['p.yaml:5:42', 'an anonymous entry cannot also test the user (emails, mfa); write two entries']],
  },
  {
    name: 'anonymous in deny',
    files: { 'p.yaml': route('    allow: anyone\n    deny:\n      - anonymous: true\n        ip: ["10.0.0.0/8"]\n') },
    errors: [['p.yaml:6:20', '"anonymous" has no meaning in deny']],
  },
  {
    name: '** not last',
    files: { 'p.yaml': route('    allow: anyone\n', '/a/**/b') },
    errors: [['p.yaml:3:20', '"**" may only end a path pattern ("/a/**/b")']],
  },
  {
    name: '* inside a segment',
    files: { 'p.yaml': route('    allow: anyone\n', '/a*b') },
    errors: [['p.yaml:3:20', '"*" stands for a whole segment; "a*b" is not allowed in "/a*b"']],
  },
  {
    name: '** inside a segment',
    files: { 'p.yaml': route('    allow: anyone\n', '/x/a**') },
    errors: [['p.yaml:3:20', '"*" stands for a whole segment; "a**" is not allowed in "/x/a**"']],
  },
  {
    name: 'dot segments',
    files: { 'p.yaml': route('    allow: anyone\n', '/a/../b') },
    errors: [['p.yaml:3:20', 'path pattern "/a/../b" is not in canonical form; requests are matched in canonical form (write "/b" with the same wildcards)']],
  },
  {
    name: 'an empty segment',
    files: { 'p.yaml': route('    allow: anyone\n', '/a//b') },
    errors: [['p.yaml:3:20', 'path pattern "/a//b" has an empty segment']],
  },
  {
    name: 'a trailing slash',
    files: { 'p.yaml': route('    allow: anyone\n', '/a/') },
    errors: [['p.yaml:3:20', 'path pattern "/a/" has an empty segment']],
  },
  {
    name: 'an escaped unreserved character',
    files: { 'p.yaml': route('    allow: anyone\n', '/%41') },
    errors: [['p.yaml:3:20', 'path pattern "/%41" is not in canonical form; requests are matched in canonical form (write "/A" with the same wildcards)']],
  },
  {
    name: 'a character that is never in a path',
    files: { 'p.yaml': route('    allow: anyone\n', '"/a b"') },
    errors: [['p.yaml:3:20', 'path pattern "/a b" is not a valid path (character U+0020 at offset 2 is not allowed in a path)']],
  },
  {
    name: '; in a pattern',
    files: { 'p.yaml': route('    allow: anyone\n', '/a;x/b') },
    errors: [['p.yaml:3:20', 'path patterns match paths without ;parameters; remove ";x" from "/a;x/b"']],
  },
  {
    name: 'a path not starting with /',
    files: { 'p.yaml': route('    allow: anyone\n', 'a/b') },
    errors: [['p.yaml:3:20', 'routes.0.match.path has the wrong form (must match ^/)']],
  },
  {
    name: 'rewrite_prefix on a path without /**',
    files: { 'p.yaml': route('    rewrite_prefix: /v2\n    allow: anyone\n', '/a/*') },
    errors: [['p.yaml:4:21', 'rewrite_prefix needs a path of the form /literal/prefix/**']],
  },
  {
    name: 'rewrite_prefix on a path with * before /**',
    files: { 'p.yaml': route('    rewrite_prefix: /v2\n    allow: anyone\n', '/a/*/**') },
    errors: [['p.yaml:4:21', 'rewrite_prefix needs a path of the form /literal/prefix/**']],
  },
  {
    name: 'rewrite_prefix that is not a plain path',
    files: { 'p.yaml': route('    rewrite_prefix: /v2/../x\n    allow: anyone\n', '/a/**') },
    errors: [['p.yaml:4:21', 'rewrite_prefix must be a plain path such as /v2 (got "/v2/../x")']],
  },
  {
    name: 'websocket_origins that are not origins',
    files: { 'p.yaml': route('    websocket_origins:\n      - https://ok.example.com\n      - https://app.example.com/path\n      - app.example.com\n      - "ftp://files.example.com"\n    allow: anyone\n') },
    errors: [
      ['p.yaml:6:9', '"https://app.example.com/path" is not an origin: give scheme://host[:port], e.g. https://app.example.com (no path, query or credentials)'],
      ['p.yaml:7:9', '"app.example.com" is not an origin: give scheme://host[:port], e.g. https://app.example.com (no path, query or credentials)'],
      ['p.yaml:8:9', '"ftp://files.example.com" is not an origin: give scheme://host[:port], e.g. https://app.example.com (no path, query or credentials)'],
    ],
  },
  {
    name: 'reserved header names',
    files: { 'p.yaml': route('    headers:\n      user: Cookie\n      email: X-Gatehouse-User\n      name: Remote-Name\n    allow: anyone\n') },
    errors: [
      ['p.yaml:5:13', '"Cookie" cannot carry identity: the name is reserved'],
      ['p.yaml:6:14', '"X-Gatehouse-User" cannot carry identity: the name is reserved'],
    ],
  },
  {
    name: 'downstream token headers that are reserved or carry identity',
    files: { 'p.yaml': 'routes:\n  - name: a\n    match: { path: /a }\n    allow: authenticated\n    downstream_token: { scopes: [s], header: X-Gatehouse-Assertion }\n  - name: b\n    match: { path: /b }\n    allow: authenticated\n    headers: { user: Remote-User }\n    downstream_token: { scopes: [s], header: REMOTE-USER }\n  - name: c\n    match: { path: /c }\n    allow: authenticated\n    downstream_token: { scopes: [s], header: Authorization }\n  - name: d\n    match: { path: /d }\n    allow: authenticated\n    downstream_token: { scopes: [s], header: X-Gatehouse-Client-Cert-Subject }\n' },
    errors: [
      ['p.yaml:5:46', '"X-Gatehouse-Assertion" cannot carry a downstream token: the name is reserved'],
      ['p.yaml:10:46', '"REMOTE-USER" already carries identity on this route'],
      ['p.yaml:14:46', '"Authorization" cannot carry a downstream token: the name is reserved'],
      ['p.yaml:18:46', '"X-Gatehouse-Client-Cert-Subject" cannot carry a downstream token: the name is reserved'],
    ],
  },
  {
    name: 'reserved header names in any case',
    files: { 'p.yaml': route('    headers: { groups: AUTHORIZATION, roles: x-forwarded-for }\n    allow: anyone\n') },
    errors: [
      ['p.yaml:4:24', '"AUTHORIZATION" cannot carry identity: the name is reserved'],
      ['p.yaml:4:46', '"x-forwarded-for" cannot carry identity: the name is reserved'],
    ],
  },
  {
    name: 'unknown keys with a did-you-mean suggestion',
    files: { 'p.yaml': 'routes:\n  - name: a\n    match: { path: /a, paht: /b }\n    upstrem: default\n    allow: anyone\n    deny:\n      - grups: [x]\n' },
    errors: [
      ['p.yaml:3:24', 'unknown key "routes.0.match.paht" (did you mean "path"?)'],
      ['p.yaml:4:5', 'unknown key "routes.0.upstrem" (did you mean "upstream"?)'],
      ['p.yaml:7:9', 'unknown key "routes.0.deny.0.grups" (did you mean "groups"?)'],
    ],
  },
  {
    name: 'an unknown key with nothing close',
    files: { 'p.yaml': 'route:\n  - name: a\n' },
    errors: [['p.yaml:1:1', 'unknown key "route" (did you mean "routes"?)']],
  },
  {
    name: 'an unknown key with no suggestion',
    files: { 'p.yaml': route('    allow: anyone\n    colour: blue\n') },
    errors: [['p.yaml:5:5', 'unknown key "routes.0.colour"']],
  },
  {
    // Current behaviour, questionable: anything wrong inside an allow entry (a typo, a number where a
    // string belongs) is reported only as allow's oneOf description, without the key or a suggestion.
    name: 'a typo inside an allow entry',
    files: { 'p.yaml': route('    allow:\n      - grups: [x]\n') },
    errors: [['p.yaml:5:9', 'unknown key "routes.0.allow.0.grups" (did you mean "groups"?)']],
  },
  {
    name: 'allow: everyone',
    files: { 'p.yaml': route('    allow: everyone\n') },
    errors: [['p.yaml:4:12', 'routes.0.allow has the wrong form: `anyone` (no sign-in), `authenticated` (any signed-in user), or a list of alternatives']],
  },
  {
    name: 'missing allow',
    files: { 'p.yaml': route('') },
    errors: [['p.yaml:2:5', 'routes.0: "allow" is required']],
  },
  {
    name: 'missing match.path',
    files: { 'p.yaml': 'routes:\n  - name: a\n    match: { host: app.example.com }\n    allow: anyone\n' },
    errors: [['p.yaml:3:12', 'routes.0.match: "path" is required']],
  },
  {
    name: 'a duration without a unit',
    files: { 'p.yaml': route('    timeout: 30\n    allow: anyone\n') },
    errors: [['p.yaml:4:14', 'routes.0.timeout must be string']],
  },
  {
    name: 'a duration with an unknown unit',
    files: { 'p.yaml': 'upstreams:\n  api: { url: "http://api", timeout: 30x }\n' + route('    upstream: api\n    allow: anyone\n') },
    errors: [['p.yaml:2:38', 'upstreams.api.timeout has the wrong form (a duration such as 500ms, 30s, 5m, 12h)']],
  },
  {
    name: 'an upstream URL with a query',
    files: { 'p.yaml': 'upstreams:\n  api:\n    url: "http://api:8080/?x=1"\n' + route('    allow: anyone\n') },
    errors: [['p.yaml:3:10', 'an upstream URL is an origin only (no path, query, fragment or credentials)']],
  },
  {
    name: 'an upstream URL with a path',
    files: { 'p.yaml': 'upstreams:\n  api:\n    url: "http://api:8080/base"\n' + route('    allow: anyone\n') },
    errors: [['p.yaml:3:10', 'an upstream URL is an origin only (no path, query, fragment or credentials); to add a path prefix, use rewrite_prefix on the route']],
  },
  {
    name: 'an upstream URL with credentials',
    files: { 'p.yaml': 'upstreams:\n  api:\n    url: "http://user:pw@api"\n' + route('    allow: anyone\n') },
    errors: [['p.yaml:3:10', 'an upstream URL is an origin only (no path, query, fragment or credentials)']],
  },
  {
    name: 'an upstream URL that is not http',
    files: { 'p.yaml': 'upstreams:\n  api:\n    url: "ftp://api"\n' + route('    allow: anyone\n') },
    errors: [['p.yaml:3:10', 'upstreams.api.url has the wrong form (must match ^https?://)']],
  },
  {
    name: 'an upstream name of the wrong form',
    files: { 'p.yaml': 'upstreams:\n  "my api": { url: "http://api" }\n' + route('    allow: anyone\n') },
    // ajv reports the key's pattern and propertyNames itself: two errors for one mistake
    errors: [
      ['p.yaml:2:3', 'upstreams has the wrong form (must match ^[A-Za-z0-9_.-]+$)'],
      ['p.yaml:2:3', 'upstreams has a name of the wrong form (letters, digits, _ . - only)'],
    ],
  },
  {
    name: 'a host with a port',
    files: { 'p.yaml': 'routes:\n  - name: a\n    match: { host: ["app.example.com", "app.example.com:8443"], path: /a }\n    allow: anyone\n' },
    errors: [['p.yaml:3:40', '"app.example.com:8443" is not a host name or *.domain pattern (no port, no scheme)']],
  },
  {
    name: 'a method in lower case',
    files: { 'p.yaml': 'routes:\n  - name: a\n    match: { path: /a, methods: [get] }\n    allow: anyone\n' },
    errors: [['p.yaml:3:34', 'routes.0.match.methods.0 must be one of "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"']],
  },
  {
    name: 'an empty folder',
    files: {},
    errors: [['', 'no *.yaml policy files in this folder']],
  },
  {
    name: 'a folder without policy files',
    files: { 'README.md': '# policies\n', 'p.json': '{}', '.hidden.yaml': 'routes: []\n' },
    errors: [['', 'no *.yaml policy files in this folder']],
  },
  {
    name: 'a YAML syntax error',
    files: { 'p.yaml': 'routes:\n  - name: a\n    match: { path: /a\n    allow: anyone\n' },
    errors: [['p.yaml:4:5', 'Flow map in block collection must be sufficiently indented and end with a }']],
  },
  {
    name: 'a duplicate YAML key',
    files: { 'p.yaml': route('    allow: anyone\n    allow: authenticated\n') },
    errors: [['p.yaml:5:5', 'Map keys must be unique']],
  },
  {
    name: 'a route without upstream and no default upstream',
    files: { 'p.yaml': route('    allow: anyone\n') },
    settings: { defaultUpstream: undefined },
    errors: [['p.yaml:2:5', 'upstream is required (no default upstream: set upstream.url in the gateway config, or name one of this file\'s upstreams)']],
  },
  {
    name: 'no routes at all',
    files: { 'p.yaml': 'upstreams:\n  api: { url: "http://api" }\n' },
    errors: [['p.yaml', 'no routes: every request would be refused; add at least one route']],
  },
  {
    name: 'an empty file',
    files: { 'p.yaml': '' },
    errors: [['p.yaml', 'no routes: every request would be refused; add at least one route']],
  },
]

t.test('bad policies are refused with every problem located', async t => {
  for (const bad of BAD) {
    const dir = folder(bad.files)
    const names = Object.keys(bad.files)
    const target = names.length === 1 && names[0] === 'p.yaml' ? join(dir, 'p.yaml') : dir
    const problems = problemsOf(() => loadPolicy(target, bad.settings ?? SETTINGS))
    const errors = problems.filter(p => p.severity === 'error')
    const expected = bad.errors.map(([where, fragment]) => [where === '' ? dir : join(dir, where), fragment.replaceAll('{dir}', dir)] as const)
    t.equal(errors.length, expected.length, `${bad.name}: ${errors.length} error(s)`)
    for (let i = 0; i < Math.max(errors.length, expected.length); i++) {
      t.equal(errors[i]?.where, expected[i]?.[0], `${bad.name}: where #${i + 1}`)
      t.ok(errors[i]?.message.includes(expected[i]?.[1] ?? '\0'), `${bad.name}: message #${i + 1}`, { found: errors[i]?.message, wanted: expected[i]?.[1] })
    }
  }
})

t.test('a path that does not exist', async t => {
  const missing = join(root, 'does-not-exist')
  t.same(problemsOf(() => loadPolicy(missing, SETTINGS)), [{ where: missing, message: 'cannot read the policies: ENOENT', severity: 'error' }])
})

t.test('the ConfigError message lists every error with its place', async t => {
  const path = file(route('    upstream: nope\n    allow: anyone\n'))
  t.throws(() => loadPolicy(path, SETTINGS), { name: 'ConfigError', code: 'GH_CONFIG_INVALID', message: `The gateway configuration is invalid. (${path}:4:15: unknown upstream "nope"; known: default)` })
})

t.test('several problems in one file are reported together, in order', async t => {
  const path = file(`routes:
  - name: a
    match: { path: /a/**/b }
    allow: anyone
  - name: b
    match: { path: /b }
    upstream: nope
    allow:
      - ip: ["10.0.0.0/33"]
  - name: a
    match: { path: /c }
    headers: { user: Cookie }
    allow: anyone
`)
  const problems = problemsOf(() => loadPolicy(path, SETTINGS))
  t.same(problems.map(p => [p.where.slice(path.length), p.message, p.severity]), [
    [':3:20', '"**" may only end a path pattern ("/a/**/b")', 'error'],
    [':7:15', 'unknown upstream "nope"; known: default', 'error'],
    [':9:14', '"10.0.0.0/33" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)', 'error'],
    [':10:11', `route name "a" is already used at ${path}:2:5`, 'error'],
    [':12:22', '"Cookie" cannot carry identity: the name is reserved', 'error'],
  ])

  // Schema problems of several files are all reported too (each file is validated on its own).
  const dir = folder({
    'a.yaml': route('    allow: everyone\n'),
    'b.yaml': 'routes:\n  - name: b\n    match: { path: /b }\n',
  })
  t.same(problemsOf(() => loadPolicy(dir, SETTINGS)).map(p => [p.where.slice(dir.length), p.message]), [
    ['/a.yaml:4:12', 'routes.0.allow has the wrong form: `anyone` (no sign-in), `authenticated` (any signed-in user), or a list of alternatives'],
    ['/b.yaml:2:5', 'routes.0: "allow" is required'],
  ])
})

t.test('warnings are returned, not thrown', async t => {
  const path = file(`routes:
  - name: all-x
    match: { path: /x/** }
    allow: anyone
  - name: sub
    match: { path: /x/y, methods: [GET] }
    allow: anyone
  - name: wild
    match: { host: "*.example.com", path: /w/* }
    allow: anyone
  - name: wild-sub
    match: { host: [a.example.com, "*.b.example.com"], path: /w/v }
    allow: anyone
  - name: get-only
    match: { path: /g, methods: [GET] }
    allow: anyone
  - name: head-later
    match: { path: /g, methods: [HEAD] }
    allow: anyone
  - name: post-later
    match: { path: /g, methods: [POST] }
    allow: anyone
  - name: host-first
    match: { host: app.example.com, path: /h }
    allow: anyone
  - name: any-host-later
    match: { path: /h }
    allow: anyone
  - name: nets
    match: { path: /n }
    allow:
      - ip: ["10.0.0.1/8", "10.0.0.0/8", "2001:db8::1/32", "::ffff:10.0.0.1/120"]
      - anonymous: true
  - name: anon-ip
    match: { path: /o }
    allow:
      - { anonymous: true, ip: ["192.0.2.0/24"] }
`)
  const { policy, warnings } = loadPolicy(path, SETTINGS)
  t.equal(policy.routes.length, 11, 'the shadowed routes are still compiled')
  // Conditions are checked while each route is compiled; shadowed routes once all are.
  t.same(warnings, [
    { where: `${path}:32:14`, message: '"10.0.0.1/8" has bits set after the prefix; it means 10.0.0.0/8', severity: 'warning' },
    { where: `${path}:32:42`, message: '"2001:db8::1/32" has bits set after the prefix; it means 2001:db8::/32', severity: 'warning' },
    { where: `${path}:32:60`, message: '"::ffff:10.0.0.1/120" has bits set after the prefix; it means 10.0.0.0/24', severity: 'warning' },
    { where: `${path}:33:20`, message: 'an anonymous entry without other conditions lets everyone through; write allow: anyone if that is meant', severity: 'warning' },
    { where: `${path}:5:5`, message: `route "sub" can never match: route "all-x" (${path}:2:5) comes first and fits every request it fits`, severity: 'warning' },
    { where: `${path}:11:5`, message: `route "wild-sub" can never match: route "wild" (${path}:8:5) comes first and fits every request it fits`, severity: 'warning' },
    { where: `${path}:17:5`, message: `route "head-later" can never match: route "get-only" (${path}:14:5) comes first and fits every request it fits`, severity: 'warning' },
  ])
  const nets = policy.routes.find(r => r.name === 'nets')
  const entry = entries(nets)[0]
  t.same(entry?.ip?.map(([a, bits]) => `${a.toString()}/${bits}`), ['10.0.0.0/8', '10.0.0.0/8', '2001:db8::/32', '10.0.0.0/24'], 'ranges keep their network address')
  t.same(entry?.ipText, ['10.0.0.1/8', '10.0.0.0/8', '2001:db8::1/32', '::ffff:10.0.0.1/120'])
})

t.test('a folder is loaded in file-name order; .yml too, other files ignored', async t => {
  const dir = join(root, 'ordered')
  mkdirSync(dir)
  // written out of order on purpose
  writeFileSync(join(dir, '20-b.yaml'), 'routes:\n  - { name: b, match: { path: /b }, allow: anyone }\n')
  writeFileSync(join(dir, '10-a.yaml'), 'routes:\n  - { name: a, match: { path: /a }, allow: anyone }\n  - { name: a2, match: { path: /a2 }, allow: anyone }\n')
  writeFileSync(join(dir, '15-c.yml'), 'routes:\n  - { name: c, match: { path: /c }, allow: anyone }\n')
  writeFileSync(join(dir, 'README.md'), 'routes: [oops]\n')
  writeFileSync(join(dir, 'notes.txt'), 'not yaml: [\n')
  writeFileSync(join(dir, '30-d.yaml.bak'), 'not yaml: [\n')
  writeFileSync(join(dir, '.hidden.yaml'), 'not yaml: [\n')
  writeFileSync(join(dir, '40-e.json'), '{ "routes": [] }\n')
  const { policy, warnings } = loadPolicy(dir, SETTINGS)
  t.same(policy.routes.map(r => r.name), ['a', 'a2', 'c', 'b'])
  t.same(policy.routes.map(r => r.index), [0, 1, 2, 3])
  t.same(policy.files, ['10-a.yaml', '15-c.yml', '20-b.yaml'].map(f => join(dir, f)))
  t.equal(policy.routes[2]?.where, `${join(dir, '15-c.yml')}:2:5`)
  t.same(warnings, [])
  t.equal(policy.table.lookup('x', 'GET', '/c').kind === 'route' ? 'c' : 'other', 'c')
})

t.test('downstream_token: compiled, its header reserved on every route, no resource with Entra ID', async t => {
  const text = 'routes:\n  - name: graph\n    match: { path: /g/** }\n    allow: authenticated\n    downstream_token: { scopes: [b, a], resource: "https://api.example.com", header: X-Graph-Token }\n  - name: rest\n    match: { path: /** }\n    allow: authenticated\n'
  const { policy } = loadPolicy(file(text), SETTINGS)
  t.same(policy.routes[0]?.downstreamToken, { scopes: ['b', 'a'], resource: 'https://api.example.com', header: 'x-graph-token', key: 'https://api.example.com a b' })
  t.equal(policy.routes[1]?.downstreamToken, undefined)
  t.ok(policy.reservedHeaders.has('xgraphtoken'), 'clients can never send it')
  const entra = problemsOf(() => loadPolicy(file(text), { ...SETTINGS, provider: 'entra' }))
  t.match(entra.map(p => p.message), ['Microsoft Entra ID takes no resource indicator: name the API in the scopes (e.g. api://my-api/Read)'])
})

t.test('a compiled route', async t => {
  const path = file(`upstreams:
  api:
    url: "http://api:8080/"
    timeout: 5s
  base: { url: "https://base.test/" }
routes:
  - name: full
    match: { host: ["App.Example.com.", "*.example.com"], path: /api/**, methods: [GET, POST] }
    upstream: api
    rewrite_prefix: /v2
    timeout: 500ms
    websockets: false
    pass_access_token: true
    headers: { user: Remote-User, email: X-Email }
    assertion: { audience: urn:api }
    allow:
      - groups: [staff]
        all_groups: [a, b]
        roles: [r]
        users: [u1]
        emails: [A@Example.com]
        email_domains: ["@example.com", example.org]
        claims: { tid: t1, hd: [x, y], wids: { contains: w }, email_verified: true }
        mfa: true
    deny:
      - ip: ["192.0.2.0/24"]
  - name: plain
    match: { path: /plain }
    upstream: base
    allow: authenticated
  - name: defaults
    match: { path: /d }
    allow: anyone
  - name: root-rewrite
    match: { path: /r/** }
    upstream: base
    rewrite_prefix: /
    allow: anyone
`)
  const { policy } = loadPolicy(path, SETTINGS)
  const [full, plain, defaults, rootRewrite] = policy.routes
  t.equal(full?.name, 'full')
  t.equal(full?.where, `${path}:7:5`)
  t.same(full?.hosts, [{ text: 'App.Example.com.', host: 'app.example.com', wildcard: false }, { text: '*.example.com', host: 'example.com', wildcard: true }])
  t.same(full?.path, { text: '/api/**', segments: ['api', '**'] })
  t.same([...(full?.methods ?? [])], ['GET', 'POST'])
  t.same(full?.upstream, { name: 'api', url: 'http://api:8080', timeoutMs: 5000 })
  t.same(full?.rewrite, { from: '/api', to: '/v2' })
  t.equal(full?.timeoutMs, 500)
  t.equal(full?.websockets, false)
  t.equal(full?.passAccessToken, true)
  t.same(full?.headers, { user: 'Remote-User', email: 'X-Email' })
  t.equal(full?.audience, 'urn:api')
  t.same(full?.allow, [{
    where: `${path}:17:9`,
    groups: ['staff'],
    allGroups: ['a', 'b'],
    roles: ['r'],
    users: ['u1'],
    emails: ['A@Example.com'],
    emailDomains: ['example.com', 'example.org'],
    claims: [
      { claim: 'tid', kind: 'equals', values: ['t1'] },
      { claim: 'hd', kind: 'equals', values: ['x', 'y'] },
      { claim: 'wids', kind: 'contains', value: 'w' },
      { claim: 'email_verified', kind: 'equals', values: [true] },
    ],
    mfa: true,
  }])
  t.equal(full?.deny.length, 1)
  t.equal(full?.deny[0]?.where, `${path}:26:9`)
  t.same(full?.deny[0]?.ipText, ['192.0.2.0/24'])
  t.equal(full?.needsIdentity, true)

  t.same(plain?.upstream, { name: 'base', url: 'https://base.test', timeoutMs: undefined })
  t.equal(plain?.audience, 'https://base.test', 'audience defaults to the upstream URL')
  t.equal(plain?.timeoutMs, undefined)
  t.equal(plain?.allow, 'authenticated')
  t.same(plain?.deny, [])
  t.equal(plain?.hosts, undefined)
  t.equal(plain?.methods, undefined)
  t.equal(plain?.rewrite, undefined)
  t.equal(plain?.websockets, true)
  t.equal(plain?.passAccessToken, false)
  t.same(plain?.headers, {})

  t.same(defaults?.upstream, { name: DEFAULT_UPSTREAM_NAME, url: 'http://127.0.0.1:3000', timeoutMs: 30000 })
  t.equal(defaults?.timeoutMs, 30000)
  t.equal(defaults?.audience, 'http://127.0.0.1:3000')

  t.same(rootRewrite?.rewrite, { from: '/r', to: '/' })

  t.same([...policy.upstreams.keys()], ['default', 'api', 'base'])
  t.same(policy.upstreams.get('api'), { name: 'api', url: 'http://api:8080', timeoutMs: 5000 })
  t.same([...policy.reservedHeaders], ['remoteuser', 'xemail'], 'folded: lower case, letters and digits only')
  t.match(policy.hash, /^[0-9a-f]{64}$/)
  t.same(policy.files, [path])
})

t.test('the hash follows the files\' contents', async t => {
  const text = route('    allow: anyone\n')
  const a = loadPolicy(file(text), SETTINGS).policy.hash
  const dir = folder({ 'p.yaml': text })
  const b = loadPolicy(join(dir, 'p.yaml'), SETTINGS).policy.hash
  writeFileSync(join(dir, 'p.yaml'), `${text}# changed\n`)
  const c = loadPolicy(join(dir, 'p.yaml'), SETTINGS).policy.hash
  const d = loadPolicy(join(dir, 'p.yaml'), SETTINGS).policy.hash
  t.not(a, b, 'the file name is part of the hash')
  t.not(b, c, 'a changed file changes the hash')
  t.equal(c, d, 'the same files give the same hash')
})

t.test('the policy is frozen', async t => {
  const path = file(`routes:
  - name: a
    match: { host: app.example.com, path: /a/** }
    allow:
      - groups: [staff]
        ip: ["10.0.0.0/8"]
        claims: { tid: [x] }
`)
  const { policy } = loadPolicy(path, SETTINGS)
  const r = policy.routes[0]
  if (r === undefined) throw new Error('expected a route')
  const entry = entries(r)[0]
  t.equal(entry?.where, `${path}:5:9`)
  const frozen: Array<[string, unknown]> = [
    ['policy', policy],
    ['policy.routes', policy.routes],
    ['policy.files', policy.files],
    ['route', r],
    ['route.path', r.path],
    ['route.path.segments', r.path.segments],
    ['route.hosts', r.hosts],
    ['route.hosts[0]', r.hosts?.[0]],
    ['route.upstream', r.upstream],
    ['route.allow', r.allow],
    ['route.allow[0]', entry],
    ['route.allow[0].groups', entry?.groups],
    ['route.allow[0].ip', entry?.ip],
    ['route.allow[0].claims[0]', entry?.claims?.[0]],
    ['route.deny', r.deny],
    ['route.headers', r.headers],
  ]
  for (const [name, value] of frozen) t.ok(Object.isFrozen(value), `${name} is frozen`)
  t.throws(() => { (r as { name: string }).name = 'b' }, TypeError)
  t.throws(() => { (policy.routes as unknown[]).push(r) }, TypeError)
  t.throws(() => { (entry?.groups as string[]).push('admins') }, TypeError)
  t.equal(r.name, 'a')
  t.same(entry?.groups, ['staff'])
})

t.test('needsIdentity: false only when no decision can depend on the user', async t => {
  const rows: Array<[string, string, boolean]> = [
    ['anyone', '    allow: anyone\n', false],
    ['authenticated', '    allow: authenticated\n', true],
    ['a group', '    allow:\n      - groups: [staff]\n', true],
    ['ip without anonymous (needs a user)', '    allow:\n      - ip: ["10.0.0.0/8"]\n', true],
    ['all entries anonymous with ip', '    allow:\n      - { anonymous: true, ip: ["10.0.0.0/8"] }\n      - { anonymous: true, ip: ["192.0.2.0/24"] }\n', false],
    ['anonymous alone', '    allow:\n      - anonymous: true\n', false],
    ['one anonymous entry, one user entry', '    allow:\n      - { anonymous: true, ip: ["10.0.0.0/8"] }\n      - groups: [staff]\n', true],
    ['anyone, deny by network', '    allow: anyone\n    deny:\n      - ip: ["10.0.0.0/8"]\n', false],
    ['anyone, deny by group', '    allow: anyone\n    deny:\n      - groups: [contractors]\n', true],
    ['anonymous ip, deny by mfa', '    allow:\n      - { anonymous: true, ip: ["10.0.0.0/8"] }\n    deny:\n      - { ip: ["10.9.0.0/16"], mfa: true }\n', true],
    ['anonymous ip, deny by network', '    allow:\n      - { anonymous: true, ip: ["10.0.0.0/8"] }\n    deny:\n      - ip: ["10.9.0.0/16"]\n', false],
  ]
  for (const [name, yaml, expected] of rows) {
    const { policy } = loadPolicy(file(route(yaml)), SETTINGS)
    t.equal(policy.routes[0]?.needsIdentity, expected, name)
  }
})

t.test('defaultPolicy: every path to the default upstream, for any signed-in user', async t => {
  const policy = defaultPolicy(SETTINGS)
  t.equal(policy.routes.length, 1)
  const r = policy.routes[0]
  t.equal(r?.name, 'default')
  t.equal(r?.where, '(built-in)')
  t.same(r?.path, { text: '/**', segments: ['**'] })
  t.equal(r?.allow, 'authenticated')
  t.same(r?.deny, [])
  t.equal(r?.needsIdentity, true)
  t.same(r?.upstream, { name: 'default', url: 'http://127.0.0.1:3000', timeoutMs: 30000 })
  t.equal(r?.timeoutMs, 30000)
  t.equal(policy.hash, 'built-in')
  t.same(policy.files, [])
  t.ok(Object.isFrozen(policy))
  t.ok(Object.isFrozen(r))
  for (const [method, path] of [['GET', '/'], ['POST', '/a/b/c'], ['DELETE', '/x']] as const) {
    const found = policy.table.lookup('any.host', method, path)
    t.equal(found.kind === 'route' ? found.route.name : found.kind, 'default', `${method} ${path}`)
  }
  t.same(problemsOf(() => defaultPolicy({ defaultUpstream: undefined })).map(p => [p.where, p.message]), [
    ['(built-in)', 'upstream is required (no default upstream: set upstream.url in the gateway config, or name one of this file\'s upstreams)'],
  ])
})

t.test('credentials: session by default; bearer only when the gateway accepts tokens', async t => {
  const text = `routes:
  - name: api
    match: { path: /api/** }
    credentials: [bearer]
    allow: [ { roles: [Reports.Read] }, { scopes: [Reports.Read], client_ids: [spa] } ]
  - name: both
    match: { path: /both/** }
    credentials: [session, bearer]
    allow: authenticated
  - name: web
    match: { path: /** }
    allow: [ { groups: [staff] } ]
`
  const { policy } = loadPolicy(file(text), { ...SETTINGS, bearerConfigured: true })
  t.same(policy.routes.map(r => r.credentials), [{ session: false, bearer: true }, { session: true, bearer: true }, { session: true, bearer: false }])
  t.same(entries(policy.routes[0])[1], { where: entries(policy.routes[0])[1]?.where, scopes: ['Reports.Read'], clientIds: ['spa'] })
  t.same([...policy.mentionedGroups], ['staff'], 'the groups policies name, for forward_groups: mentioned')

  const refused = problemsOf(() => loadPolicy(file(text), { ...SETTINGS, bearerConfigured: false }))
  t.equal(refused.length, 2)
  t.match(refused[0], { where: /p\.yaml:4:18$/, message: 'this route accepts bearer tokens, but the gateway config sets no bearer.audiences: every token would be refused' })
  t.doesNotThrow(() => loadPolicy(file(text), SETTINGS), 'checked alone (gateway config unknown), bearer routes load')

  const bad = problemsOf(() => loadPolicy(file(`routes:
  - name: x
    match: { path: /x }
    credentials: [cookie]
    allow: authenticated
`), SETTINGS))
  t.match(bad[0]?.message, /credentials/)
})
