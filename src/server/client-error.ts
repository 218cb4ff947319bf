import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { ERROR_CODES, type ErrorCode } from '../errors.js'
import type { Logger } from '../log/logger.js'

/** Node's codes for requests refused before they were read, and the gateway's codes for them. */
const CODES: Readonly<Record<string, ErrorCode>> = {
  HPE_HEADER_OVERFLOW: 'GH_HEADERS_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'GH_REQUEST_TIMEOUT',
}

/**
 * Answers what the HTTP parser refuses before there is a request (headers
 * over limits.max_header_size: 431, headers or body slower than the timeouts:
 * 408, malformed framing: 400) with the gateway's own JSON error, then closes
 * the connection.
 */
export function clientErrorHandler (log: Logger) {
  return function onClientError (err: Error & { code?: string }, socket: Socket): void {
    // A reset connection has nobody left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    const code = CODES[err.code ?? ''] ?? 'GH_BAD_REQUEST'
    const { status, message } = ERROR_CODES[code]
    const requestId = randomUUID()
    log.info({ event: 'request.unreadable', reqId: requestId, err: { code: err.code }, remoteAddress: socket.remoteAddress }, 'request refused before it was read')
    // A response already under way on this connection must not be corrupted by another one.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage
    if (socket.writable && (inFlight === undefined || inFlight === null || inFlight.headersSent !== true)) {
      const body = JSON.stringify({ error: { code, message, request_id: requestId } })
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`)
    }
    socket.destroy()
  }
}
