import { decodeJwt, decodeProtectedHeader } from 'jose'
import type { DevIdp } from '../../src/devidp/provider.js'
import type { Browser, Page } from './browserless.js'

/**
 * Walks a sign-in through the IdP step by step, without following the IdP's
 * final redirect: starts at `startUrl` (a gateway URL that redirects to the
 * IdP, or an authorization URL), signs in with the login form when the IdP
 * shows one, and returns the callback URL the IdP sends the browser to,
 * before the gateway sees it.
 */
export async function idpCallback (browser: Browser, startUrl: string, callbackPrefix: string, login: { user: string, password: string }): Promise<string> {
  let page: Page = await browser.request(startUrl, { followRedirects: false })
  for (let hops = 0; hops < 20; hops++) {
    const location = page.headers.get('location')
    if (page.status >= 300 && page.status < 400 && location !== null) {
      const next = new URL(location, page.url).href
      if (next.startsWith(callbackPrefix)) return next
      page = await browser.request(next, { followRedirects: false })
      continue
    }
    const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1]
    if (page.status !== 200 || action === undefined || !page.body.includes('name="password"')) {
      throw new Error(`expected the IdP's login form or a redirect, got ${page.status} at ${page.url}: ${page.body.slice(0, 300)}`)
    }
    page = await browser.request(new URL(action, page.url).href, {
      method: 'POST',
      followRedirects: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(page.url).origin },
      body: new URLSearchParams({ login: login.user, password: login.password, action: 'login' }).toString(),
    })
  }
  throw new Error(`no callback to ${callbackPrefix} within 20 hops`)
}

/** How a test alters the ID token of a token response: gets the IdP's token, returns the one to send. */
export type IdTokenForgery = (idToken: string, parts: { header: Record<string, unknown>, payload: Record<string, unknown> }) => Promise<string>

/**
 * Installs a hook in the IdP's token endpoint that passes each ID token
 * through the current forgery (none: unchanged). Returns the setter.
 */
export function forgeIdTokens (idp: DevIdp): { set (forgery: IdTokenForgery | undefined): void } {
  let current: IdTokenForgery | undefined
  idp.use(async (ctx, next) => {
    await next()
    const body = ctx.body as Record<string, unknown> | undefined
    if (current === undefined || ctx.method !== 'POST' || ctx.path !== '/token' || typeof body?.id_token !== 'string') return
    const idToken = body.id_token
    ctx.body = { ...body, id_token: await current(idToken, { header: decodeProtectedHeader(idToken) as Record<string, unknown>, payload: decodeJwt(idToken) as Record<string, unknown> }) }
  })
  return { set (forgery) { current = forgery } }
}

/** base64url of a JSON value, for hand-made JWTs. */
export function b64json (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}
