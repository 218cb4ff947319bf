/// <reference path="./oidc-provider.d.ts" />
import type { KoaContextWithOIDC } from 'oidc-provider'
import { escapeValue, idpPage } from './idp-page.js'

/**
 * RP-initiated logout. The relying party already asked the person; when it
 * sends a valid `id_token_hint` for the account signed in here (oidc-provider
 * checked its signature and audience before this runs), the IdP signs out at
 * once: its form (holding the xsrf token) is sent by the page itself, with a
 * button for browsers without JavaScript. Without such a hint anyone's page
 * could sign people out, so the IdP asks.
 */
export function logoutSource (ctx: KoaContextWithOIDC, form: string): void {
  ctx.type = 'html'
  if (hintNamesSignedInAccount(ctx)) {
    const fields = '<input type="hidden" name="logout" value="yes">\n<noscript><button type="submit" autofocus>Continue signing out</button></noscript>\n'
    ctx.body = idpPage('Signing out - Dev IdP', `<h1>Signing out…</h1>
${form.replace('</form>', `${fields}</form>`)}
<script>document.forms[0].submit()</script>`)
    return
  }
  const buttons = '<button type="submit" name="logout" value="yes" autofocus>Yes, sign me out</button>\n'
    + '<button type="submit">No, stay signed in</button>\n'
  ctx.body = idpPage('Sign out - Dev IdP', `<h1>Do you want to sign out from ${escapeValue(ctx.host)}?</h1>
${form.replace('</form>', `${buttons}</form>`)}`)
}

export function postLogoutSuccessSource (ctx: KoaContextWithOIDC): void {
  ctx.type = 'html'
  ctx.body = idpPage('Signed out - Dev IdP', '<h1>You are signed out.</h1>')
}

function hintNamesSignedInAccount (ctx: KoaContextWithOIDC): boolean {
  const hint = ctx.oidc.entities.IdTokenHint as { payload?: { sub?: unknown } } | undefined
  const accountId = ctx.oidc.session?.accountId
  return accountId !== undefined && hint?.payload?.sub === accountId
}
