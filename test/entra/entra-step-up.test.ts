import t from 'tap'
import type { EntraUser } from '../helpers/entra-standin.js'
import { policyDir } from '../helpers/policy-files.js'
import { startStack } from '../helpers/stack.js'
import { API, HOME, POLICY, USERS } from './fixtures.js'

const FRAN: EntraUser = { id: 'fran', password: 'fran-pass', name: 'Fran Stepup', tid: HOME, oid: '55555555-0000-4000-8000-00000000f4a1', upn: 'fran@contoso.test', groups: [], amr: ['pwd'], stepUpCode: '135790', stepUpAcrs: ['c1', 'c2'] }
const STEP_UP_POLICY = POLICY.replace('routes:\n', `routes:
  - name: device
    match: { path: /device/** }
    allow: [ { auth_context: [c2] } ]
`)

t.test('Entra: an authentication context is asked for with the claims parameter, and the stepped-up session passes', async t => {
  const { file } = policyDir(t, STEP_UP_POLICY)
  const stack = await startStack(t, {
    entra: { tenant: HOME, users: [...USERS, FRAN] },
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_ENTRA_MFA_AUTH_CONTEXTS: 'c1', GATEHOUSE_BEARER_AUDIENCES: API },
  })
  const { browser } = await stack.signIn('fran', '/')

  const first = await browser.request(`${stack.url}/device/`, { followRedirects: false })
  t.equal(first.status, 302, 'a step-up, not a 403')
  const location = new URL(first.headers.get('location') ?? '')
  t.equal(location.searchParams.get('claims'), '{"id_token":{"acrs":{"essential":true,"value":"c2"}}}', 'acrs essential for the context')
  const login = await browser.get(location.href)
  t.match(login.body, /One-time code/, 'Entra asks for what the context requires')
  const landed = await browser.submitForm(login, { login: 'fran', password: 'fran-pass', code: '135790' })
  t.equal(landed.url, `${stack.url}/device/`)
  t.equal(landed.status, 200, 'acrs now holds c2')

  const mfa = await browser.request(`${stack.url}/mfa/`, { followRedirects: false })
  t.equal(mfa.status, 200, 'c1, named in mfa_auth_contexts, came with it: mfa passes without another trip')

  const { browser: other } = await stack.signIn('bob', '/')
  const asked = await other.request(`${stack.url}/mfa/`, { followRedirects: false })
  t.equal(new URL(asked.headers.get('location') ?? '').searchParams.get('claims'), '{"id_token":{"acrs":{"essential":true,"value":"c1"}}}', 'mfa: true asks for the first of mfa_auth_contexts')
})
