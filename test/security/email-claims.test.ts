import t from 'tap'
import { decodeJwt } from 'jose'
import type { DevUser } from '../../src/devidp/provider.js'
import { ATTACK_USERS, apiHeaders, http11, startAttackStack } from '../helpers/attack-stack.js'

/**
 * Email claims that are not one address: two addresses run together, a NUL
 * or a list separator between them, a display name, a comment. An
 * `email_domains` rule compares the domain of one parsed RFC 5322 addr-spec;
 * anything else matches no domain and no `emails` entry, and reaches the
 * upstream neither as X-Gatehouse-Email nor in the assertion.
 */
const POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: corp
    match: { path: /corp/** }
    upstream: app
    allow: [{ email_domains: [corp.example] }]
  - name: listed
    match: { path: /listed/** }
    upstream: app
    allow: [{ emails: [boss@corp.example] }]
  - name: app
    match: { path: /app/** }
    upstream: app
    allow: authenticated
`

// [user id, email claim, whether it is one address at corp.example]
const EMAILS: Array<[string, string, boolean]> = [
  ['control', 'carla@corp.example', true],
  ['quoted', '"someone@evil.example"@corp.example', true],
  ['two-ats', 'someone@evil.example@corp.example', false],
  ['nul', 'someone@evil.example\u0000@corp.example', false],
  ['comma', 'someone@evil.example,boss@corp.example', false],
  ['comma-space', 'someone@evil.example, boss@corp.example', false],
  ['semicolon', 'someone@evil.example;boss@corp.example', false],
  ['display-name', 'Boss <boss@corp.example>', false],
  ['comment', 'boss(x)@corp.example', false],
  ['trailing-dot', 'boss@corp.example.', false],
  ['literal', 'boss@[192.0.2.1]', false],
]

const USERS: DevUser[] = [
  ...ATTACK_USERS,
  ...EMAILS.map(([id, email]) => ({ id, password: `${id}-pass`, name: id, email, groups: [], roles: [] })),
]

t.test('email claims that are not exactly one address', async t => {
  const s = await startAttackStack(t, POLICY, { users: USERS })
  for (const [id, email, valid] of EMAILS) {
    t.test(`${id}: ${JSON.stringify(email)}`, async t => {
      const cookie = await s.cookie(id)
      const corp = await s.probe(http11('GET', '/corp/x', apiHeaders(['Cookie', cookie])))
      t.equal(corp.res.status, valid ? 200 : 403, valid ? 'one address at corp.example' : 'matches no domain rule')
      if (!valid) t.match(corp.res.body, /"reason":"email_domain_not_allowed"/)
      const listed = await s.probe(http11('GET', '/listed/x', apiHeaders(['Cookie', cookie])))
      t.equal(listed.res.status, 403, 'no emails entry matches part of it')
      const app = await s.probe(http11('GET', '/app/x', apiHeaders(['Cookie', cookie])))
      t.equal(app.res.status, 200)
      const got = app.seen[0]
      t.ok(got, 'the upstream got the request')
      if (got === undefined) return
      t.same(s.up.values(got, 'x-gatehouse-email'), valid ? [email] : [], valid ? 'sent as written' : 'not sent upstream as an email')
      const assertion = decodeJwt(s.up.values(got, 'x-gatehouse-assertion')[0] ?? '')
      t.equal(assertion.email, valid ? email : undefined, 'the assertion says the same')
    })
  }
})
