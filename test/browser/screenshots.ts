/**
 * `npm run screenshots`: the gateway's pages in headless Chromium, through the
 * same flows as the browser tests, saved as PNG files for the README.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import { CHROMIUM_PATH } from '../helpers/chromium.js'
import { policyDir } from '../helpers/policy-files.js'
import { freePort } from '../helpers/ports.js'
import { startStack } from '../helpers/stack.js'
import { accessDenied, PAGES_POLICY, signInAt, signInCancelled, signOut, whoAmI } from './page-flows.js'

const OUT = process.argv[2] ?? 'docs/screenshots'
const teardowns: Array<() => unknown> = []
const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }

try {
  mkdirSync(OUT, { recursive: true })
  const { file } = policyDir(t, PAGES_POLICY)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_LOG_LEVEL: 'warn', GATEHOUSE_BRANDING_SUPPORT_CONTACT: 'it-help@example.com' } })
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] })
  t.teardown(() => browser.close())
  const shot = async (name: string, flow: (page: Page) => Promise<void>): Promise<void> => {
    const context = await browser.newContext({ viewport: { width: 900, height: 640 } })
    const page = await context.newPage()
    await flow(page)
    await page.screenshot({ path: join(OUT, `${name}.png`) })
    await context.close()
    process.stdout.write(`wrote ${join(OUT, `${name}.png`)}\n`)
  }
  await shot('access-denied', async page => { await accessDenied(page, stack) })
  await shot('who-am-i', async page => { await whoAmI(page, stack) })
  await shot('sign-in-failed', async page => { await signInCancelled(page, stack) })
  await shot('sign-out', async page => { await signOut(page, stack, async () => { await page.screenshot({ path: join(OUT, 'sign-out-confirm.png') }) }) })
  const down = await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_LOG_LEVEL: 'warn', GATEHOUSE_UPSTREAM_URL: `http://127.0.0.1:${await freePort()}` } })
  await shot('upstream-unavailable', async page => {
    await signInAt(page, `${down.url}/reports`, 'alice', 'alice-pass')
    await page.getByRole('heading', { name: 'Application unavailable' }).waitFor()
  })
} finally {
  for (const fn of teardowns.reverse()) await fn()
}
