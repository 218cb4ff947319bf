/**
 * Every error the gateway raises on purpose, in one place.
 *
 * Each code has an HTTP status and a short public message. The public message
 * is what a person or API client sees; `detail` is for the log only and may
 * name internals (never secrets). Library errors are wrapped at the boundary
 * and kept as `cause`.
 */

export const ERROR_CODES = {
  GH_CONFIG_INVALID: { status: 500, message: 'The gateway configuration is invalid.' },
  GH_BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  GH_BAD_PATH: { status: 400, message: 'The request path is not allowed.' },
  GH_REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive.' },
  GH_BODY_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  GH_HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  GH_NOT_FOUND: { status: 404, message: 'There is nothing at this address.' },
  GH_NO_ROUTE: { status: 404, message: 'No route of this gateway leads to this address.' },
  GH_METHOD_NOT_ALLOWED: { status: 405, message: 'The gateway does not forward this method.' },
  GH_UNAUTHENTICATED: { status: 401, message: 'You need to sign in to continue.' },
  GH_FORBIDDEN: { status: 403, message: 'You are not allowed to open this page.' },
  GH_STEP_UP_REQUIRED: { status: 401, message: 'This page needs you to sign in again, in a stronger or more recent way.' },
  GH_CROSS_SITE: { status: 403, message: 'This action must be started from the gateway itself.' },
  GH_FORWARD_AUTH_UNTRUSTED: { status: 403, message: 'Only a proxy this gateway trusts may ask it to check requests.' },
  GH_FORWARD_AUTH_INCOMPLETE: { status: 400, message: 'The proxy did not say which request to check.' },
  GH_FORWARD_AUTH_AMBIGUOUS: { status: 403, message: 'The request to check is described in ways that disagree or cannot be read.' },
  GH_FORWARD_AUTH_RESERVED_HEADER: { status: 403, message: 'The request carries a header under another spelling of a name reserved for the identity the gateway passes on.' },
  GH_SIGNIN_STATE_INVALID: { status: 400, message: 'This sign-in attempt is not valid. It may have expired or been started in another browser.' },
  GH_SIGNIN_STATE_REPLAYED: { status: 400, message: 'This sign-in link was already used.' },
  GH_SIGNIN_IDP_ERROR: { status: 400, message: 'The identity provider did not sign you in.' },
  GH_SIGNIN_CALLBACK_REFUSED: { status: 400, message: 'Signing in failed: what the browser brought back from the identity provider was not accepted.' },
  GH_SIGNIN_FAILED: { status: 502, message: 'Signing in failed while talking to the identity provider.' },
  GH_STEP_UP_USER_CHANGED: { status: 403, message: 'You signed in again as someone else: you have been signed out.' },
  GH_TENANT_REFUSED: { status: 403, message: 'Accounts of your organization are not accepted here.' },
  GH_GROUPS_UNAVAILABLE: { status: 503, message: 'Your group memberships could not be read from the directory. Try again in a moment.' },
  GH_LOGOUT_REQUEST_INVALID: { status: 400, message: 'This sign-out request does not name a session of this gateway\'s identity provider.' },
  GH_INVALID_TOKEN: { status: 401, message: 'The access token is not valid.' },
  GH_IDP_NOT_READY: { status: 503, message: 'Sign-in is not available yet: the identity provider has not answered.' },
  GH_SESSION_STORE_UNAVAILABLE: { status: 503, message: 'The session store is not answering. Try again in a moment.' },
  GH_TOO_MANY_WEBSOCKETS: { status: 503, message: 'Too many connections are open right now. Try again in a moment.' },
  GH_DOWNSTREAM_CONSENT_REQUIRED: { status: 401, message: 'This page needs your consent to use another service on your behalf. Sign in again to give it.' },
  GH_DOWNSTREAM_TOKEN_FAILED: { status: 502, message: 'The gateway could not get a token for a service the application uses on your behalf.' },
  GH_UPSTREAM_UNAVAILABLE: { status: 502, message: 'The application behind the gateway is not answering.' },
  GH_UPSTREAM_TIMEOUT: { status: 504, message: 'The application behind the gateway took too long to answer.' },
  GH_INTERNAL: { status: 500, message: 'Something went wrong inside the gateway.' },
} as const satisfies Record<string, { status: number; message: string }>

export type ErrorCode = keyof typeof ERROR_CODES

export type SigninErrorCode = 'GH_SIGNIN_IDP_ERROR' | 'GH_SIGNIN_CALLBACK_REFUSED' | 'GH_SIGNIN_STATE_INVALID' | 'GH_SIGNIN_STATE_REPLAYED' | 'GH_SIGNIN_FAILED' | 'GH_TENANT_REFUSED' | 'GH_GROUPS_UNAVAILABLE' | 'GH_STEP_UP_USER_CHANGED'

export class GatehouseError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  /** For the log: what exactly went wrong. Never shown to clients. */
  readonly detail: string | undefined

  constructor (code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail === undefined ? ERROR_CODES[code].message : `${ERROR_CODES[code].message} (${detail})`, options)
    this.name = 'GatehouseError'
    this.code = code
    this.statusCode = ERROR_CODES[code].status
    this.detail = detail
  }

  get publicMessage (): string {
    return ERROR_CODES[this.code].message
  }
}

/** A sign-in that went wrong, with where the person wanted to go (for "try again"). */
export class SigninError extends GatehouseError {
  readonly returnTo: string
  readonly idpDescription: string | undefined

  constructor (code: SigninErrorCode, detail: string | undefined, idpDescription: string | undefined, returnTo: string, cause?: unknown) {
    super(code, detail, { cause })
    this.returnTo = returnTo
    this.idpDescription = idpDescription
  }
}

/** One problem found while validating configuration or policy files. */
export interface Problem {
  /** Where: `file:line:col`, or the environment variable's name, or a config key. */
  where: string
  message: string
  severity: 'error' | 'warning'
}

/** Configuration (or policy) that failed validation; carries every problem found. */
export class ConfigError extends GatehouseError {
  readonly problems: readonly Problem[]

  constructor (problems: readonly Problem[]) {
    super('GH_CONFIG_INVALID', problems.filter(p => p.severity === 'error').map(p => `${p.where}: ${p.message}`).join('; '))
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export function isGatehouseError (err: unknown): err is GatehouseError {
  return err instanceof GatehouseError
}
