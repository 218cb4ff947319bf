import type { StepUpNeed } from '../authorize/step-up.js'
import type { GatewayConfig } from '../config/types.js'
import { claimsFromBase64, claimsToBase64 } from './step-up-claims.js'

/** A value of acr_values or an authentication context: printable, no quote, backslash or space (it goes into a header). */
export const ACR_VALUE = /^[\x21\x23-\x5b\x5d-\x7e]{1,200}$/
const AUTH_CONTEXT = /^c([1-9]|[1-9][0-9])$/
const MAX_VALUES = 10

/**
 * The authorization request parameters that ask the IdP for what a step-up
 * needs. Generic OpenID Connect: `acr_values` (the route's acr values, and
 * oidc.mfa_acr_values for mfa) and `max_age`. Entra ID: the `claims`
 * parameter with `acrs` essential for the authentication contexts (the first
 * of entra.mfa_auth_contexts stands for mfa). `prompt=login` where the
 * provider would not otherwise sign the person in again: with max_age when
 * oidc.reauth_prompt_login is set (always for Entra), and for mfa when no acr
 * value asks for it.
 */
export function stepUpParams (need: StepUpNeed, config: Pick<GatewayConfig, 'oidc' | 'entra'>): Record<string, string> {
  const params: Record<string, string> = {}
  const entra = config.entra !== undefined
  const acr = [...(need.acr ?? [])]
  const contexts = [...(need.authContexts ?? [])]
  let loginPrompt = false
  if (need.mfa === true) {
    const mfaContext = config.entra?.mfaAuthContexts[0]
    if (entra && mfaContext !== undefined) contexts.push(mfaContext)
    else if (!entra && config.oidc.mfaAcrValues.length > 0) acr.push(...config.oidc.mfaAcrValues)
    else loginPrompt = true
  }
  if (acr.length > 0) params.acr_values = [...new Set(acr)].join(' ')
  const unique = [...new Set(contexts)]
  if (unique.length > 0 || need.claims !== undefined) {
    // The application's claims request, with the authentication contexts' acrs merged into its id_token part.
    const asked = need.claims ?? {}
    const acrs = unique.length === 0 ? {} : { acrs: unique.length === 1 ? { essential: true, value: unique[0] } : { essential: true, values: unique } }
    const idToken = { ...objectOrEmpty(asked.id_token), ...acrs }
    params.claims = JSON.stringify({ ...asked, ...(Object.keys(idToken).length === 0 ? {} : { id_token: idToken }) })
  }
  if (need.maxAgeS !== undefined) {
    params.max_age = String(need.maxAgeS)
    if (entra || config.oidc.reauthPromptLogin) loginPrompt = true
  }
  if (loginPrompt) params.prompt = 'login'
  return params
}

/** The need as query parameters of the sign-in endpoint (the login_url of a 401), e.g. `mfa=1&max_age=900`. */
export function stepUpQuery (need: StepUpNeed): string {
  const query = new URLSearchParams()
  if (need.mfa === true) query.set('mfa', '1')
  for (const value of need.acr ?? []) query.append('acr', value)
  for (const context of need.authContexts ?? []) query.append('auth_context', context)
  if (need.maxAgeS !== undefined) query.set('max_age', String(need.maxAgeS))
  if (need.claims !== undefined) query.set('claims', claimsToBase64(need.claims))
  return query.toString()
}

function objectOrEmpty (value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : {}
}

/**
 * The need a sign-in link asks for, or undefined for an ordinary sign-in.
 * Anyone can write such a link; it can only make the IdP ask the same user
 * for more, so values that are not well-formed are dropped, not refused.
 */
export function stepUpFromQuery (query: Readonly<Record<string, string | string[] | undefined>>): StepUpNeed | undefined {
  const all = (name: string): string[] => {
    const value = query[name]
    return (Array.isArray(value) ? value : value === undefined ? [] : [value]).slice(0, MAX_VALUES)
  }
  const acr = all('acr').filter(v => ACR_VALUE.test(v))
  const contexts = all('auth_context').filter(v => AUTH_CONTEXT.test(v))
  const maxAge = all('max_age').map(Number).find(n => Number.isSafeInteger(n) && n >= 0)
  // The same check as an application's claims challenge: base64 of a JSON object, at most 4 KiB.
  const claims = all('claims').slice(0, 1).map(claimsFromBase64).map(r => 'claims' in r ? r.claims : undefined)[0]
  const need: StepUpNeed = {
    ...(all('mfa').includes('1') ? { mfa: true as const } : {}),
    ...(acr.length === 0 ? {} : { acr }),
    ...(contexts.length === 0 ? {} : { authContexts: contexts }),
    ...(maxAge === undefined ? {} : { maxAgeS: maxAge }),
    ...(claims === undefined ? {} : { claims }),
  }
  return Object.keys(need).length === 0 ? undefined : need
}

/**
 * Whether what the IdP sent back satisfies the need (auth_time in epoch
 * seconds, now in ms). A claims request is the application's to judge: it is
 * not checked here.
 */
export function needMet (need: StepUpNeed, signedIn: { amr: readonly string[], acr: string | undefined, acrs: readonly string[], authTime: number | undefined }, now: number, config: Pick<GatewayConfig, 'oidc' | 'entra'>): boolean {
  if (need.mfa === true && !signedIn.amr.includes('mfa') && !(signedIn.acr !== undefined && config.oidc.mfaAcrValues.includes(signedIn.acr))) return false
  if (need.acr !== undefined && (signedIn.acr === undefined || !need.acr.includes(signedIn.acr))) return false
  if (need.authContexts !== undefined && !need.authContexts.every(c => signedIn.acrs.includes(c))) return false
  if (need.maxAgeS !== undefined && (signedIn.authTime === undefined || now - signedIn.authTime * 1000 > need.maxAgeS * 1000)) return false
  return true
}
