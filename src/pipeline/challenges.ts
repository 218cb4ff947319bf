import { loginUrl } from '../endpoints.js'
import { GatehouseError } from '../errors.js'
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
 * Not signed in, asked by a proxy in front (forward-auth): 401 naming the
 * sign-in URL, or a 302 there for a browser navigation when the proxy passes
 * the answer on to the browser.
 */
export function forwardAuthChallenge (request: Pick<PipelineRequest, 'headers'>, originalMethod: string, redirect: boolean, returnTo: string, publicUrl: string): Answer {
  const url = loginUrl(publicUrl, returnTo)
  if (redirect && isNavigation(request) && (originalMethod === 'GET' || originalMethod === 'HEAD')) return { kind: 'redirect', location: url }
  return refusal(new GatehouseError('GH_UNAUTHENTICATED'), {
    headers: { location: url, 'www-authenticate': `Session realm="gatehouse", login_url="${url}"` },
    page: { kind: 'action', href: url, label: 'Sign in' },
    json: { login_url: url },
  })
}
