import type { AuditRequest } from '../log/audit.js'
import type { RequestLog } from '../log/request-log.js'

/**
 * What the pipeline's steps read of a request: a plain value. Fastify's
 * request has these fields, and a test can build one by hand.
 */
export interface PipelineRequest extends AuditRequest {
  readonly log: RequestLog
  readonly method: string
  /** The request target as the gateway received it, after canonicalization. */
  readonly url: string
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/**
 * True when the request is a person's browser navigating, the only case in
 * which the gateway answers with HTML or a redirect. XHR, fetch() without
 * navigation and clients asking for JSON get JSON errors.
 */
export function isNavigation (request: Pick<PipelineRequest, 'headers'>): boolean {
  const mode = request.headers['sec-fetch-mode']
  if (typeof mode === 'string') return mode === 'navigate'
  if (request.headers['x-requested-with'] !== undefined) return false
  const accept = request.headers.accept
  return typeof accept === 'string' && accept.includes('text/html')
}

/**
 * Whether the request asks to take the connection over (a WebSocket
 * handshake), as Node reads it: an `Upgrade` header and `upgrade` among the
 * `Connection` tokens. An `Upgrade` header alone is a hop-by-hop header the
 * proxy drops, and the request stays an ordinary one.
 */
export function isUpgradeHandshake (request: Pick<PipelineRequest, 'headers'>): boolean {
  const { upgrade, connection } = request.headers
  if (upgrade === undefined || connection === undefined) return false
  const tokens = Array.isArray(connection) ? connection.join(',') : connection
  return tokens.split(',').some(token => token.trim().toLowerCase() === 'upgrade')
}
