import t from 'tap'
import { launchChromium } from '../helpers/chromium.js'
import { startStack } from '../helpers/stack.js'

t.test('alice signs in with Chromium and lands on the page she asked for, with her identity verified by the app', async t => {
  const stack = await startStack(t)
  const chromium = await launchChromium(t)
  const page = await chromium.newPage()
  await page.goto(`${stack.url}/dashboard?tab=2`)
  // The IdP's login form.
  await page.getByLabel('Username').fill('alice')
  await page.getByLabel('Password').fill('alice-pass')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${stack.url}/dashboard?tab=2`)
  const text = await page.textContent('body') ?? ''
  t.match(text, /Legacy app/)
  t.match(text, /x-gatehouse-user\s*alice/)
  t.match(text, /x-gatehouse-groups\s*admins,staff/)
  t.match(text, /Assertion verified against the gateway's JWKS/)
  const cookies = await page.context().cookies(stack.url)
  const session = cookies.find(c => c.name === stack.gateway.cookies.session)
  t.ok(session?.httpOnly, 'session cookie is HttpOnly')
  t.equal(session?.sameSite, 'Lax')

  // Sign out with the app's button (a POST to the gateway), then the IdP's confirmation.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('button', { name: /Yes, sign me out/ }).click()
  await page.waitForURL(`${stack.url}/.gatehouse/signed-out`)
  t.match(await page.textContent('h1') ?? '', /You are signed out/)
  const after = await page.context().cookies(stack.url)
  t.notOk(after.some(c => c.name === stack.gateway.cookies.session), 'session cookie gone')
})
