import { GUID_PATTERN } from '../config/schema.js'
import type { AuditFields } from '../log/audit.js'
import type { SessionEnder } from '../session/session-ender.js'
import type { OidcProvider } from './oidc-provider.js'

export type FrontchannelResult =
  | { ok: true, sessions: number }
  | { ok: false, error: string }

const GUID = new RegExp(GUID_PATTERN)

/** Longer than any IdP session id; a longer value is not looked up. */
const MAX_SID_LENGTH = 512

/**
 * OpenID Connect Front-Channel Logout 1.0: the IdP loads the gateway's
 * logout URL in an iframe when a person signs out there, with the IdP
 * session's `sid` (and the issuer as `iss`). The browser sends no session
 * cookie in a third-party frame, so the `sid` decides: every gateway session
 * of that IdP session ends, on every replica. An `iss` that is given must be
 * the IdP's; some IdPs (Microsoft Entra ID) send the `sid` alone.
 */
export class FrontchannelLogout {
  readonly #oidc: OidcProvider
  readonly #ender: SessionEnder

  constructor (deps: { oidc: OidcProvider, ender: SessionEnder }) {
    this.#oidc = deps.oidc
    this.#ender = deps.ender
  }

  /** The only origin that may frame the endpoint: the IdP's (throws GH_IDP_NOT_READY before discovery). */
  frameAncestor (): string {
    return new URL(this.#oidc.keys().issuer).origin
  }

  async handle (iss: unknown, sid: unknown, at: AuditFields): Promise<FrontchannelResult> {
    if (typeof sid !== 'string' || sid === '' || sid.length > MAX_SID_LENGTH) return { ok: false, error: 'sid is missing' }
    if (iss !== undefined && !issuerMatches(this.#oidc.keys().issuer, iss)) return { ok: false, error: 'iss is not this gateway\'s identity provider' }
    const sessions = await this.#ender.end({ idpSession: sid }, 'frontchannel', { ...at, reason: 'idp_logout' })
    return { ok: true, sessions }
  }
}

/** The IdP's issuer; for Entra multi-tenant apps a `{tenantid}` template, which any tenant id fills. */
function issuerMatches (issuer: string, iss: unknown): boolean {
  if (typeof iss !== 'string') return false
  if (!issuer.includes('{tenantid}')) return iss === issuer
  const [before = '', after = ''] = issuer.split('{tenantid}')
  return iss.startsWith(before) && iss.endsWith(after) && GUID.test(iss.slice(before.length, iss.length - after.length))
}
