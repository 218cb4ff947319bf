import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { ERROR_CODES } from '../errors.js'
import type { Logger } from '../log/logger.js'
import { FORWARDED_METHODS } from './route-request.js'

/** An HTTP/2 stream's response, as Node hands a CONNECT request on an HTTP/2 connection to 'connect' listeners. */
interface StreamResponse { writeHead: (status: number, headers: Record<string, string>) => unknown, end: (body: string) => unknown }

/**
 * CONNECT never reaches the router (Node hands it to a 'connect' listener
 * and drops the connection without one): it is answered with 405 and the
 * same JSON error as every other refusal. On HTTP/1.1 the connection is then
 * closed; on HTTP/2 (the HTTPS listener) only the stream ends.
 */
export function refuseConnect (server: Server, log: Logger): void {
  server.on('connect', (_request, socket: Duplex | StreamResponse) => {
    const requestId = randomUUID()
    log.info({ reqId: requestId, reason: 'method_not_allowed', method: 'CONNECT' }, 'request refused: method')
    const body = JSON.stringify({ error: { code: 'GH_METHOD_NOT_ALLOWED', message: ERROR_CODES.GH_METHOD_NOT_ALLOWED.message, request_id: requestId } })
    if ('writeHead' in socket) {
      socket.writeHead(405, { allow: FORWARDED_METHODS.join(', '), 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId, 'cache-control': 'no-store' })
      socket.end(body)
      return
    }
    socket.on('error', () => {})
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: ${FORWARDED_METHODS.join(', ')}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`)
  })
}
