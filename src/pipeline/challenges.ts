import { describeNeed, type StepUpNeed } from '../authorize/step-up.js'
import type { GatewayConfig } from '../config/types.js'
import { loginUrl } from '../endpoints.js'
import { GatehouseError } from '../errors.js'
import { stepUpParams, stepUpQuery } from '../signin/step-up-params.js'
import { refusal, type Answer } from './answer.js'
import { isNavigation, type PipelineRequest } from './request.js'

const BEARER_REALM = 'Bearer realm="gatehouse"'

/**
 * Not signed in, on a route that takes a session: a browser navigation goes
 * to the IdP; anything else gets 401 JSON with the sign-in URL (and, where
 * the route takes bearer tokens too, both challenges).
 */
export function signinChallenge (request: Pick<PipelineRequest, 'method' | 'headers'>, returnTo: string, publicUrl: string, bearerToo: boolean): Answer {
  if (isNavigation(request) && (request.method === 'GET' || request.method === 'HEAD')) return { kind: 'signin', returnTo }
  const url = loginUrl(publicUrl, returnTo)
  const session = `Session realm="gatehouse", login_url="${url}"`
  return refusal(new GatehouseError('GH_UNAUTHENTICATED'), {
    headers: { 'www-authenticate': bearerToo ? [BEARER_REALM, session] : session },
    json: { login_url: url },
  })
}

/** 401 for an API caller (RFC 6750): no token, or one that is not valid. */
export function bearerChallenge (invalid: GatehouseError | undefined): Answer {
  const challenge = invalid === undefined ? BEARER_REALM : `${BEARER_REALM}, error="invalid_token", error_description="The access token is not valid"`
  return refusal(invalid ?? new GatehouseError('GH_UNAUTHENTICATED', 'a bearer token is required'), { headers: { 'www-authenticate': challenge }, json: {} })
}

/**
 * Not signed in, or not the way the route asks (a step-up), asked by a proxy
 * in front (forward-auth): 401 naming the sign-in URL, or a 302 there for a browser navigation when the proxy passes
 * the answer on to the browser.
 */
export function forwardAuthChallenge (request: Pick<PipelineRequest, 'headers'>, originalMethod: string, redirect: boolean, returnTo: string, publicUrl: string, stepUp?: StepUpNeed): Answer {
  const url = stepUp === undefined ? loginUrl(publicUrl, returnTo) : `${loginUrl(publicUrl, returnTo)}&${stepUpQuery(stepUp)}`
  if (redirect && isNavigation(request) && (originalMethod === 'GET' || originalMethod === 'HEAD')) return { kind: 'redirect', location: url }
  return refusal(new GatehouseError(stepUp === undefined ? 'GH_UNAUTHENTICATED' : 'GH_STEP_UP_REQUIRED'), {
    headers: { location: url, 'www-authenticate': `Session realm="gatehouse", login_url="${url}"` },
    page: { kind: 'action', href: url, label: 'Sign in' },
    json: { login_url: url },
  })
}

/**
 * Signed in, but not the way the route asks: a browser navigation goes back
 * to the IdP (the session kept); anything else gets 401 GH_STEP_UP_REQUIRED
 * with what is required and a `login_url` that performs the step-up.
 */
export function stepUpChallenge (request: Pick<PipelineRequest, 'method' | 'headers'>, need: StepUpNeed, returnTo: string, publicUrl: string): Answer {
  if (isNavigation(request) && (request.method === 'GET' || request.method === 'HEAD')) return { kind: 'signin', returnTo, stepUp: need }
  const url = `${loginUrl(publicUrl, returnTo)}&${stepUpQuery(need)}`
  return refusal(new GatehouseError('GH_STEP_UP_REQUIRED', describeNeed(need)), {
    headers: { 'www-authenticate': `Session realm="gatehouse", error="insufficient_user_authentication", login_url="${url}"` },
    json: { login_url: url, required: requiredFields(need) },
  })
}

/**
 * A bearer token whose sign-in is not the kind the route asks for: 401 with
 * the RFC 9470 challenge, naming the acr values (the route's, the provider's
 * values for MFA, or Entra authentication contexts) and/or max_age the client
 * should ask its next token for.
 */
export function bearerStepUpChallenge (need: StepUpNeed, config: Pick<GatewayConfig, 'oidc' | 'entra'>): Answer {
  const params = stepUpParams(need, config)
  const acr = [...(params.acr_values?.split(' ') ?? []), ...(need.authContexts ?? []), ...(need.mfa === true && config.entra !== undefined ? config.entra.mfaAuthContexts.slice(0, 1) : [])]
  const parts = [BEARER_REALM, 'error="insufficient_user_authentication"', `error_description="A different authentication level is required: ${describeNeed(need)}"`]
  if (acr.length > 0) parts.push(`acr_values="${[...new Set(acr)].join(' ')}"`)
  if (need.maxAgeS !== undefined) parts.push(`max_age=${need.maxAgeS}`)
  return refusal(new GatehouseError('GH_STEP_UP_REQUIRED', describeNeed(need)), {
    headers: { 'www-authenticate': parts.join(', ') },
    json: { required: requiredFields(need) },
  })
}

function requiredFields (need: StepUpNeed): Record<string, unknown> {
  return {
    ...(need.mfa === true ? { mfa: true } : {}),
    ...(need.acr === undefined ? {} : { acr: need.acr }),
    ...(need.authContexts === undefined ? {} : { auth_context: need.authContexts }),
    ...(need.maxAgeS === undefined ? {} : { max_age: need.maxAgeS }),
    ...(need.claims === undefined ? {} : { claims: need.claims }),
  }
}
