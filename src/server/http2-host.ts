import type { IncomingHttpHeaders } from 'node:http'

interface AnyRequest { httpVersionMajor: number, headers: IncomingHttpHeaders }

/**
 * An HTTP/2 request names its host in the `:authority` pseudo-header, and
 * carries no Host header unless the client adds one (RFC 9113, 8.3.1). Every
 * step after this one (host routes, forward-auth, the upstream's Host) reads
 * `host`: it is set from `:authority`, which wins over a Host header that
 * says something else. Runs before Fastify sees the request.
 */
export function hostFromAuthority (server: { prependListener: (event: 'request', listener: (req: AnyRequest) => void) => unknown }): void {
  server.prependListener('request', (req) => {
    if (req.httpVersionMajor !== 2) return
    const authority = req.headers[':authority']
    if (typeof authority === 'string' && authority !== '') req.headers.host = authority
  })
}
