import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { decide, routeNeedsIdentity, type Decision } from '../../src/authorize/decision.js'
import type { StepUpNeed } from '../../src/authorize/step-up.js'
import { identityFromClaims } from '../../src/identify/build-identity.js'
import type { Identity } from '../../src/identify/identity.js'
import { parseAddress, parseRange, type Address } from '../../src/net/address.js'
import { loadPolicy } from '../../src/policy/load-policy.js'
import type { ConditionSet, Route } from '../../src/policy/types.js'

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-decide-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

// Every allow/deny entry carries a `# @tag` comment, so that its file:line:col can be found below.
const YAML = `routes:
  - name: anyone
    match: { path: /anyone }
    allow: anyone
  - name: authenticated
    match: { path: /authenticated }
    allow: authenticated
  - name: groups
    match: { path: /groups }
    allow:
      - { groups: [admins, ops] } # @groups
  - name: one-group
    match: { path: /one-group }
    allow:
      - groups: [admins] # @one-group
  - name: all-groups
    match: { path: /all-groups }
    allow:
      - { all_groups: [admins, ops] } # @all-groups
  - name: roles
    match: { path: /roles }
    allow:
      - { roles: [Reader, writer] } # @roles
  - name: scopes
    match: { path: /scopes }
    allow:
      - { scopes: [Reports.Read] } # @scopes
  - name: client-ids
    match: { path: /client-ids }
    allow:
      - { client_ids: [app-1] } # @client-ids
  - name: users
    match: { path: /users }
    allow:
      - { users: [u-1, u-2] } # @users
  - name: emails
    match: { path: /emails }
    allow:
      - { emails: [Alice@Example.com, bob@example.com] } # @emails
  - name: email-domains
    match: { path: /email-domains }
    allow:
      - { email_domains: [example.com, "@corp.example.org"] } # @email-domains
  - name: ip
    match: { path: /ip }
    allow:
      - { ip: ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"] } # @ip
  - name: claims-equals
    match: { path: /claims-equals }
    allow:
      - { claims: { tid: t-1 } } # @claims-equals
  - name: claims-any
    match: { path: /claims-any }
    allow:
      - { claims: { hd: [example.com, example.org] } } # @claims-any
  - name: claims-contains
    match: { path: /claims-contains }
    allow:
      - { claims: { wids: { contains: admin-role } } } # @claims-contains
  - name: claims-typed
    match: { path: /claims-typed }
    allow:
      - { claims: { tid: "1", email_verified: true } } # @claims-typed
  - name: claims-unkept
    match: { path: /claims-unkept }
    allow:
      - { claims: { department: eng } } # @claims-unkept
  - name: mfa
    match: { path: /mfa }
    allow:
      - mfa: true # @mfa
  - name: and
    match: { path: /and }
    allow:
      - { email_domains: [example.com], groups: [admins], mfa: true } # @and
  - name: or
    match: { path: /or }
    allow:
      - { groups: [admins] } # @or-1
      - { roles: [writer] } # @or-2
      - { users: [u-9] } # @or-3
  - name: deny-wins
    match: { path: /deny-wins }
    allow:
      - { groups: [staff] } # @deny-wins-allow
    deny:
      - { groups: [contractors] } # @deny-wins-deny
  - name: deny-network
    match: { path: /deny-network }
    allow: anyone
    deny:
      - ip: ["198.51.100.0/24"] # @deny-network
  - name: deny-user-on-public
    match: { path: /deny-user-on-public }
    allow: anyone
    deny:
      - emails: [mallory@example.com] # @deny-user
  - name: deny-mixed
    match: { path: /deny-mixed }
    allow: authenticated
    deny:
      - { ip: ["198.51.100.0/24"], groups: [contractors] } # @deny-mixed
  - name: anonymous-only
    match: { path: /anonymous-only }
    allow:
      - { anonymous: true, ip: ["10.0.0.0/8"] } # @anonymous-only
  - name: anonymous-or-group
    match: { path: /anonymous-or-group }
    allow:
      - { anonymous: true, ip: ["10.0.0.0/8"] } # @aog-1
      - { groups: [admins] } # @aog-2
  - name: network-or-group
    match: { path: /network-or-group }
    allow:
      - { ip: ["10.0.0.0/8"], groups: [ops] } # @nog-1
      - { groups: [admins] } # @nog-2
  - name: networks-only
    match: { path: /networks-only }
    allow:
      - { anonymous: true, ip: ["10.0.0.0/8"] } # @no-1
      - { ip: ["192.0.2.0/24"] } # @no-2
  - name: mapped-range
    match: { path: /mapped-range }
    allow:
      - { anonymous: true, ip: ["::ffff:10.0.0.0/104"] } # @mapped-range
`
const path = join(dir, 'policy.yaml')
writeFileSync(path, YAML)
const { policy } = loadPolicy(path, { defaultUpstream: { url: 'http://127.0.0.1:3000', timeoutMs: 30000 } })
const LINES = YAML.split('\n')

