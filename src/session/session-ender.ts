import type { Identity } from '../identify/identity.js'
import { auditUser, type AuditFields, type AuditLog } from '../log/audit.js'
import type { GatewayMetrics } from '../metrics/gateway-metrics.js'
import { shortId, type SessionStore } from './session-store.js'

/** What ended the sessions: the audit line's `source` and the metric's label. */
export type RevocationSource = 'frontchannel' | 'directory' | 'ssf' | 'backchannel' | 'cli' | 'refresh'

/** Which sessions end: every session of a user, of an IdP session (`sid`), one session (with its user when known), of an email address, or all. */
export type SessionsToEnd =
  | { readonly user: string }
  | { readonly idpSession: string }
  | { readonly session: string, readonly identity?: Identity | undefined }
  | { readonly email: string }
  | { readonly all: true }

export interface SessionEnderDeps {
  readonly store: SessionStore
  readonly audit: AuditLog
  /** Absent in the command line, which exposes no metrics. */
  readonly metrics?: Pick<GatewayMetrics, 'sessionsRevoked'> | undefined
}

/**
 * The one way sessions end when someone else decides they must (the IdP, the
 * directory, a security event, an operator, a refused refresh): deleted from
 * the store, which tells every gateway to drop its cached copy at once, then
 * one `session.revoked` audit line naming the source and one count by source.
 * Whatever else holds on to a session (open WebSockets) follows the store.
 */
export class SessionEnder {
  readonly #deps: SessionEnderDeps

  constructor (deps: SessionEnderDeps) {
    this.#deps = deps
  }

  /** Ends the sessions; `fields` add to the audit line (reason, request, detail). Resolves to how many ended. */
  async end (which: SessionsToEnd, source: RevocationSource, fields: AuditFields = {}): Promise<number> {
    const { store, audit, metrics } = this.#deps
    let sessions: number
    let named: AuditFields
    if ('user' in which) {
      sessions = await store.revoke('user', which.user)
      named = { user: which.user, selector: 'user' }
    } else if ('idpSession' in which) {
      sessions = await store.revoke('idpSession', which.idpSession)
      named = { selector: 'idp_session', sid: which.idpSession }
    } else if ('session' in which) {
      // As by user, by what is stored, whether or not this secret can read it.
      const stored = await store.backend.get(which.session) !== undefined
      const record = stored ? await store.get(which.session, { fresh: true }) : undefined
      if (stored) await store.destroy(which.session)
      sessions = stored ? 1 : 0
      named = { ...auditUser(which.identity ?? record?.identity), selector: 'session', session: shortId(which.session) }
    } else if ('email' in which) {
      // No index by address: every session is read (security events name people by address rarely).
      const email = which.email.toLowerCase()
      const users = new Set((await store.list()).filter(s => s.record.identity?.email?.toLowerCase() === email).map(s => s.record.identity?.id as string))
      sessions = 0
      for (const user of users) sessions += await store.revoke('user', user)
      named = { selector: 'email', users: [...users] }
    } else {
      const ids = await store.backend.allIds()
      for (const id of ids) await store.destroy(id)
      sessions = ids.length
      named = { selector: 'all' }
    }
    metrics?.sessionsRevoked(source, sessions)
    audit('session.revoked', { ...named, ...fields, source, sessions })
    return sessions
  }
}
