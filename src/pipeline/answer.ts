import type { StepUpNeed } from '../authorize/step-up.js'
import type { GatehouseError } from '../errors.js'
import type { Identity } from '../identify/identity.js'
import type { SigninConsent } from '../signin/signin-consent.js'

/** A page the gateway shows in place of the generic error page, described, not rendered. */
export type PageSpec =
  /** The access-denied page: who is signed in, why (when detailed), and how to ask or switch account. */
  | { readonly kind: 'access_denied', readonly identity: Identity | undefined, readonly route: string, readonly reason: string, readonly returnTo: string, readonly detailed: boolean }
  /** The generic error page with one button. */
  | { readonly kind: 'action', readonly href: string, readonly label: string }
  /** The sign-in-failed page: what the IdP said, and a button to try again. */
  | { readonly kind: 'signin_failed', readonly retryPath: string, readonly idp: { readonly error: string | undefined, readonly description: string | undefined } | undefined }

/**
 * How the gateway answers a request it does not forward, as a value: the
 * steps decide, and the server sends (HTML for a navigation, JSON otherwise).
 */
export type Answer =
  /**
   * Send the person to the IdP to sign in, coming back to `returnTo`; with
   * `consent`, asking for a downstream API's scopes too; with `stepUp`, the
   * signed-in user signs in again for more.
   */
  | { readonly kind: 'signin', readonly returnTo: string, readonly consent?: SigninConsent, readonly stepUp?: StepUpNeed }
  | { readonly kind: 'redirect', readonly location: string }
  | RefusalAnswer

export interface RefusalAnswer {
  readonly kind: 'error'
  readonly error: GatehouseError
  /** Overrides the error's status. */
  readonly status?: number
  readonly headers?: Readonly<Record<string, string | string[]>>
  /** Extra fields of the JSON error, for API clients. */
  readonly json?: Readonly<Record<string, unknown>>
  /** An extra sentence under the message, plain text. */
  readonly hint?: string
  readonly title?: string
  readonly page?: PageSpec
}

export function refusal (error: GatehouseError, extras: Omit<RefusalAnswer, 'kind' | 'error'> = {}): RefusalAnswer {
  return { kind: 'error', error, ...extras }
}