/** file:line:col of the entry tagged `# @tag`: the column after "- ". */
function at (tag: string): string {
  const i = LINES.findIndex(l => l.endsWith(`# @${tag}`))
  if (i === -1) throw new Error(`no entry tagged ${tag}`)
  const line = LINES[i] as string
  return `${path}:${i + 1}:${line.indexOf('- ') + 3}`
}

function routeWhere (name: string): string {
  const i = LINES.indexOf(`  - name: ${name}`)
  if (i === -1) throw new Error(`no route ${name}`)
  return `${path}:${i + 1}:5`
}

function routeNamed (name: string): Route {
  const route = policy.routes.find(r => r.name === name)
  if (route === undefined) throw new Error(`no route ${name}`)
  return route
}

function who (sub: string, claims: Record<string, unknown> = {}): Identity {
  return identityFromClaims({ iss: 'https://idp', sub, ...claims }, { groupsClaim: 'groups', rolesClaim: 'roles' })
}

function ip (text: string): Address {
  const addr = parseAddress(text)
  if (addr === undefined) throw new Error(`not an address: ${text}`)
  return addr
}

const ALICE = who('u-1', { email: 'alice@example.com', groups: ['admins'], roles: ['Reader'], amr: ['pwd'] })
const NOBODY = undefined
const INSIDE = ip('10.1.2.3')
const OUTSIDE = ip('203.0.113.9')

type Expected =
  | ['allow', reason: string, ruleTag?: string]
  | ['unauthenticated']
  | ['forbidden', reason: string, message: string, ruleTag: string]
  | ['step_up', reason: string, message: string, ruleTag: string, need: StepUpNeed]

type Row = [route: string, identity: Identity | undefined, clientIp: Address | undefined, expected: Expected, name?: string]

function expand (expected: Expected): object {
  switch (expected[0]) {
    case 'allow': return { allow: true, reason: expected[1], rule: expected[2] === undefined ? undefined : at(expected[2]) }
    case 'unauthenticated': return { allow: false, kind: 'unauthenticated', reason: 'not_signed_in', message: 'requires signing in', rule: undefined }
    case 'forbidden': return { allow: false, kind: 'forbidden', reason: expected[1], message: expected[2], rule: expected[3].startsWith('route:') ? routeWhere(expected[3].slice(6)) : at(expected[3]) }
    case 'step_up': return { allow: false, kind: 'step_up', reason: expected[1], message: expected[2], rule: at(expected[3]), need: expected[4] }
  }
}

function withoutIdentity (d: Decision): object {
  if (!d.allow) return d
  const { identity: _identity, ...rest } = d
  return rest
}

interface Checks {
  same (found: unknown, wanted: unknown, message: string): unknown
  equal (found: unknown, wanted: unknown, message: string): unknown
}

function check (t: Checks, rows: readonly Row[]): void {
  for (const [name, identity, clientIp, expected, label] of rows) {
    const decision = decide(routeNamed(name), { identity, clientIp })
    const who = identity === undefined ? 'nobody' : `${identity.id}${identity.email === undefined ? '' : ` <${identity.email}>`}`
    const message = `${name}: ${label ?? who} from ${clientIp?.toString() ?? 'unknown'} -> ${expected.join(' ')}`
    t.same(withoutIdentity(decision), expand(expected), message)
    if (decision.allow) t.equal(decision.identity, identity, `${message}: the identity is passed on`)
  }
}

