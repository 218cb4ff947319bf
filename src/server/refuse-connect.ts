import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { ERROR_CODES } from '../errors.js'
import type { Logger } from '../log/logger.js'
import { FORWARDED_METHODS } from './route-request.js'

/**
 * CONNECT never reaches the router (Node hands it to a 'connect' listener
 * and drops the connection without one): it is answered with 405 and the
 * same JSON error as every other refusal, then the connection is closed.
 */
export function refuseConnect (server: Server, log: Logger): void {
  server.on('connect', (_request, socket: Duplex) => {
    const requestId = randomUUID()
    log.info({ reqId: requestId, reason: 'method_not_allowed', method: 'CONNECT' }, 'request refused: method')
    const body = JSON.stringify({ error: { code: 'GH_METHOD_NOT_ALLOWED', message: ERROR_CODES.GH_METHOD_NOT_ALLOWED.message, request_id: requestId } })
    socket.on('error', () => {})
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: ${FORWARDED_METHODS.join(', ')}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`)
  })
}
