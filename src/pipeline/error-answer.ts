import { loginPath, loginUrl } from '../endpoints.js'
import { GatehouseError, SigninError } from '../errors.js'
import { refusal, type RefusalAnswer } from './answer.js'

/** A thrown error as the framework hands it over: Fastify's errors carry a code and a status. */
export interface ThrownError extends Error {
  readonly code?: string
  readonly statusCode?: number
}

/** How an error is answered, and the one log line that says why. */
export interface ErrorOutcome {
  readonly answer: RefusalAnswer
  readonly log: { readonly level: 'info' | 'warn' | 'error', readonly fields: object, readonly msg: string }
}

/**
 * Maps whatever a request's handling threw to an answer: the gateway's own
 * errors keep their code and status, a failed sign-in gets its page with a
 * way to try again, a body over the limit is 413, the framework's client
 * errors are 400-class, and anything else is a 500 that says nothing of why.
 */
export function errorAnswer (error: ThrownError, publicUrl: string, maxBodySize: number): ErrorOutcome {
  if (error instanceof SigninError) {
    const fromIdp = error.code === 'GH_SIGNIN_IDP_ERROR'
    return {
      answer: refusal(error, {
        page: { kind: 'signin_failed', retryPath: loginPath(error.returnTo), idp: fromIdp ? { error: error.detail, description: error.idpDescription } : undefined },
        json: { login_url: loginUrl(publicUrl, error.returnTo), ...(fromIdp ? { idp_error: error.detail } : {}) },
      }),
      log: { level: 'warn', fields: { err: { code: error.code, detail: error.detail } }, msg: 'sign-in failed' },
    }
  }
  if (error instanceof GatehouseError) {
    return {
      answer: refusal(error),
      log: { level: error.statusCode >= 500 ? 'error' : 'warn', fields: { err: { code: error.code, detail: error.detail } }, msg: 'request refused' },
    }
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      answer: refusal(new GatehouseError('GH_BODY_TOO_LARGE', error.message)),
      log: { level: 'info', fields: { err: { code: error.code }, limit: maxBodySize }, msg: 'request body over limits.max_body_size' },
    }
  }
  const status = error.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return {
      answer: refusal(new GatehouseError('GH_BAD_REQUEST', error.message), { status }),
      log: { level: 'info', fields: { err: { code: error.code, message: error.message } }, msg: 'bad request' },
    }
  }
  return {
    answer: refusal(new GatehouseError('GH_INTERNAL', error.message)),
    log: { level: 'error', fields: { err: error }, msg: 'unexpected error' },
  }
}
