import t from 'tap'
import type { EntraSettings } from '../../src/config/types.js'
import { entraClaims } from '../../src/entra/claims.js'
import { buildIdentity } from '../../src/identify/build-identity.js'
import { GatehouseError } from '../../src/errors.js'

const TID = '11111111-2222-3333-4444-555555555555'
const OID = 'AAAAAAAA-0000-0000-0000-000000000001'
const GROUP = '99999999-0000-0000-0000-000000000001'
const settings: EntraSettings = {
  tenant: TID,
  multiTenant: false,
  allowedTenants: [TID],
  authorityHost: 'https://login.example',
  graphUrl: 'https://graph.example',
  graphTimeoutMs: 1000,
  groupsCacheTtlMs: 1000,
  groupNames: { [GROUP]: 'admins' },
  onlyNamedGroups: false,
  mfaAuthContexts: ['c1'],
  directoryWatch: undefined,
}
const names = { groupsClaim: 'groups', rolesClaim: 'roles' }
const entra = entraClaims(settings, names)
const claims = { iss: `https://login.example/${TID}/v2.0`, sub: 'per-app', tid: TID.toUpperCase(), oid: OID, preferred_username: 'ada@example.com', groups: [GROUP.toUpperCase(), 'other-id'], amr: ['pwd'] }

function refusal (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return err instanceof GatehouseError ? `${err.code}: ${err.detail ?? ''}` : 'not a GatehouseError'
  }
  return undefined
}

t.test('tid/oid is the key, groups are named, an address-like username is the email', async t => {
  const identity = buildIdentity(claims, entra)
  t.equal(identity.id, `${TID}/${OID.toLowerCase()}`)
  t.equal(identity.tenant, TID)
  t.equal(identity.subject, 'per-app')
  t.equal(identity.email, 'ada@example.com')
  t.same(identity.groups, ['admins', 'other-id'])
})

t.test('only_named_groups drops unnamed ids; directory groups are named the same way', async t => {
  const named = entraClaims({ ...settings, onlyNamedGroups: true }, names)
  t.same(buildIdentity(claims, named).groups, ['admins'])
  t.same(buildIdentity(claims, entra, { directoryGroups: [GROUP, GROUP, 'x'] }).groups, ['admins', 'x'])
})

t.test('an authentication context named in mfa_auth_contexts counts as mfa', async t => {
  t.same(buildIdentity({ ...claims, acrs: ['c1'] }, entra).amr, ['pwd', 'mfa'])
  t.same(buildIdentity({ ...claims, acrs: ['c2'] }, entra).amr, ['pwd'])
  t.same(buildIdentity({ ...claims, amr: ['mfa'], acrs: ['c1'] }, entra).amr, ['mfa'], 'not twice')
})

t.test('an unverified username is not an email', async t => {
  t.equal(buildIdentity({ ...claims, email_verified: false }, entra).email, undefined)
  t.equal(buildIdentity({ ...claims, preferred_username: 'ada' }, entra).email, undefined)
})

t.test('foreign, missing or malformed tenants and a missing oid are refused', async t => {
  t.equal(refusal(() => buildIdentity({ ...claims, tid: '22222222-2222-3333-4444-555555555555' }, entra)), 'GH_TENANT_REFUSED: tenant 22222222-2222-3333-4444-555555555555 is not in entra.allowed_tenants')
  t.equal(refusal(() => buildIdentity({ ...claims, tid: undefined }, entra)), 'GH_TENANT_REFUSED: the token has no tenant id (tid)')
  t.equal(refusal(() => buildIdentity({ ...claims, tid: 'contoso.com' }, entra)), 'GH_TENANT_REFUSED: the token has no tenant id (tid)')
  t.equal(refusal(() => buildIdentity({ ...claims, oid: undefined }, entra)), 'GH_TENANT_REFUSED: the token has no object id (oid)')
  t.equal(entra.tenantOf(claims), TID)
})

t.test('group overage is seen in _claim_names or hasgroups', async t => {
  t.equal(entra.hasGroupOverage({ _claim_names: { groups: 'src1' } }), true)
  t.equal(entra.hasGroupOverage({ hasgroups: 'true' }), true)
  t.equal(entra.hasGroupOverage({ groups: [] }), false)
})

t.test('an Entra app-only token is told by idtyp or missing scopes, not by sub', async t => {
  t.equal(entra.isApplication({ idtyp: 'app', scp: 'x' }, 'c'), true)
  t.equal(entra.isApplication({ roles: ['r'] }, 'c'), true)
  t.equal(entra.isApplication({ sub: 'c', scp: 'x' }, 'c'), false)
})
