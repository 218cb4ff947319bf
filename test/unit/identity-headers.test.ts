import t from 'tap'
import { foldHeaderName, headerValue, identityHeaders, isReservedHeader, sanitizeClientHeaders, withoutCookies } from '../../src/proxy/identity-headers.js'
import { identityFromClaims } from '../../src/identify/build-identity.js'

t.test('reserved header names fold case and every character that is not a letter or digit', async t => {
  for (const name of ['X-Gatehouse-User', 'x_gatehouse_user', 'X_GATEHOUSE-Groups', 'x-gatehouse-anything', 'x.gatehouse.user', 'X~Gatehouse~Groups', 'xgatehouseuser', 'x-gate.house_roles']) t.ok(isReservedHeader(name), name)
  for (const name of ['gatehouse-user', 'x-forwarded-user', 'x-gate']) t.notOk(isReservedHeader(name), name)
  t.ok(isReservedHeader('Remote_User', new Set(['remoteuser'])), 'configured extra names too')
  t.ok(isReservedHeader('remote.user', new Set(['remoteuser'])), 'in every spelling')
  t.equal(foldHeaderName('X_Gate_House'), 'xgatehouse')
})

t.test('sanitizing removes identity, hop-by-hop and named headers and the gateway cookies', async t => {
  const out = sanitizeClientHeaders({
    'x-gatehouse-user': 'mallory',
    x_gatehouse_roles: 'admin',
    connection: 'X-Named, close',
    'x-named': 'only for the client\'s hop',
    'keep-alive': 'timeout=5',
    'proxy-connection': 'keep-alive',
    accept: 'text/html',
    cookie: 'a=1; gatehouse=sess; b=2; gatehouse-signin=x',
  }, ['gatehouse', 'gatehouse-signin'])
  t.same(out, { accept: 'text/html', cookie: 'a=1; b=2' })
  t.same(sanitizeClientHeaders({ cookie: 'gatehouse=only' }, ['gatehouse']), {}, 'an emptied cookie header is dropped')
})

t.test('cookie filtering keeps other cookies exactly and matches names exactly', async t => {
  t.equal(withoutCookies('x=1;gatehouse=2; gatehouse2=3 ;  y = 4', ['gatehouse']), 'x=1; gatehouse2=3; y = 4')
  t.equal(withoutCookies('Gatehouse=1', ['gatehouse']), 'Gatehouse=1', 'cookie names are case-sensitive')
  t.equal(withoutCookies(';;', ['gatehouse']), '')
})

t.test('header values stay printable ASCII; lists are comma separated', async t => {
  t.equal(headerValue('plain value'), 'plain value')
  t.equal(headerValue('a,b'), 'a%2Cb')
  t.equal(headerValue('50%'), '50%25')
  t.equal(headerValue('Zoë'), 'Zo%C3%AB')
  t.equal(headerValue('line\r\nX-Injected: 1'), 'line%0D%0AX-Injected: 1')
  t.equal(headerValue('\ud800'), '%EF%BF%BD')
  const identity = identityFromClaims({ iss: 'https://idp', sub: 'u1', email: 'u@example.test', name: 'Zoë', groups: ['a,b', 'c'], roles: 'single' }, { groupsClaim: 'groups', rolesClaim: 'roles' })
  t.same(identityHeaders(identity), {
    'x-gatehouse-user': 'u1',
    'x-gatehouse-groups': 'a%2Cb,c',
    'x-gatehouse-roles': 'single',
    'x-gatehouse-email': 'u@example.test',
    'x-gatehouse-name': 'Zo%C3%AB',
    'x-gatehouse-kind': 'user',
  })
})

t.test('a user without groups or roles gets no groups or roles header, not an empty one', async t => {
  const identity = identityFromClaims({ iss: 'https://idp', sub: 'u2', groups: [], roles: [] }, { groupsClaim: 'groups', rolesClaim: 'roles' })
  t.same(identityHeaders(identity), { 'x-gatehouse-user': 'u2', 'x-gatehouse-kind': 'user' })
  const withGroups = identityFromClaims({ iss: 'https://idp', sub: 'u3', groups: ['staff'] }, { groupsClaim: 'groups', rolesClaim: 'roles' })
  t.same(identityHeaders(withGroups), { 'x-gatehouse-user': 'u3', 'x-gatehouse-groups': 'staff', 'x-gatehouse-kind': 'user' })
})

t.test('identity from claims tolerates missing and odd claim types', async t => {
  const identity = identityFromClaims({ iss: 'https://idp', sub: 's', groups: [1, 'ok', null], roles: 5, amr: 'pwd', email: '' }, { groupsClaim: 'groups', rolesClaim: 'roles' })
  t.same(identity.groups, ['ok'])
  t.same(identity.roles, [])
  t.same(identity.amr, ['pwd'])
  t.equal(identity.email, undefined)
  const custom = identityFromClaims({ iss: 'i', sub: 's', grp: ['x'], app_roles: ['r'] }, { groupsClaim: 'grp', rolesClaim: 'app_roles' })
  t.same([custom.groups, custom.roles], [['x'], ['r']], 'claim names are configurable')
})
