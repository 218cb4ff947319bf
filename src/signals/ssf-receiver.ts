import type { AuditFields } from '../log/audit.js'
import type { Logger } from '../log/logger.js'
import type { SessionBackend } from '../session/backend.js'
import type { SessionEnder, SessionsToEnd } from '../session/session-ender.js'
import { SET_MAX_AGE_MS, type SetErrorCode, type SetVerifier } from './set-verifier.js'

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/'
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/'

/** The events that end sessions, and whether they end only the session the subject names (when it names one). */
const ACTIONS: Readonly<Record<string, { name: string, sessionOnly: boolean }>> = {
  [`${CAEP}session-revoked`]: { name: 'caep.session-revoked', sessionOnly: true },
  [`${CAEP}credential-change`]: { name: 'caep.credential-change', sessionOnly: false },
  [`${RISC}account-disabled`]: { name: 'risc.account-disabled', sessionOnly: false },
  [`${RISC}account-purged`]: { name: 'risc.account-purged', sessionOnly: false },
  [`${RISC}sessions-revoked`]: { name: 'risc.sessions-revoked', sessionOnly: false },
}

export type SsfResult =
  | { ok: true, sessions: number }
  | { ok: false, err: SetErrorCode, description: string }

/**
 * A Shared Signals Framework receiver (push delivery, RFC 8935): a verified
 * SET whose `jti` was not seen before ends the sessions its events name, the
 * CAEP and RISC events that mean "this person's sessions must end". The
 * subject is the SET's `sub_id` (SSF 1.0) or the event's own `subject`
 * (earlier drafts): `iss_sub` of the gateway's IdP, `email`, `opaque` (an
 * IdP session id), or the complex form with `user` and `session`. Events of
 * other types, and subjects that name nobody known, are acknowledged and
 * logged: the transmitter must not retry them.
 */
export class SsfReceiver {
  readonly #verifier: SetVerifier
  readonly #backend: SessionBackend
  readonly #ender: SessionEnder
  readonly #idpIssuer: () => string | undefined
  readonly #log: Logger

  constructor (deps: { verifier: SetVerifier, backend: SessionBackend, ender: SessionEnder, idpIssuer: () => string | undefined, log: Logger }) {
    this.#verifier = deps.verifier
    this.#backend = deps.backend
    this.#ender = deps.ender
    this.#idpIssuer = deps.idpIssuer
    this.#log = deps.log.child({ module: 'ssf' })
  }

  authenticated (authorization: string | undefined): boolean {
    return this.#verifier.authenticated(authorization)
  }

  async receive (authorization: string | undefined, token: string, at: AuditFields): Promise<SsfResult> {
    const verdict = await this.#verifier.verify(authorization, token)
    if (!verdict.ok) return verdict
    const { transmitter, payload } = verdict
    const events = payload.events
    if (events === null || typeof events !== 'object' || Array.isArray(events) || Object.keys(events).length === 0) return { ok: false, err: 'invalid_request', description: 'the SET has no events' }
    if (!await this.#backend.claimOnce(`ssf-jti:${transmitter.issuer}:${payload.jti}`, SET_MAX_AGE_MS + 60_000)) return { ok: false, err: 'invalid_request', description: 'the SET was delivered before (jti seen)' }
    let sessions = 0
    for (const [type, event] of Object.entries(events as Record<string, unknown>)) {
      const action = ACTIONS[type]
      const fields = { ...at, reason: action?.name, transmitter: transmitter.issuer, jti: payload.jti }
      if (action === undefined) {
        this.#log.info({ type, transmitter: transmitter.issuer, jti: payload.jti }, 'security event of a type the gateway does not act on; acknowledged')
        continue
      }
      const subject = asObject(asObject(event)?.subject) ?? asObject(payload.sub_id)
      const which = this.#sessionsOf(subject, action.sessionOnly)
      if (which === undefined) {
        this.#log.warn({ type: action.name, transmitter: transmitter.issuer, jti: payload.jti, format: subject?.format ?? null }, 'security event names no subject the gateway knows; acknowledged, nothing ended')
        continue
      }
      sessions += await this.#ender.end(which, 'ssf', fields)
    }
    return { ok: true, sessions }
  }

  /** The sessions a subject identifier names (RFC 9493 formats), or undefined when it names none the gateway can find. */
  #sessionsOf (subject: Record<string, unknown> | undefined, sessionOnly: boolean): SessionsToEnd | undefined {
    if (subject === undefined) return undefined
    if (subject.format === 'complex' || ('user' in subject && subject.format === undefined)) {
      const session = sessionOnly ? this.#sessionsOf(asObject(subject.session), true) : undefined
      return session ?? this.#sessionsOf(asObject(subject.user), false)
    }
    switch (subject.format) {
      case 'iss_sub':
        return typeof subject.sub === 'string' && subject.sub !== '' && subject.iss === this.#idpIssuer() ? { user: subject.sub } : undefined
      case 'email':
        return typeof subject.email === 'string' && subject.email.includes('@') ? { email: subject.email } : undefined
      case 'opaque':
        return typeof subject.id === 'string' && subject.id !== '' ? { idpSession: subject.id } : undefined
      default:
        return undefined
    }
  }
}

function asObject (value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}
