/// <reference path="./oidc-provider.d.ts" />
import type { Interaction } from 'oidc-provider'
import type { DevUser } from './dev-users.js'
import { escapeValue, idpPage } from './idp-page.js'

/** The sign-in form (username or email, password). */
export function loginPage (interaction: Interaction, opts: { error?: string, login?: string, code?: boolean } = {}): string {
  const uid = escapeValue(interaction.uid)
  const error = opts.error === undefined ? '' : `<p class="error" role="alert">${escapeValue(opts.error)}</p>`
  return idpPage('Sign in - Dev IdP', `<h1>Sign in</h1>
<p class="muted">to continue to <strong>${escapeValue(interaction.params.client_id)}</strong></p>
${error}
<form method="post" action="/interaction/${uid}/login" autocomplete="off">
<label for="login">Username</label>
<input type="text" id="login" name="login" value="${escapeValue(opts.login ?? interaction.params.login_hint ?? '')}" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" required>
${opts.code === true ? '<label for="code">One-time code (multi-factor authentication was requested)</label>\n<input type="text" id="code" name="code" inputmode="numeric">\n' : ''}<button type="submit" name="action" value="login">Sign in</button>
<button type="submit" name="cancel" value="cancel" formnovalidate>Cancel</button>
</form>`)
}

/** `prompt=select_account` with someone signed in: go on as them, or sign in as someone else. */
export function accountChoicePage (interaction: Interaction, current: DevUser): string {
  return idpPage('Choose an account - Dev IdP', `<h1>Choose an account</h1>
<p class="muted">to continue to <strong>${escapeValue(interaction.params.client_id)}</strong></p>
<form method="post" action="/interaction/${escapeValue(interaction.uid)}/select">
<button type="submit" name="account" value="current">Continue as ${escapeValue(current.name)}</button>
<button type="submit" name="account" value="other">Use another account</button>
</form>`)
}
