import type { Logger } from './logger.js'

/** Security events. Each is one JSON log line with `audit: true` and `event`, separable from the access log. */
export type AuditEvent =
  | 'signin.success'
  | 'signin.failure'
  | 'signout'
  | 'access.denied'
  | 'config.loaded'
  | 'policy.reloaded'
  | 'session.refreshed'
  | 'session.revoked'
  | 'session.expired'
  | 'backchannel.logout'
  | 'policy.reload_failed'

export interface AuditFields {
  user?: string | undefined
  email?: string | undefined
  ip?: string | undefined
  reqId?: string | undefined
  route?: string | undefined
  reason?: string | undefined
  [key: string]: unknown
}

export interface AuditLog {
  (event: AuditEvent, fields: AuditFields): void
}

export function createAuditLog (log: Logger): AuditLog {
  const child = log.child({ audit: true })
  return (event, fields) => {
    const level = event === 'signin.failure' || event === 'access.denied' || event === 'policy.reload_failed' ? 'warn' : 'info'
    child[level]({ event, ...fields }, event)
  }
}
