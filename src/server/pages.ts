import type { Identity } from '../identify/identity.js'
import { escapeHtml } from './html.js'
import { LOGOUT_PATH, loginPath } from '../endpoints.js'

/** Page bodies (trusted HTML; every value escaped here). */

function who (identity: Identity): string {
  const name = identity.name ?? identity.email ?? identity.id
  const email = identity.email !== undefined && identity.email !== name ? ` (${identity.email})` : ''
  return `${escapeHtml(name)}${escapeHtml(email)}`
}

export function signOutForm (label = 'Sign out', secondary = false): string {
  return `<form method="post" action="${LOGOUT_PATH}"><button type="submit"${secondary ? ' class="secondary"' : ''}>${escapeHtml(label)}</button></form>`
}

export function switchAccountLink (returnTo: string): string {
  return `<a class="button secondary" href="${loginPath(returnTo)}&amp;prompt=select_account">Sign in as someone else</a>`
}

export interface DenialView {
  identity: Identity | undefined
  route: string
  /** Words for a person: "requires group admins". */
  reason: string
  requestId: string
  returnTo: string
  detailed: boolean
}

export function accessDeniedBody (v: DenialView): string {
  const signedInAs = v.identity === undefined
    ? '<p>You are not signed in.</p>'
    : `<p>You are signed in as <strong>${who(v.identity)}</strong>.</p>`
  const why = v.detailed
    ? `<p>This page (<code>${escapeHtml(v.route)}</code>) ${escapeHtml(v.reason)}.</p>`
    : '<p>You do not have access to this page.</p>'
  return `<h1>Access denied</h1>
${signedInAs}
${why}
<p>If you think you should have access, ask for it and quote request <code class="id">${escapeHtml(v.requestId)}</code>.</p>
<div class="actions">${switchAccountLink(v.returnTo)}${v.identity === undefined ? '' : signOutForm('Sign out', true)}</div>`
}

/** Plain words for the errors an IdP returns to the callback. */
export function idpErrorWords (error: string | undefined, description: string | undefined): string {
  if (description !== undefined && /AADSTS50105/.test(description)) return 'Your account is not assigned to this application. Ask an administrator to give you access.'
  switch (error) {
    case 'access_denied': return 'The sign-in was cancelled, or the identity provider did not allow it.'
    case 'consent_required': return 'The identity provider needs your consent for this application first.'
    case 'interaction_required':
    case 'login_required': return 'The identity provider needs you to sign in again.'
    case 'temporarily_unavailable':
    case 'server_error': return 'The identity provider had a problem. Try again in a moment.'
    default: return 'It answered with an error instead.'
  }
}

export interface MeView {
  identity: Identity
  createdAt: number | undefined
  /** The maximum lifetime's end. */
  expiresAt: number | undefined
  idleMinutes: number
  routes: Array<{ name: string, match: string }>
}

export function meBody (v: MeView): string {
  const list = (items: readonly string[]): string => items.length === 0 ? '<span class="muted">none</span>' : `<ul>${items.map(i => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`
  const time = (ms: number | undefined): string => ms === undefined ? '-' : `<time datetime="${new Date(ms).toISOString()}">${escapeHtml(new Date(ms).toUTCString())}</time>`
  return `<h1>Who am I</h1>
<dl>
<dt>Name</dt><dd>${escapeHtml(v.identity.name ?? '-')}</dd>
<dt>Email</dt><dd>${escapeHtml(v.identity.email ?? '-')}</dd>
<dt>User id</dt><dd><code>${escapeHtml(v.identity.id)}</code></dd>
<dt>Groups</dt><dd>${list(v.identity.groups)}</dd>
<dt>App roles</dt><dd>${list(v.identity.roles)}</dd>
<dt>Signed in</dt><dd>${time(v.createdAt)}</dd>
<dt>Session ends</dt><dd>after ${v.idleMinutes} minutes unused, and at the latest ${time(v.expiresAt)}</dd>
</dl>
<h2>What you may open</h2>
${v.routes.length === 0 ? '<p class="muted">No route of this gateway lets you in.</p>' : `<ul>${v.routes.map(r => `<li><code>${escapeHtml(r.match)}</code> <span class="muted">(${escapeHtml(r.name)})</span></li>`).join('')}</ul>`}
<div class="actions"><a class="button secondary" href="/">Home</a>${signOutForm()}</div>`
}
