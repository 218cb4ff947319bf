import t from 'tap'
import { decide, type RouteRules } from '../../src/authorize/decision.js'
import { describeNeed, mergeNeeds, needKey } from '../../src/authorize/step-up.js'
import { identityFromClaims } from '../../src/identify/build-identity.js'
import type { ConditionSet } from '../../src/policy/types.js'

const NAMES = { groupsClaim: 'groups', rolesClaim: 'roles' }
const NOW = Date.UTC(2026, 11, 4, 12, 0, 0)
const who = (claims: Record<string, unknown> = {}): ReturnType<typeof identityFromClaims> => identityFromClaims({ iss: 'https://idp.test', sub: 'u', amr: ['pwd'], auth_time: NOW / 1000 - 60, ...claims }, NAMES)
const route = (allow: RouteRules['allow'], extra: Partial<RouteRules> = {}): RouteRules => ({ where: 'p.yaml:1:1', allow, deny: [], ...extra })
const entry = (conditions: Omit<ConditionSet, 'where'>, where = 'p.yaml:3:7'): ConditionSet => ({ where, ...conditions }) as ConditionSet

t.test('a user who fails only on how they signed in gets a step-up, with what it needs', async t => {
  const cases: Array<[string, ConditionSet, Record<string, unknown>, object]> = [
    ['mfa', entry({ mfa: true }), {}, { mfa: true }],
    ['acr', entry({ acr: ['gold', 'platinum'] }), { acr: 'silver' }, { acr: ['gold', 'platinum'] }],
    ['acr missing', entry({ acr: ['gold'] }), {}, { acr: ['gold'] }],
    ['auth_context', entry({ authContexts: ['c1', 'c2'] }), { acrs: ['c1'] }, { authContexts: ['c1', 'c2'] }],
    ['mfa and acr together', entry({ mfa: true, acr: ['gold'] }), {}, { mfa: true, acr: ['gold'] }],
  ]
  for (const [name, allow, claims, need] of cases) {
    const d = decide(route([allow]), { identity: who(claims), clientIp: undefined, now: NOW })
    t.match(d, { allow: false, kind: 'step_up', need, rule: allow.where }, name)
    t.same(!d.allow && d.kind === 'step_up' ? d.need : undefined, need, `${name}: exactly what is needed`)
  }
  t.match(decide(route([entry({ acr: ['gold'] })]), { identity: who({ acr: 'gold' }), clientIp: undefined }), { allow: true }, 'acr held')
  t.match(decide(route([entry({ authContexts: ['c1'] })]), { identity: who({ acrs: ['c1', 'c9'] }), clientIp: undefined }), { allow: true }, 'auth_context held')
})

t.test('a step-up cannot make someone else of the user: other failing conditions refuse', async t => {
  const d = decide(route([entry({ groups: ['admins'], mfa: true })]), { identity: who({ groups: ['staff'] }), clientIp: undefined })
  t.match(d, { allow: false, kind: 'forbidden', reason: 'group_required' })
  const either = decide(route([entry({ groups: ['admins'] }), entry({ mfa: true }, 'p.yaml:4:7')]), { identity: who({ groups: ['staff'] }), clientIp: undefined })
  t.match(either, { kind: 'step_up', rule: 'p.yaml:4:7' }, 'an entry that a step-up would pass is offered')
  t.match(decide(route([entry({ mfa: true })]), { identity: undefined, clientIp: undefined }), { kind: 'unauthenticated' }, 'nobody signed in: sign in first')
})

t.test('reauth_after: a sign-in older than the route allows, or of unknown age, steps up with max_age', async t => {
  const fresh = route('authenticated', { reauthAfterMs: 15 * 60_000 })
  t.match(decide(fresh, { identity: who(), clientIp: undefined, now: NOW }), { allow: true }, 'a minute old')
  t.match(decide(fresh, { identity: who({ auth_time: NOW / 1000 - 16 * 60 }), clientIp: undefined, now: NOW }), { allow: false, kind: 'step_up', reason: 'reauth_required', need: { maxAgeS: 900 }, message: 'requires a sign-in within the last 15m' })
  t.match(decide(fresh, { identity: who({ auth_time: undefined }), clientIp: undefined, now: NOW }), { kind: 'step_up', need: { maxAgeS: 900 } }, 'no auth_time: unknown age')
  t.match(decide(fresh, { identity: who({ auth_time: NOW / 1000 - 16 * 60 }), clientIp: undefined }), { allow: true }, 'without a clock (explain, policy tests) the age is not checked')
  const both = decide(route([entry({ mfa: true })], { reauthAfterMs: 60_000 }), { identity: who({ auth_time: NOW / 1000 - 120 }), clientIp: undefined, now: NOW })
  t.match(both, { kind: 'step_up', need: { mfa: true, maxAgeS: 60 } }, 'both needs in one trip')
  const denied = decide(route([entry({ groups: ['admins'] })], { reauthAfterMs: 60_000 }), { identity: who({ auth_time: NOW / 1000 - 120 }), clientIp: undefined, now: NOW })
  t.match(denied, { kind: 'forbidden' }, 'a refusal stays a refusal')
})

t.test('needs: merged, keyed and described', async t => {
  t.same(mergeNeeds({ mfa: true, maxAgeS: 600 }, { acr: ['a'], maxAgeS: 60, authContexts: ['c1'] }), { mfa: true, acr: ['a'], authContexts: ['c1'], maxAgeS: 60 })
  t.equal(needKey({ acr: ['b', 'a'] }), needKey({ acr: ['a', 'b'] }))
  t.not(needKey({ mfa: true }), needKey({ mfa: true, maxAgeS: 60 }))
  t.equal(describeNeed({ mfa: true, maxAgeS: 900 }), 'multi-factor authentication and a sign-in within the last 15 minutes')
  t.equal(describeNeed({ authContexts: ['c1'] }), 'conditional access context c1')
})
