import t, { type Test } from 'tap'
import { DEMO_USERS, type DevUser } from '../../src/devidp/provider.js'
import { launchChromium } from '../helpers/chromium.js'
import { policyDir } from '../helpers/policy-files.js'
import { startStack } from '../helpers/stack.js'
import { signInAt } from './page-flows.js'

const ERIN: DevUser = { id: 'erin', password: 'erin-pass', name: 'Erin Stepup', email: 'erin@example.test', groups: ['staff'], roles: [], amr: ['pwd'], stepUpCode: '246810' }
const POLICY = `
routes:
  - name: admin
    match: { path: /admin/** }
    allow: [ { mfa: true } ]
  - name: app
    match: { path: /** }
    allow: authenticated
`

async function setup (t: Test) {
  const { file } = policyDir(t, POLICY)
  const stack = await startStack(t, { users: [...DEMO_USERS, ERIN], env: { GATEHOUSE_POLICIES: file } })
  const chromium = await launchChromium(t)
  const page = await (await chromium.newContext()).newPage()
  return { stack, page }
}

t.test('a person signed in with a password opens a page that needs MFA: the IdP asks for the second factor and the page opens', async t => {
  const { stack, page } = await setup(t)
  await signInAt(page, `${stack.url}/home`, 'erin', 'erin-pass')
  await page.waitForURL(`${stack.url}/home`)
  const before = (await page.context().cookies(stack.url)).find(c => c.name === stack.gateway.cookies.session)?.value

  const response = page.waitForResponse(r => r.url() === `${stack.url}/admin/users`)
  await page.goto(`${stack.url}/admin/users`)
  await page.getByLabel('One-time code (multi-factor authentication was requested)').waitFor()
  await page.getByLabel('Username').fill('erin')
  await page.getByLabel('Password').fill('erin-pass')
  await page.getByLabel('One-time code (multi-factor authentication was requested)').fill('246810')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${stack.url}/admin/users`)
  t.equal((await response).status(), 302, 'the first answer was the trip to the IdP, not a 403')
  t.ok(stack.app.requests.some(r => r.url === '/admin/users'), 'the page was opened')
  const after = (await page.context().cookies(stack.url)).find(c => c.name === stack.gateway.cookies.session)?.value
  t.ok(after !== undefined && after !== before, 'signed in still, under a new session id')
})

t.test('a person whose sign-in cannot bring MFA sees what is missing, once', async t => {
  const { stack, page } = await setup(t)
  await signInAt(page, `${stack.url}/home`, 'bob', 'bob-pass')
  await page.waitForURL(`${stack.url}/home`)
  await page.goto(`${stack.url}/admin/users`)
  await page.getByRole('heading', { name: 'Access denied' }).waitFor()
  t.equal(page.url(), `${stack.url}/admin/users`, 'the address stays the page asked for')
  t.match(await page.textContent('main') ?? '', /needs a sign-in with multi-factor authentication; yours used: password/)
})
