import { loginUrl } from '../endpoints.js'
import { GatehouseError } from '../errors.js'
import type { Route } from '../policy/types.js'
import type { DownstreamTokens } from '../signin/downstream-tokens.js'
import { consentQuery, type SigninConsent } from '../signin/signin-consent.js'
import { refusal, type Answer } from './answer.js'
import type { Caller } from './caller.js'
import { signinChallenge, bearerChallenge } from './challenges.js'
import { isNavigation, type PipelineRequest } from './request.js'

/** The header and token a route's `downstream_token` sends upstream. */
export interface DownstreamHeader {
  readonly header: string
  readonly token: string
}

export type DownstreamStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'token', readonly value: DownstreamHeader }
  /** The request is answered instead: it never reaches the upstream without the token it was promised. */
  | { readonly kind: 'answer', readonly answer: Answer }

const NONE: DownstreamStep = Object.freeze({ kind: 'none' })

/**
 * A session signed in this recently, asking for the scopes the IdP still
 * wants consent for, is not sent to sign in again: the consent did not take
 * (an IdP that signs in without asking would otherwise loop). The person
 * gets a page with a link to try once more.
 */
const CONSENT_RETRY_MS = 5 * 60_000

/**
 * The token for another API that an allowed request's route asks for
 * (`downstream_token`), as its caller: the session's, or one exchanged for a
 * bearer caller's token. When the IdP wants consent or interaction, a
 * navigation signs in again asking for the API's scopes (incremental
 * consent) and comes back; other session requests get 401 with a
 * `login_url` that does the same, and a bearer caller gets 401 naming the
 * scopes. Any other failure is 502 GH_DOWNSTREAM_TOKEN_FAILED.
 */
export async function downstreamToken (request: PipelineRequest, route: Route, caller: Caller, returnTo: string, publicUrl: string, tokens: DownstreamTokens, now: number): Promise<DownstreamStep> {
  const want = route.downstreamToken
  if (want === undefined) return NONE
  const bearerToo = route.credentials.bearer
  let outcome
  if (caller.kind === 'bearer') outcome = await tokens.forBearer(request.log, caller.token, want)
  else if (caller.kind === 'session' && caller.session !== undefined && caller.identity !== undefined) outcome = await tokens.forSession(request.log, caller.session, want)
  else {
    // Let in without a user (an anonymous entry): there is nobody to get a token as.
    return { kind: 'answer', answer: route.credentials.session ? signinChallenge(request, returnTo, publicUrl, bearerToo) : bearerChallenge(undefined) }
  }
  switch (outcome.kind) {
    case 'token': return { kind: 'token', value: { header: want.header, token: outcome.token } }
    case 'failed': return { kind: 'answer', answer: refusal(new GatehouseError('GH_DOWNSTREAM_TOKEN_FAILED', `${outcome.reason}: ${outcome.detail}`), { json: { reason: outcome.reason } }) }
    case 'consent': {
      const consent: SigninConsent = { scopes: want.scopes, resource: want.resource, claims: outcome.claims }
      if (caller.kind === 'bearer') return { kind: 'answer', answer: bearerConsentAnswer(consent, outcome.detail) }
      const record = caller.kind === 'session' ? caller.session?.record : undefined
      const justAsked = record?.consented !== undefined && want.scopes.every(s => record.consented?.includes(s) === true) && now - (record.createdAt ?? 0) < CONSENT_RETRY_MS
      return { kind: 'answer', answer: sessionConsentAnswer(request, returnTo, publicUrl, consent, justAsked ? `${outcome.detail}, again right after a sign-in that asked for it` : outcome.detail, !justAsked) }
    }
  }
}

function sessionConsentAnswer (request: PipelineRequest, returnTo: string, publicUrl: string, consent: SigninConsent, detail: string, redirect: boolean): Answer {
  if (redirect && isNavigation(request) && (request.method === 'GET' || request.method === 'HEAD')) return { kind: 'signin', returnTo, consent }
  const url = loginUrl(publicUrl, returnTo, consentQuery(consent))
  return refusal(new GatehouseError('GH_DOWNSTREAM_CONSENT_REQUIRED', detail), {
    headers: { 'www-authenticate': `Session realm="gatehouse", login_url="${url}"` },
    json: { login_url: url, scopes: consent.scopes },
    page: { kind: 'action', href: url, label: 'Sign in and consent' },
  })
}

/** A bearer caller's client must get the user's consent itself (RFC 6750 insufficient_scope; the IdP's claims challenge passed on). */
function bearerConsentAnswer (consent: SigninConsent, detail: string): Answer {
  const claims = consent.claims === undefined ? '' : `, claims="${Buffer.from(consent.claims).toString('base64')}"`
  return refusal(new GatehouseError('GH_DOWNSTREAM_CONSENT_REQUIRED', detail), {
    headers: { 'www-authenticate': `Bearer realm="gatehouse", error="insufficient_scope", error_description="consent for a downstream API is required", scope="${consent.scopes.join(' ')}"${claims}` },
    json: { scopes: consent.scopes },
  })
}