t.test('anyone and authenticated', async t => {
  check(t, [
    ['anyone', NOBODY, OUTSIDE, ['allow', 'anyone']],
    ['anyone', ALICE, OUTSIDE, ['allow', 'anyone']],
    ['anyone', NOBODY, undefined, ['allow', 'anyone']],
    ['authenticated', NOBODY, INSIDE, ['unauthenticated']],
    ['authenticated', ALICE, OUTSIDE, ['allow', 'authenticated']],
    ['authenticated', who('x'), undefined, ['allow', 'authenticated']],
  ])
})

t.test('each criterion alone', async t => {
  check(t, [
    // groups: any of, exact case
    ['groups', who('a', { groups: ['ops'] }), OUTSIDE, ['allow', 'allowed', 'groups']],
    ['groups', who('a', { groups: ['x', 'admins'] }), OUTSIDE, ['allow', 'allowed', 'groups']],
    ['groups', who('a', { groups: 'admins' }), OUTSIDE, ['allow', 'allowed', 'groups'], 'a groups claim that is one string'],
    ['groups', who('a', { groups: ['Admins'] }), OUTSIDE, ['forbidden', 'group_required', 'requires group admins or ops', 'groups']],
    ['groups', who('a', { groups: [] }), OUTSIDE, ['forbidden', 'group_required', 'requires group admins or ops', 'groups']],
    ['groups', who('a'), OUTSIDE, ['forbidden', 'group_required', 'requires group admins or ops', 'groups'], 'no groups claim'],
    ['groups', NOBODY, OUTSIDE, ['unauthenticated']],
    ['one-group', who('a', { groups: ['admins'] }), OUTSIDE, ['allow', 'allowed', 'one-group']],
    ['one-group', who('a', { groups: ['ops'] }), OUTSIDE, ['forbidden', 'group_required', 'requires group admins', 'one-group']],
    // all_groups
    ['all-groups', who('a', { groups: ['ops', 'x', 'admins'] }), OUTSIDE, ['allow', 'allowed', 'all-groups']],
    ['all-groups', who('a', { groups: ['admins'] }), OUTSIDE, ['forbidden', 'groups_required', 'requires every group of admins, ops', 'all-groups']],
    // roles
    ['roles', who('a', { roles: ['Reader'] }), OUTSIDE, ['allow', 'allowed', 'roles']],
    ['roles', who('a', { roles: 'writer' }), OUTSIDE, ['allow', 'allowed', 'roles']],
    ['roles', who('a', { roles: ['reader'] }), OUTSIDE, ['forbidden', 'role_required', 'requires app role Reader or writer', 'roles']],
    ['roles', who('a', { groups: ['Reader'] }), OUTSIDE, ['forbidden', 'role_required', 'requires app role Reader or writer', 'roles'], 'a group is not a role'],
    // scopes: a delegated bearer token's scp
    ['scopes', who('a', { scp: 'User.Read Reports.Read', azp: 'spa' }), OUTSIDE, ['allow', 'allowed', 'scopes']],
    ['scopes', who('a', { scope: 'Reports.Read' }), OUTSIDE, ['allow', 'allowed', 'scopes']],
    ['scopes', who('a', { scp: 'Reports.ReadWrite' }), OUTSIDE, ['forbidden', 'scope_required', 'requires a token with scope Reports.Read', 'scopes']],
    ['scopes', who('a', { roles: ['Reports.Read'] }), OUTSIDE, ['forbidden', 'scope_required', 'requires a token with scope Reports.Read', 'scopes'], 'a role is not a scope'],
    ['scopes', who('a'), OUTSIDE, ['forbidden', 'scope_required', 'requires a token with scope Reports.Read', 'scopes'], 'a session has no scopes'],
    // client_ids: azp, appid or client_id
    ['client-ids', who('a', { azp: 'app-1' }), OUTSIDE, ['allow', 'allowed', 'client-ids']],
    ['client-ids', who('a', { appid: 'app-1' }), OUTSIDE, ['allow', 'allowed', 'client-ids']],
    ['client-ids', who('a', { azp: 'APP-1' }), OUTSIDE, ['forbidden', 'client_not_listed', 'available to listed client applications only', 'client-ids']],
    ['client-ids', who('app-1'), OUTSIDE, ['forbidden', 'client_not_listed', 'available to listed client applications only', 'client-ids'], 'the subject is not the client'],
    // users: the sub, exact
    ['users', who('u-2'), OUTSIDE, ['allow', 'allowed', 'users']],
    ['users', who('U-1'), OUTSIDE, ['forbidden', 'user_not_listed', 'available to listed users only', 'users']],
    ['users', who('u-3', { email: 'u-1' }), OUTSIDE, ['forbidden', 'user_not_listed', 'available to listed users only', 'users']],
    // emails, case-insensitive
    ['emails', who('a', { email: 'alice@example.com' }), OUTSIDE, ['allow', 'allowed', 'emails']],
    ['emails', who('a', { email: 'BOB@EXAMPLE.COM' }), OUTSIDE, ['allow', 'allowed', 'emails']],
    ['emails', who('a', { email: 'carol@example.com' }), OUTSIDE, ['forbidden', 'email_not_listed', 'available to listed email addresses only', 'emails']],
    ['emails', who('a', { email: 'alice@example.com.evil' }), OUTSIDE, ['forbidden', 'email_not_listed', 'available to listed email addresses only', 'emails']],
    ['emails', who('a'), OUTSIDE, ['forbidden', 'email_not_listed', 'available to listed email addresses only', 'emails'], 'no email'],
    // email_domains: exactly the domain after the last @
    ['email-domains', who('a', { email: 'a@example.com' }), OUTSIDE, ['allow', 'allowed', 'email-domains']],
    ['email-domains', who('a', { email: 'A@EXAMPLE.COM' }), OUTSIDE, ['allow', 'allowed', 'email-domains']],
    ['email-domains', who('a', { email: 'a@corp.example.org' }), OUTSIDE, ['allow', 'allowed', 'email-domains'], 'a domain written with a leading @'],
    ['email-domains', who('a', { email: 'a@evil-example.com' }), OUTSIDE, ['forbidden', 'email_domain_not_allowed', 'requires an email address at example.com or corp.example.org', 'email-domains']],
    ['email-domains', who('a', { email: 'a@example.com.evil' }), OUTSIDE, ['forbidden', 'email_domain_not_allowed', 'requires an email address at example.com or corp.example.org', 'email-domains']],
    ['email-domains', who('a', { email: 'a@sub.example.com' }), OUTSIDE, ['forbidden', 'email_domain_not_allowed', 'requires an email address at example.com or corp.example.org', 'email-domains']],
    ['email-domains', who('a', { email: 'example.com' }), OUTSIDE, ['forbidden', 'email_domain_not_allowed', 'requires an email address at example.com or corp.example.org', 'email-domains']],
    ['email-domains', who('a', { email: '@example.com' }), OUTSIDE, ['forbidden', 'email_domain_not_allowed', 'requires an email address at example.com or corp.example.org', 'email-domains']],
    ['email-domains', who('a', { email: 'example.com@evil.test' }), OUTSIDE, ['forbidden', 'email_domain_not_allowed', 'requires an email address at example.com or corp.example.org', 'email-domains']],
    ['email-domains', who('a'), OUTSIDE, ['forbidden', 'email_domain_not_allowed', 'requires an email address at example.com or corp.example.org', 'email-domains'], 'no email'],
    // ip (not anonymous: a user is needed as well)
    ['ip', ALICE, ip('10.255.255.255'), ['allow', 'allowed', 'ip']],
    ['ip', ALICE, ip('192.0.2.7'), ['allow', 'allowed', 'ip']],
    ['ip', ALICE, ip('::ffff:10.1.2.3'), ['allow', 'allowed', 'ip'], 'an IPv4-mapped IPv6 client'],
    ['ip', ALICE, ip('2001:db8:1::5'), ['allow', 'allowed', 'ip']],
    ['ip', ALICE, ip('192.0.2.8'), ['forbidden', 'network_not_allowed', 'not available from your network', 'ip']],
    ['ip', ALICE, ip('11.0.0.1'), ['forbidden', 'network_not_allowed', 'not available from your network', 'ip']],
    ['ip', ALICE, ip('2001:db9::1'), ['forbidden', 'network_not_allowed', 'not available from your network', 'ip']],
    ['ip', ALICE, ip('::ffff:11.0.0.1'), ['forbidden', 'network_not_allowed', 'not available from your network', 'ip']],
    ['ip', ALICE, ip('::a00:1'), ['forbidden', 'network_not_allowed', 'not available from your network', 'ip'], 'an IPv6 address whose low bits spell 10.0.0.1'],
    ['ip', ALICE, undefined, ['forbidden', 'network_not_allowed', 'not available from your network', 'ip']],
    ['ip', NOBODY, INSIDE, ['unauthenticated']],
    // claims (only the claims identityFromClaims keeps can be tested)
    ['claims-equals', who('a', { tid: 't-1' }), OUTSIDE, ['allow', 'allowed', 'claims-equals']],
    ['claims-equals', who('a', { tid: 'T-1' }), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires tid = t-1', 'claims-equals']],
    ['claims-equals', who('a', { tid: ['t-1'] }), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires tid = t-1', 'claims-equals'], 'a list is not equal to a value'],
    ['claims-equals', who('a'), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires tid = t-1', 'claims-equals'], 'missing claim'],
    ['claims-any', who('a', { hd: 'example.org' }), OUTSIDE, ['allow', 'allowed', 'claims-any']],
    ['claims-any', who('a', { hd: 'example.net' }), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires hd = example.com or example.org', 'claims-any']],
    ['claims-contains', who('a', { wids: ['x', 'admin-role'] }), OUTSIDE, ['allow', 'allowed', 'claims-contains']],
    ['claims-contains', who('a', { wids: 'admin-role' }), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires wids to contain admin-role', 'claims-contains'], 'contains needs a list claim'],
    ['claims-contains', who('a', { wids: ['admin-roles'] }), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires wids to contain admin-role', 'claims-contains']],
    ['claims-contains', who('a'), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires wids to contain admin-role', 'claims-contains'], 'missing claim'],
    ['claims-typed', who('a', { tid: '1', email_verified: true }), OUTSIDE, ['allow', 'allowed', 'claims-typed']],
    ['claims-typed', who('a', { tid: 1, email_verified: true }), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires tid = 1 and email_verified = true', 'claims-typed'], 'the number 1 is not "1"'],
    ['claims-typed', who('a', { tid: '1', email_verified: 'true' }), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires tid = 1 and email_verified = true', 'claims-typed'], '"true" is not true'],
    ['claims-typed', who('a', { tid: '1' }), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires tid = 1 and email_verified = true', 'claims-typed'], 'one of two claims missing'],
    // A claim identityFromClaims does not keep can never hold, even when the token has it.
    ['claims-unkept', who('a', { department: 'eng' }), OUTSIDE, ['allow', 'allowed', 'claims-unkept'], 'any claim the IdP sends can be tested'],
    ['claims-unkept', who('a', { department: 'ops' }), OUTSIDE, ['forbidden', 'claim_mismatch', 'requires department = eng', 'claims-unkept'], 'department: ops'],
    // mfa: amr contains "mfa", or acr names multi-factor
    ['mfa', who('a', { amr: ['pwd', 'mfa'] }), OUTSIDE, ['allow', 'allowed', 'mfa']],
    ['mfa', who('a', { amr: 'mfa' }), OUTSIDE, ['allow', 'allowed', 'mfa']],
    ['mfa', who('a', { acr: 'mfa' }), OUTSIDE, ['allow', 'allowed', 'mfa']],
    ['mfa', who('a', { acr: 'http://schemas.openid.net/pape/policies/2007/06/multi-factor' }), OUTSIDE, ['allow', 'allowed', 'mfa']],
    ['mfa', who('a', { amr: ['pwd', 'otp'] }), OUTSIDE, ['step_up', 'mfa_required', 'requires signing in with multi-factor authentication', 'mfa', { mfa: true }]],
    ['mfa', who('a', { amr: ['MFA'] }), OUTSIDE, ['step_up', 'mfa_required', 'requires signing in with multi-factor authentication', 'mfa', { mfa: true }]],
    ['mfa', who('a', { acr: 'urn:example:loa:silver' }), OUTSIDE, ['step_up', 'mfa_required', 'requires signing in with multi-factor authentication', 'mfa', { mfa: true }]],
    ['mfa', who('a'), OUTSIDE, ['step_up', 'mfa_required', 'requires signing in with multi-factor authentication', 'mfa', { mfa: true }]],
    ['mfa', NOBODY, OUTSIDE, ['unauthenticated']],
  ])
})

t.test('AND within an entry: the first failing condition is reported', async t => {
  const good = { email: 'a@example.com', groups: ['admins'], amr: ['mfa'] }
  check(t, [
    ['and', who('a', good), OUTSIDE, ['allow', 'allowed', 'and']],
    ['and', who('a', { ...good, amr: [] }), OUTSIDE, ['step_up', 'mfa_required', 'requires signing in with multi-factor authentication', 'and', { mfa: true }]],
    ['and', who('a', { ...good, groups: [] }), OUTSIDE, ['forbidden', 'group_required', 'requires group admins', 'and']],
    ['and', who('a', { ...good, email: 'a@other.test' }), OUTSIDE, ['forbidden', 'email_domain_not_allowed', 'requires an email address at example.com', 'and']],
    ['and', who('a', { email: 'a@other.test' }), OUTSIDE, ['forbidden', 'email_domain_not_allowed', 'requires an email address at example.com', 'and'], 'all three fail: email first'],
  ])
})

t.test('OR across entries: the first passing entry allows; else the first failure decides the reason', async t => {
  check(t, [
    ['or', who('a', { groups: ['admins'], roles: ['writer'] }), OUTSIDE, ['allow', 'allowed', 'or-1']],
    ['or', who('a', { roles: ['writer'] }), OUTSIDE, ['allow', 'allowed', 'or-2']],
    ['or', who('u-9'), OUTSIDE, ['allow', 'allowed', 'or-3']],
    // the reason code and rule are the first entry's; the message names every way in
    ['or', who('u-8', { roles: ['reader'] }), OUTSIDE, ['forbidden', 'group_required', 'requires group admins, or requires app role writer, or available to listed users only', 'or-1']],
    ['or', NOBODY, OUTSIDE, ['unauthenticated']],
  ])
})

t.test('deny wins over allow, and needs all its conditions', async t => {
  check(t, [
    ['deny-wins', who('a', { groups: ['staff'] }), OUTSIDE, ['allow', 'allowed', 'deny-wins-allow']],
    ['deny-wins', who('a', { groups: ['staff', 'contractors'] }), OUTSIDE, ['forbidden', 'denied_by_rule', 'refused by a deny rule of this route', 'deny-wins-deny']],
    ['deny-wins', who('a', { groups: ['contractors'] }), OUTSIDE, ['forbidden', 'denied_by_rule', 'refused by a deny rule of this route', 'deny-wins-deny']],
    ['deny-wins', NOBODY, OUTSIDE, ['unauthenticated'], 'a user deny entry does not match nobody'],
    // network deny on a public route
    ['deny-network', NOBODY, ip('198.51.100.20'), ['forbidden', 'network_denied', 'not available from your network', 'deny-network']],
    ['deny-network', ALICE, ip('::ffff:198.51.100.20'), ['forbidden', 'network_denied', 'not available from your network', 'deny-network']],
    ['deny-network', NOBODY, ip('198.51.101.1'), ['allow', 'anyone']],
    ['deny-network', NOBODY, undefined, ['forbidden', 'network_denied', 'not available from your network', 'deny-network'], 'an unknown address matches an ip deny'],
    // a user deny on a public route: anonymous requests pass
    ['deny-user-on-public', NOBODY, OUTSIDE, ['allow', 'anyone']],
    ['deny-user-on-public', who('m', { email: 'Mallory@Example.com' }), OUTSIDE, ['forbidden', 'denied_by_rule', 'refused by a deny rule of this route', 'deny-user']],
    ['deny-user-on-public', who('m', { email: 'alice@example.com' }), OUTSIDE, ['allow', 'anyone']],
    // network AND user
    ['deny-mixed', who('c', { groups: ['contractors'] }), ip('198.51.100.1'), ['forbidden', 'denied_by_rule', 'refused by a deny rule of this route', 'deny-mixed']],
    ['deny-mixed', who('c', { groups: ['contractors'] }), OUTSIDE, ['allow', 'authenticated']],
    ['deny-mixed', who('c', { groups: ['contractors'] }), undefined, ['forbidden', 'denied_by_rule', 'refused by a deny rule of this route', 'deny-mixed'], 'unknown address, contractor'],
    ['deny-mixed', who('s', { groups: ['staff'] }), ip('198.51.100.1'), ['allow', 'authenticated']],
    ['deny-mixed', who('s', { groups: ['staff'] }), undefined, ['allow', 'authenticated']],
    ['deny-mixed', NOBODY, ip('198.51.100.1'), ['unauthenticated']],
  ])
})

t.test('anonymous entries and the unauthenticated / forbidden distinction', async t => {
  check(t, [
    ['anonymous-only', NOBODY, INSIDE, ['allow', 'allowed', 'anonymous-only']],
    ['anonymous-only', ALICE, INSIDE, ['allow', 'allowed', 'anonymous-only']],
    ['anonymous-only', NOBODY, OUTSIDE, ['forbidden', 'network_not_allowed', 'not available from your network', 'anonymous-only'], 'signing in would not help'],
    ['anonymous-only', ALICE, OUTSIDE, ['forbidden', 'network_not_allowed', 'not available from your network', 'anonymous-only']],
    ['anonymous-only', NOBODY, undefined, ['forbidden', 'network_not_allowed', 'not available from your network', 'anonymous-only']],
    ['anonymous-or-group', NOBODY, INSIDE, ['allow', 'allowed', 'aog-1']],
    ['anonymous-or-group', NOBODY, OUTSIDE, ['unauthenticated'], 'the second entry could pass after sign-in'],
    ['anonymous-or-group', ALICE, OUTSIDE, ['allow', 'allowed', 'aog-2']],
    ['anonymous-or-group', who('b', { groups: ['ops'] }), OUTSIDE, ['forbidden', 'network_not_allowed', 'not available from your network, or requires group admins', 'aog-1']],
    ['network-or-group', who('o', { groups: ['ops'] }), INSIDE, ['allow', 'allowed', 'nog-1']],
    ['network-or-group', who('o', { groups: ['ops'] }), OUTSIDE, ['forbidden', 'network_not_allowed', 'not available from your network, or requires group admins', 'nog-1']],
    ['network-or-group', who('x'), INSIDE, ['forbidden', 'group_required', 'requires group ops, or requires group admins', 'nog-1']],
    ['network-or-group', ALICE, OUTSIDE, ['allow', 'allowed', 'nog-2']],
    ['network-or-group', NOBODY, OUTSIDE, ['unauthenticated']],
    ['network-or-group', NOBODY, INSIDE, ['unauthenticated']],
    // no user and only network entries that fail: a 403, not a sign-in prompt
    ['networks-only', NOBODY, OUTSIDE, ['forbidden', 'network_not_allowed', 'not available from your network', 'no-1'], 'the same words twice are said once'],
    ['networks-only', NOBODY, ip('192.0.2.1'), ['unauthenticated'], 'the second entry (not anonymous) needs a user'],
    ['networks-only', ALICE, ip('192.0.2.1'), ['allow', 'allowed', 'no-2']],
    ['networks-only', NOBODY, ip('10.0.0.1'), ['allow', 'allowed', 'no-1']],
    // an IPv4-mapped range in the policy, IPv4 and IPv4-mapped clients
    ['mapped-range', NOBODY, ip('10.9.9.9'), ['allow', 'allowed', 'mapped-range']],
    ['mapped-range', NOBODY, ip('::ffff:10.9.9.9'), ['allow', 'allowed', 'mapped-range']],
    ['mapped-range', NOBODY, ip('::ffff:11.9.9.9'), ['forbidden', 'network_not_allowed', 'not available from your network', 'mapped-range']],
  ])
})

t.test('no rule allows: an empty allow list (not possible from a file) denies', async t => {
  const route = { ...routeNamed('groups'), allow: [] as ConditionSet[] }
  t.same(decide(route, { identity: ALICE, clientIp: INSIDE }), { allow: false, kind: 'forbidden', reason: 'no_rule_allows', message: 'no rule of this route allows the request', rule: routeWhere('groups') })
  t.same(decide(route, { identity: NOBODY, clientIp: INSIDE }), { allow: false, kind: 'forbidden', reason: 'no_rule_allows', message: 'no rule of this route allows the request', rule: routeWhere('groups') })
})

t.test('the tagged locations are the compiled entries\' locations', async t => {
  const r = routeNamed('or')
  t.same(typeof r.allow === 'string' ? r.allow : r.allow.map(e => e.where), [at('or-1'), at('or-2'), at('or-3')])
  t.equal(routeNamed('deny-wins').deny[0]?.where, at('deny-wins-deny'))
  t.equal(at('or-1'), `${path}:${YAML.split('\n').findIndex(l => l.includes('@or-1')) + 1}:9`)
})

t.test('routeNeedsIdentity', async t => {
  const net = parseRange('10.0.0.0/8')
  if (typeof net === 'string') throw new Error(net)
  const where = 'x:1:1'
  const entries: Record<string, ConditionSet> = {
    groups: { where, groups: ['a'] },
    ip: { where, ip: [net.range] },
    anonIp: { where, anonymous: true, ip: [net.range] },
    anon: { where, anonymous: true },
    anonMfa: { where, anonymous: true, mfa: true },
    ipClaims: { where, ip: [net.range], claims: [{ claim: 'tid', kind: 'equals', values: ['x'] }] },
  }
  const e = entries as Record<keyof typeof entries, ConditionSet>
  const rows: Array<[string, Pick<Route, 'allow' | 'deny'>, boolean]> = [
    ['anyone', { allow: 'anyone', deny: [] }, false],
    ['authenticated', { allow: 'authenticated', deny: [] }, true],
    ['a group entry', { allow: [e.groups], deny: [] }, true],
    ['an ip entry (a user is needed)', { allow: [e.ip], deny: [] }, true],
    ['anonymous ip entries', { allow: [e.anonIp, e.anon], deny: [] }, false],
    ['anonymous and a user entry', { allow: [e.anonIp, e.groups], deny: [] }, true],
    ['an anonymous entry that also tests the user', { allow: [e.anonMfa], deny: [] }, true],
    ['anyone, deny by network', { allow: 'anyone', deny: [e.ip] }, false],
    ['anyone, deny by group', { allow: 'anyone', deny: [e.groups] }, true],
    ['anyone, deny by network and claims', { allow: 'anyone', deny: [e.ipClaims] }, true],
    ['anonymous, deny by network', { allow: [e.anonIp], deny: [e.ip] }, false],
  ]
  for (const [name, route, expected] of rows) t.equal(routeNeedsIdentity(route), expected, name)
  // Compiled routes carry the same answer.
  const compiled: Array<[string, boolean]> = [
    ['anyone', false], ['authenticated', true], ['ip', true], ['deny-network', false], ['deny-user-on-public', true],
    ['anonymous-only', false], ['anonymous-or-group', true], ['networks-only', true], ['mapped-range', false],
  ]
  for (const [name, expected] of compiled) t.equal(routeNamed(name).needsIdentity, expected, `compiled ${name}`)
})

t.test('email conditions do not trust an email the IdP marks unverified', async t => {
  const file = join(dir, 'email-policy.yaml')
  writeFileSync(file, `
routes:
  - name: staff
    match: { path: /** }
    upstream: app
    allow: [{ email_domains: [example.com] }]
upstreams:
  app: { url: http://127.0.0.1:9 }
`)
  const route = loadPolicy(file, { defaultUpstream: undefined }).policy.routes[0]
  if (route === undefined) throw new Error('no route')
  const outsider = identityFromClaims({ iss: 'https://idp', sub: 'x1', email: 'ceo@example.com', email_verified: false }, { groupsClaim: 'groups', rolesClaim: 'roles' })
  const decision = decide(route, { identity: outsider, clientIp: parseAddress('192.0.2.1') })
  t.equal(decision.allow, false, 'an unverified ceo@example.com does not satisfy email_domains: [example.com]')
})
