import type { Page } from 'playwright-core'
import type { Stack } from '../helpers/stack.js'

/**
 * The ways a person meets the gateway's own pages, driven in Chromium. The
 * browser tests assert on them; `npm run screenshots` runs the same flows to
 * make the pictures in the README.
 */
export const PAGES_POLICY = `
routes:
  - name: public
    match: { path: /public/** }
    allow: anyone
  - name: admin
    match: { path: /admin/** }
    allow:
      - groups: [admins]
        mfa: true
      - roles: [App.Admin]
  - name: app
    match: { path: /** }
    allow: authenticated
`

export async function signInAt (page: Page, url: string, user: string, password: string): Promise<void> {
  await page.goto(url)
  await page.getByLabel('Username').fill(user)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

/** bob opens /admin/ and meets the access-denied page. */
export async function accessDenied (page: Page, stack: Stack): Promise<void> {
  await signInAt(page, `${stack.url}/admin/`, 'bob', 'bob-pass')
  await page.getByRole('heading', { name: 'Access denied' }).waitFor()
}

/** alice looks at /.gatehouse/me. */
export async function whoAmI (page: Page, stack: Stack): Promise<void> {
  await signInAt(page, `${stack.url}/.gatehouse/me`, 'alice', 'alice-pass')
  await page.getByRole('heading', { name: 'Who am I' }).waitFor()
}

/** Someone presses Cancel at the IdP's sign-in form. */
export async function signInCancelled (page: Page, stack: Stack): Promise<void> {
  await page.goto(`${stack.url}/reports/q3`)
  await page.getByRole('button', { name: 'Cancel' }).click()
  await page.getByRole('heading', { name: 'Sign-in failed' }).waitFor()
}

/** alice signs out: the gateway's confirmation (the only question), then the signed-out page. */
export async function signOut (page: Page, stack: Stack, before?: () => Promise<void>): Promise<void> {
  await signInAt(page, `${stack.url}/home`, 'alice', 'alice-pass')
  await page.waitForURL(`${stack.url}/home`)
  await page.goto(`${stack.url}/.gatehouse/logout`)
  await page.getByRole('heading', { name: 'Sign out?' }).waitFor()
  if (before !== undefined) await before()
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForURL(`${stack.url}/.gatehouse/signed-out`)
}
