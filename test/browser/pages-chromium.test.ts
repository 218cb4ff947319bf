import t, { type Test } from 'tap'
import { launchChromium } from '../helpers/chromium.js'
import { policyDir } from '../helpers/policy-files.js'
import { startStack } from '../helpers/stack.js'
import { accessDenied, PAGES_POLICY, signInCancelled, signOut, whoAmI } from './page-flows.js'

async function setup (t: Test) {
  const { file } = policyDir(t, PAGES_POLICY)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_BRANDING_PRODUCT_NAME: 'Acme Access', GATEHOUSE_BRANDING_SUPPORT_CONTACT: 'help@acme.example' } })
  const chromium = await launchChromium(t)
  const page = await (await chromium.newContext()).newPage()
  return { stack, page }
}

t.test('bob opening /admin/ sees the access-denied page with the reason, and a way out', async t => {
  const { stack, page } = await setup(t)
  await accessDenied(page, stack)
  t.equal(page.url(), `${stack.url}/admin/`, 'the address stays the page he asked for')
  const text = await page.textContent('main') ?? ''
  t.match(text, /You are signed in as Bob Staff \(bob@example\.test\)/)
  t.match(text, /This page \(admin\) requires group admins, or requires app role App\.Admin\./)
  t.match(text, /quote request [0-9a-f-]{36}/)
  t.match(text, /Need help\? Contact help@acme\.example/)
  t.match(await page.title(), /^Access denied · Acme Access$/)
  t.ok(await page.getByRole('link', { name: 'Sign in as someone else' }).isVisible())
  t.ok(await page.getByRole('button', { name: 'Sign out' }).isVisible())
  // Keyboard: the first action takes the focus with Tab and shows it.
  await page.keyboard.press('Tab')
  t.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Sign in as someone else')
})

t.test('the pages allow no script at all', async t => {
  const { stack, page } = await setup(t)
  const response = await page.goto(`${stack.url}/.gatehouse/signed-out`)
  const csp = response?.headers()['content-security-policy'] ?? ''
  t.match(csp, /script-src 'none'/)
  t.match(csp, /default-src 'none'/)
  const violations: string[] = []
  page.on('console', m => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()) })
  await page.addScriptTag({ content: 'window.injected = true' }).catch(() => undefined)
  t.equal(await page.evaluate(() => (window as unknown as { injected?: boolean }).injected), undefined, 'an inline script does not run')
  t.ok(violations.length > 0, 'the browser reports the blocked script')
})

t.test('/.gatehouse/me lists the groups, the session and the routes alice may open', async t => {
  const { stack, page } = await setup(t)
  await whoAmI(page, stack)
  const text = await page.textContent('main') ?? ''
  t.match(text, /Groups\s*admins\s*staff\s*App roles\s*App\.Admin/)
  t.match(text, /Signed in\s*\w{3}, \d\d \w{3} \d{4} [\d:]+ GMT/)
  t.match(text, /\/public\/\*\* \(public\)/)
  t.match(text, /\/admin\/\*\* \(admin\)/)
  t.match(text, /\/\*\* \(app\)/)
  // The page itself may not fetch anything (connect-src 'none'); an API client asks with the same cookie.
  const cookie = (await page.context().cookies(stack.url)).find(c => c.name === stack.gateway.cookies.session)?.value ?? ''
  const json = await (await fetch(`${stack.url}/.gatehouse/me`, { headers: { accept: 'application/json', cookie: `${stack.gateway.cookies.session}=${cookie}` } })).json() as { groups: string[], routes: Array<{ name: string }> }
  t.same(json.groups, ['admins', 'staff'], 'API clients get JSON')
  t.same(json.routes.map(r => r.name), ['public', 'admin', 'app'])
})

t.test('a cancelled sign-in shows the sign-in-failed page with a way back', async t => {
  const { stack, page } = await setup(t)
  await signInCancelled(page, stack)
  t.match(await page.textContent('main') ?? '', /The sign-in was cancelled, or the identity provider did not allow it\./)
  await page.getByRole('link', { name: 'Try again' }).click()
  await page.getByLabel('Username').waitFor()
  await page.getByLabel('Username').fill('alice')
  await page.getByLabel('Password').fill('alice-pass')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${stack.url}/reports/q3`)
  t.pass('trying again lands on the page first asked for')
})

t.test('sign-out ends the session at the gateway and at the IdP', async t => {
  const { stack, page } = await setup(t)
  await signOut(page, stack)
  t.match(await page.textContent('h1') ?? '', /You are signed out/)
  t.notOk((await page.context().cookies(stack.url)).some(c => c.name === stack.gateway.cookies.session), 'no session cookie')
  await page.goto(`${stack.url}/home`)
  await page.getByLabel('Password').waitFor()
  t.pass('the IdP asks for the password again')
})

t.test('the request id on the 403 and error pages stays on one line on a narrow screen', async t => {
  const { stack, page } = await setup(t)
  await page.setViewportSize({ width: 340, height: 700 })
  await accessDenied(page, stack)
  const lines = async (): Promise<number[]> => await page.locator('code.id').evaluateAll(els => els.map(el => new Set(Array.from({ length: el.getClientRects().length }, (_, i) => Math.round(el.getClientRects()[i]?.top ?? 0))).size))
  t.same(await lines(), [1], '403: the request id is one line')
  await page.goto(`${stack.url}/.gatehouse/callback?code=x&state=forged`)
  await page.getByRole('heading', { name: 'Sign-in failed' }).waitFor()
  t.same(await lines(), [1], 'error page: the request id is one line')
})
