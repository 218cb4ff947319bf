import { pino } from 'pino'
import { loggerOptions, type Logger } from './logger.js'

/** Security events. Each is one JSON line with `audit: true` and `event`, separable from the access log. */
export type AuditEvent =
  | 'signin.success'
  | 'signin.failure'
  | 'signout'
  | 'access.denied'
  | 'access.decision'
  | 'config.loaded'
  | 'policy.reloaded'
  | 'policy.reload_failed'
  | 'session.refreshed'
  | 'session.revoked'
  | 'session.expired'
  | 'session.step_up'
  | 'backchannel.logout'

/**
 * The fields every audit line has, `null` where they do not apply (a policy
 * reload has no user, a refused callback no route): one schema for every
 * event, so that a log pipeline can map it once.
 */
export interface AuditFields {
  /** Stable user id (the provider's `sub`). */
  user?: string | undefined
  /** The user's tenant (`tid` claim, Microsoft Entra ID), when the provider sends one. */
  tenant?: string | undefined
  /** Client address, as the gateway resolved it (trusted proxies applied). */
  ip?: string | undefined
  /** Policy route name. */
  route?: string | undefined
  reqId?: string | undefined
  traceId?: string | undefined
  /** Why: a stable reason code or short words (never a secret). */
  reason?: string | undefined
  /** Event-specific extras (email, sessions, hash, ...). */
  [key: string]: unknown
}

export interface AuditLog {
  (event: AuditEvent, fields: AuditFields): void
}

/** An audit log and what it holds open (a file). */
export interface AuditSink {
  readonly audit: AuditLog
  close (): void
}

const WARN_EVENTS: ReadonlySet<AuditEvent> = new Set(['signin.failure', 'access.denied', 'policy.reload_failed'])

/**
 * The audit log. Without a sink it writes to the main log's stream, as lines
 * marked `audit: true`; `stdout`, `stderr` or a file path send it there
 * instead (and only there). Either way it is written whatever `log.level`
 * says, with the same redaction as every other line.
 */
export function createAuditLog (log: Logger, sink?: string): AuditSink {
  const inMainLog = log.child({ audit: true }, { level: 'info' })
  let logger: Logger = inMainLog
  let close = (): void => {}
  if (sink !== undefined) {
    // Appended to, readable by the owner and the group only: audit lines name people and addresses.
    const destination = sink === 'stdout' ? pino.destination(1) : sink === 'stderr' ? pino.destination(2) : pino.destination({ dest: sink, append: true, sync: true, mode: 0o640 })
    logger = pino({ ...loggerOptions('info'), base: { service: 'gatehouse', audit: true } }, destination)
    if (sink !== 'stdout' && sink !== 'stderr') {
      close = () => {
        // A late event (after shutdown) goes to the main log rather than to a closed file.
        logger = inMainLog
        destination.end()
      }
    }
  }
  const audit: AuditLog = (event, fields) => {
    const { user, tenant, ip, route, reqId, traceId, reason, ...extra } = fields
    logger[WARN_EVENTS.has(event) ? 'warn' : 'info']({
      event,
      user: user ?? null,
      tenant: tenant ?? null,
      ip: ip ?? null,
      route: route ?? null,
      reqId: reqId ?? null,
      traceId: traceId ?? null,
      reason: reason ?? null,
      ...extra,
    }, event)
  }
  return { audit, close }
}

/**
 * The user fields of an identity: its stable id and, when the provider names
 * one, its tenant. (Only the two fields it reads: the logger sits below identify.)
 */
export function auditUser (identity: { readonly id: string, readonly claims: Readonly<Record<string, unknown>> } | undefined): { user: string | undefined, tenant: string | undefined } {
  if (identity === undefined) return { user: undefined, tenant: undefined }
  const tid = identity.claims.tid
  return { user: identity.id, tenant: typeof tid === 'string' && tid !== '' ? tid : undefined }
}

/** What a request contributes to an audit line. */
export interface AuditRequest {
  readonly id: unknown
  readonly clientIp: string | undefined
  readonly trace: { readonly traceId: string }
}

export function auditRequest (request: AuditRequest): { ip: string | undefined, reqId: string, traceId: string } {
  return { ip: request.clientIp, reqId: String(request.id), traceId: request.trace.traceId }
}
