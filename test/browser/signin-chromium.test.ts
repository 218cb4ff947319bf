import t from 'tap'
import { launchChromium } from '../helpers/chromium.js'
import { startStack } from '../helpers/stack.js'
import { policyDir } from '../helpers/policy-files.js'
import { PAGES_POLICY, signInAt } from './page-flows.js'

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

  // Sign out with the app's button (a POST to the gateway): the IdP does not ask again.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForURL(`${stack.url}/.gatehouse/signed-out`)
  t.match(await page.textContent('h1') ?? '', /You are signed out/)
  const after = await page.context().cookies(stack.url)
  t.notOk(after.some(c => c.name === stack.gateway.cookies.session), 'session cookie gone')
})

t.test('"Sign in as someone else" on the access-denied page ends signed in as the other demo user', async t => {
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: policyDir(t, PAGES_POLICY).file } })
  const chromium = await launchChromium(t)
  const page = await chromium.newPage()
  await signInAt(page, `${stack.url}/admin/`, 'bob', 'bob-pass')
  await page.getByRole('heading', { name: 'Access denied' }).waitFor()
  await page.getByRole('link', { name: 'Sign in as someone else' }).click()
  // The IdP offers the account signed in there, or another one.
  await page.getByRole('button', { name: 'Use another account' }).click()
  await page.getByLabel('Username').fill('alice')
  await page.getByLabel('Password').fill('alice-pass')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${stack.url}/admin/`)
  const text = await page.textContent('body') ?? ''
  t.match(text, /Legacy app/, 'alice gets in where bob was refused')
  t.match(text, /x-gatehouse-user\s*alice/)
  t.match(text, /Assertion verified against the gateway's JWKS/)
  const me = await page.goto(`${stack.url}/.gatehouse/me`)
  t.match(await me?.text() ?? '', /alice@example\.test/, 'the session is alice\'s')
})

t.test('sign-out asks one question; leaving signs nobody back in silently', async t => {
  const stack = await startStack(t)
  const chromium = await launchChromium(t)
  const page = await chromium.newPage()
  await signInAt(page, `${stack.url}/home`, 'alice', 'alice-pass')
  await page.waitForURL(`${stack.url}/home`)

  // Every page the browser is shown from here on, and the questions among them.
  const questions: string[] = []
  const pending: Array<Promise<void>> = []
  page.on('response', response => {
    if (response.request().resourceType() !== 'document' || response.status() !== 200) return
    pending.push(response.text().then(body => {
      const question = /<h1>(Sign out\?|Do you want to sign out[^<]*)<\/h1>/.exec(body)?.[1]
      if (question !== undefined) questions.push(question)
    }, () => undefined))
  })
  await page.goto(`${stack.url}/.gatehouse/logout`)
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForURL(`${stack.url}/.gatehouse/signed-out`)
  t.match(await page.textContent('h1') ?? '', /You are signed out/)
  await Promise.all(pending)
  t.same(questions, ['Sign out?'], 'exactly one confirmation page: the gateway\'s')
  t.notOk((await page.context().cookies(stack.url)).some(c => c.name === stack.gateway.cookies.session), 'no session cookie')

  // The next visit to a protected page goes to the IdP's login form, not silently back in.
  await page.goto(`${stack.url}/home`)
  await page.getByLabel('Password').waitFor()
  t.match(page.url(), `${stack.idp.issuer}/interaction/`, 'at the IdP\'s login form')
})
