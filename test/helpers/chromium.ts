import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const OUTPUT_DIR = join(process.cwd(), 'test-output')

interface TestLike {
  teardown (fn: () => unknown): void
  name: string
  passing (): boolean
}

/** Headless Debian Chromium, closed by t.teardown; a screenshot of every open page is saved if the test failed. */
export async function launchChromium (t: TestLike): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  })
  t.teardown(async () => {
    if (!t.passing()) {
      mkdirSync(OUTPUT_DIR, { recursive: true })
      let i = 0
      for (const context of browser.contexts()) {
        for (const page of context.pages()) {
          await screenshot(page, join(OUTPUT_DIR, `${t.name.replace(/[^a-z0-9]+/gi, '-')}-${i++}.png`)).catch(() => undefined)
        }
      }
    }
    await browser.close()
  })
  return browser
}

export async function screenshot (page: Page, path: string): Promise<void> {
  await page.screenshot({ path, fullPage: true })
}
