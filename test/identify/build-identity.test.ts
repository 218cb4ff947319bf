import t from 'tap'
import { buildIdentity, identityFromClaims, withDirectoryGroups } from '../../src/identify/build-identity.js'
import { oidcClaims } from '../../src/identify/oidc-claims.js'

const names = { groupsClaim: 'groups', rolesClaim: 'roles' }
const oidc = oidcClaims(names)
const base = { iss: 'https://idp.example', sub: 'u1', aud: 'gw', exp: 2, iat: 1, nonce: 'n', name: 'Ada', email: 'ada@example.com', groups: ['g1', 'g2'], roles: 'admin', amr: ['pwd', 'mfa'], acr: '1', sid: 's1', dept: 'eng' }

t.test('plain OpenID Connect claims: sub is the key, protocol claims and own fields are left out of claims', async t => {
  t.same(buildIdentity(base, oidc), {
    id: 'u1', issuer: 'https://idp.example', subject: 'u1', name: 'Ada', email: 'ada@example.com', groups: ['g1', 'g2'], roles: ['admin'], amr: ['pwd', 'mfa'], acr: '1', sid: 's1', claims: { amr: ['pwd', 'mfa'], acr: '1', dept: 'eng' },
  })
  t.same(identityFromClaims(base, names), buildIdentity(base, oidc), 'identityFromClaims is the generic mapper')
})

t.test('the named claims carry groups and roles', async t => {
  const identity = buildIdentity({ ...base, groups: undefined, teams: ['t1'], app_roles: ['r1'] }, oidcClaims({ groupsClaim: 'teams', rolesClaim: 'app_roles' }))
  t.same(identity.groups, ['t1'])
  t.same(identity.roles, ['r1'])
  t.notOk('teams' in identity.claims)
  t.notOk('app_roles' in identity.claims)
})

t.test('an unverified email is not kept; preferred_username stands in for a missing name', async t => {
  const identity = buildIdentity({ ...base, name: undefined, preferred_username: 'ada', email_verified: false }, oidc)
  t.equal(identity.email, undefined)
  t.equal(identity.name, 'ada')
})

t.test('scopes, client id and tenant of an access token', async t => {
  const identity = buildIdentity({ ...base, scp: 'read  write', azp: 'client-1', tid: 'T1' }, oidc)
  t.same(identity.scopes, ['read', 'write'])
  t.equal(identity.clientId, 'client-1')
  t.equal(identity.tenant, 'T1')
})

t.test('a claim too large to be a policy input is left out', async t => {
  const identity = buildIdentity({ ...base, picture: 'x'.repeat(9000) }, oidc)
  t.notOk('picture' in identity.claims)
})

t.test('an application token: the client names it, it has no email', async t => {
  const identity = buildIdentity({ ...base, name: undefined, azp: 'client-1' }, oidc, { applicationOf: 'client-1' })
  t.equal(identity.kind, 'application')
  t.equal(identity.name, 'client-1')
  t.equal(identity.email, undefined)
})

t.test('directory groups replace the token groups; a missing sid keeps the previous one', async t => {
  const identity = buildIdentity({ ...base, sid: undefined }, oidc, { directoryGroups: ['d1'], previousSid: 'old' })
  t.same(identity.groups, ['d1'])
  t.equal(identity.sid, 'old')
  t.equal(buildIdentity(base, oidc, { previousSid: 'old' }).sid, 's1', 'a new sid wins')
  t.same(withDirectoryGroups(identity, ['d2'], oidc).groups, ['d2'])
})

t.test('the generic mapper tells application tokens apart', async t => {
  t.equal(oidc.isApplication({ sub: 'client-1' }, 'client-1'), true, 'no scopes')
  t.equal(oidc.isApplication({ sub: 'client-1', scope: 'a' }, 'client-1'), true, 'sub is the client')
  t.equal(oidc.isApplication({ sub: 'u1', scope: 'a', idtyp: 'app' }, 'client-1'), true, 'idtyp app')
  t.equal(oidc.isApplication({ sub: 'u1', scope: 'a' }, 'client-1'), false, 'a user\'s delegated token')
  t.equal(oidc.tenantOf({ tid: 'x' }), undefined, 'no tenants')
  t.equal(oidc.hasGroupOverage({ hasgroups: true }), false)
})
