import t from 'tap'
import { decodeJwt } from 'jose'
import { apiHeaders, http11, startAttackStack } from '../helpers/attack-stack.js'
import type { SeenRequest } from '../helpers/recording-upstream.js'

/**
 * Identity header spoofing: a client sends the gateway's identity headers
 * (and a route's extra names such as Remote-User) in every spelling an
 * upstream might read as the real one. Whatever it sends, the upstream sees
 * the identity headers only as the gateway set them: none for a public route,
 * exactly one of each for a signed-in user, also for a user with no groups.
 */
const POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: public
    match: { path: /public/** }
    upstream: app
    allow: anyone
  - name: legacy
    match: { path: /legacy/** }
    upstream: app
    headers: { user: Remote-User, groups: X-Remote-Groups }
    allow: authenticated
  - name: admin
    match: { path: /admin/** }
    upstream: app
    allow: [{ groups: [admins] }]
  - name: api
    match: { path: /api/** }
    upstream: app
    allow: authenticated
`

const FORGED_ASSERTION = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiIsImdyb3VwcyI6WyJhZG1pbnMiXX0.'

/** Header lines a client adds, by case name. */
const SPOOFS: Array<[string, Array<[string, string]>]> = [
  ['canonical spelling', [['X-Gatehouse-User', 'admin']]],
  ['lower case', [['x-gatehouse-user', 'admin']]],
  ['upper case', [['X-GATEHOUSE-USER', 'admin']]],
  ['underscores', [['X_Gatehouse_User', 'admin']]],
  ['lower-case underscores', [['x_gatehouse_user', 'admin']]],
  ['one underscore', [['X-Gatehouse_User', 'admin']]],
  ['mixed separators and case', [['X_GATEHOUSE-USER', 'admin']]],
  ['groups', [['X-Gatehouse-Groups', 'admins']]],
  ['groups with underscores', [['X_Gatehouse_Groups', 'admins']]],
  ['roles', [['X-Gatehouse-Roles', 'App.Admin']]],
  ['email', [['X-Gatehouse-Email', 'ceo@example.test']]],
  ['name', [['X-Gatehouse-Name', 'The CEO']]],
  ['assertion', [['X-Gatehouse-Assertion', FORGED_ASSERTION]]],
  ['access token', [['X-Gatehouse-Access-Token', 'stolen']]],
  ['a gateway name that does not exist yet', [['X-Gatehouse-Tenant', 'other']]],
  ['duplicate lines', [['X-Gatehouse-User', 'admin'], ['X-Gatehouse-User', 'root']]],
  ['duplicates in two spellings', [['X-Gatehouse-User', 'admin'], ['X_Gatehouse_User', 'root'], ['x-gatehouse-groups', 'admins'], ['X-GATEHOUSE-GROUPS', 'admins']]],
  ['empty value', [['X-Gatehouse-User', '']]],
  ['list value', [['X-Gatehouse-Groups', 'admins, staff']]],
  ['route extra name Remote-User', [['Remote-User', 'admin']]],
  ['route extra name with underscore', [['remote_user', 'admin']]],
  ['route extra name upper case', [['REMOTE-USER', 'admin'], ['X-REMOTE-GROUPS', 'admins']]],
  ['route extra group name with underscores', [['x_remote_groups', 'admins']]],
  // Spellings that CGI-style environments and several frameworks fold onto the same variable.
  ['dots', [['x.gatehouse.user', 'admin']]],
  ['groups with dots', [['x.gatehouse.groups', 'admins']]],
  ['tildes', [['X~Gatehouse~User', 'admin']]],
  ['no separators', [['XGatehouseUser', 'admin'], ['xgatehousegroups', 'admins']]],
  ['mixed punctuation', [['x-gatehouse.user', 'admin'], ['X!Gatehouse#Roles', 'App.Admin'], ['x*gatehouse*email', 'ceo@example.test']]],
  ['assertion with dots', [['x.gatehouse.assertion', FORGED_ASSERTION]]],
  ['route extra name with a dot', [['remote.user', 'admin']]],
  ['route extra names without separators', [['RemoteUser', 'admin'], ['xremotegroups', 'admins']]],
]

const IDENTITY = new Set(['x-gatehouse-user', 'x-gatehouse-email', 'x-gatehouse-name', 'x-gatehouse-groups', 'x-gatehouse-roles', 'x-gatehouse-kind', 'x-gatehouse-assertion'])

/** Folded names (lower case, letters and digits only) of every raw header line the upstream received. */
function foldedNames (seen: SeenRequest): string[] {
  const names: string[] = []
  for (let i = 0; i < seen.rawHeaders.length; i += 2) names.push((seen.rawHeaders[i] ?? '').toLowerCase().replace(/[^a-z0-9]/gu, ''))
  return names
}
const fold = (name: string): string => name.replace(/[^a-z0-9]/gu, '')

t.test('identity headers from the client never reach the upstream', async t => {
  const s = await startAttackStack(t, POLICY)
  const nina = await s.cookie('nina')
  const bob = await s.cookie('bob')

  t.test('on a public route, anonymously', async t => {
    for (const [name, lines] of SPOOFS) {
      t.test(name, async t => {
        const { res, seen: reached } = await s.probe(http11('GET', '/public/page', apiHeaders(...lines)))
        t.equal(res.status, 200)
        t.equal(reached.length, 1, 'the upstream got the request')
        const got = reached[0]
        if (got === undefined) return
        t.equal(got.url, '/public/page')
        const names = foldedNames(got)
        t.same(names.filter(n => n.startsWith('xgatehouse')), [], 'no X-Gatehouse-* at all for an anonymous request')
        t.same(names.filter(n => n === 'remoteuser' || n === 'xremotegroups'), [], 'no route extra identity name either')
      })
    }
  })

  t.test('for a signed-in user without groups or roles', async t => {
    for (const [name, lines] of SPOOFS) {
      t.test(name, async t => {
        const { res, seen: reached } = await s.probe(http11('GET', '/api/items', apiHeaders(['Cookie', nina], ...lines)))
        t.equal(res.status, 200)
        t.equal(reached.length, 1, 'the upstream got the request')
        const got = reached[0]
        if (got === undefined) return
        t.equal(got.url, '/api/items')
        const names = foldedNames(got)
        t.same(names.filter(n => n.startsWith('xgatehouse')).sort(), [...IDENTITY].filter(n => n !== 'x-gatehouse-groups' && n !== 'x-gatehouse-roles').map(fold).sort(), 'exactly the gateway\'s identity headers, once each; none for the empty lists')
        t.same(s.up.values(got, 'x-gatehouse-user'), ['nina'])
        t.same(s.up.values(got, 'x-gatehouse-groups'), [], 'no groups: no groups header, and not what the client sent')
        t.same(s.up.values(got, 'x-gatehouse-roles'), [], 'no roles: no roles header')
        t.same(s.up.values(got, 'x-gatehouse-email'), ['nina@example.test'])
        const assertion = s.up.values(got, 'x-gatehouse-assertion')[0] ?? ''
        t.not(assertion, FORGED_ASSERTION)
        t.equal(decodeJwt(assertion).sub, 'nina', 'the assertion is the gateway\'s')
        t.same(decodeJwt(assertion).groups, [])
        t.same(names.filter(n => n === 'remoteuser' || n === 'xremotegroups'), [], 'route extra names are removed on routes that do not use them')
      })
    }
  })

  t.test('on a route with extra identity names (Remote-User)', async t => {
    for (const [name, lines] of SPOOFS) {
      t.test(name, async t => {
        const { res, seen: reached } = await s.probe(http11('GET', '/legacy/report', apiHeaders(['Cookie', nina], ...lines)))
        t.equal(res.status, 200)
        const got = reached[0]
        t.equal(reached.length, 1)
        if (got === undefined) return
        t.same(s.up.values(got, 'remote-user', true), ['nina'], 'Remote-User (any spelling) is only the gateway\'s')
        t.same(s.up.values(got, 'x-remote-groups', true), [], 'X-Remote-Groups (any spelling) is only the gateway\'s: none for a user without groups')
        t.same(s.up.values(got, 'x-gatehouse-user', true), ['nina'])
      })
    }
  })

  t.test('a spoofed group does not open a route for a user outside it', async t => {
    for (const [name, lines] of SPOOFS) {
      t.test(name, async t => {
        const { res, seen: reached } = await s.probe(http11('GET', '/admin/users', apiHeaders(['Cookie', bob], ...lines)))
        t.equal(res.status, 403)
        t.match(res.body, /"reason":"group_required"/)
        t.same(reached, [], 'the upstream was not reached')
      })
    }
  })

  t.test('a spoofed user does not sign anybody in', async t => {
    for (const [name, lines] of SPOOFS) {
      t.test(name, async t => {
        const { res, seen: reached } = await s.probe(http11('GET', '/api/items', apiHeaders(...lines)))
        t.equal(res.status, 401)
        t.match(res.body, /GH_UNAUTHENTICATED/)
        t.same(reached, [], 'the upstream was not reached')
      })
    }
  })

  t.test('malformed spellings are refused before routing', async t => {
    const malformed: Array<[string, string]> = [
      ['space before the colon', 'X-Gatehouse-User : admin\r\n'],
      ['tab before the colon', 'X-Gatehouse-User\t: admin\r\n'],
      ['folded onto the previous line', 'X-Trace: 1\r\n X-Gatehouse-User: admin\r\n'],
      ['no colon', 'X-Gatehouse-User admin\r\n'],
      ['a NUL in the value', 'X-Gatehouse-User: ad\x00min\r\n'],
      ['a bare CR in the value', 'X-Gatehouse-User: ad\rX-Gatehouse-Groups: admins\r\n'],
    ]
    for (const [name, line] of malformed) {
      t.test(name, async t => {
        const { res, seen: reached } = await s.probeAll(`GET /public/page HTTP/1.1\r\nHost: 127.0.0.1\r\n${line}Connection: close\r\n\r\n`)
        t.same(res.statuses, [400])
        t.same(reached, [], 'the upstream was not reached')
      })
    }
  })
})
