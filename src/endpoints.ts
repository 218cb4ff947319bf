/**
 * The gateway's own endpoints. Everything under GATEHOUSE_PREFIX is the
 * gateway's and is never proxied; every module that names one of these paths
 * takes it from here.
 */
export const GATEHOUSE_PREFIX = '/.gatehouse'

export const HEALTHZ_PATH = `${GATEHOUSE_PREFIX}/healthz`
export const READYZ_PATH = `${GATEHOUSE_PREFIX}/readyz`
export const JWKS_PATH = `${GATEHOUSE_PREFIX}/jwks.json`
export const LOGIN_PATH = `${GATEHOUSE_PREFIX}/login`
export const CALLBACK_PATH = `${GATEHOUSE_PREFIX}/callback`
export const LOGOUT_PATH = `${GATEHOUSE_PREFIX}/logout`
export const SIGNED_OUT_PATH = `${GATEHOUSE_PREFIX}/signed-out`
export const ME_PATH = `${GATEHOUSE_PREFIX}/me`
export const BACKCHANNEL_LOGOUT_PATH = `${GATEHOUSE_PREFIX}/backchannel-logout`
/** Where proxies ask whether a request may pass (forward-auth). */
export const FORWARD_AUTH_PATH = `${GATEHOUSE_PREFIX}/auth`

/** The gateway's sign-in endpoint, coming back to `returnTo` (a same-origin path, already checked), with `extra` query parameters. */
export function loginPath (returnTo: string, extra?: Readonly<Record<string, string>>): string {
  const more = extra === undefined ? '' : Object.entries(extra).map(([k, v]) => `&${k}=${encodeURIComponent(v)}`).join('')
  return `${LOGIN_PATH}?return=${encodeURIComponent(returnTo)}${more}`
}

/** The same, as an absolute URL under the public URL (an origin, as config gives it). */
export function loginUrl (publicUrl: string, returnTo: string, extra?: Readonly<Record<string, string>>): string {
  return `${publicUrl}${loginPath(returnTo, extra)}`
}

/** OpenID Connect Front-Channel Logout: the IdP loads this in an iframe with `iss` and `sid`. */
export const FRONTCHANNEL_LOGOUT_PATH = `${GATEHOUSE_PREFIX}/frontchannel-logout`
/** Shared Signals Framework push delivery (RFC 8935): transmitters post security event tokens here. */
export const SSF_EVENTS_PATH = `${GATEHOUSE_PREFIX}/ssf/events`
